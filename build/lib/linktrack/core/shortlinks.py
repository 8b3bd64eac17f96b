"""Short link codes for SMS and WhatsApp: `https://<short-domain>/lnk.<code>`.

Pure: which codes may be handed out and what the short URL looks like. The
store (`service/shortlinks.py`) keeps code → tracked path and lengthens a code
that collides.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Final

from linktrack.core.settings import TrackingSettings

CODE_LENGTH: Final = 10
LIFETIME_SECONDS: Final = 90 * 86400
PREFIX: Final = "/lnk."
# Digits and letters without the look-alikes 0/O/o and 1/l/I: a code read off a
# phone screen and typed back in still works.
ALPHABET: Final = "23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
# A default short URL (`https://` + domain + `/lnk.` + 10 characters) fits in
# this many characters when the short domain has at most 13.
MAX_DEFAULT_LENGTH: Final = 36
MAX_CODE_LENGTH: Final = 32  # collisions lengthen a code one character at a time, up to this

# Checked as case-insensitive substrings, also after reading digits as the
# letters they stand for (`a55` is `ass`). Short on purpose: each word removes
# a few codes from a space of 56**10.
OFFENSIVE: Final = frozenset(
    {
        "anal", "anus", "arse", "ass", "bitch", "boob", "butt", "cock", "coon", "crap",
        "cum", "cunt", "damn", "dick", "dildo", "dyke", "fag", "fuck", "gook", "hell",
        "homo", "jizz", "kike", "kill", "kkk", "nazi", "nigg", "penis", "piss", "poop",
        "porn", "prick", "puss", "rape", "scum", "sex", "shit", "slut", "spic", "tit",
        "twat", "vagina", "wank", "whore",
    }
)  # fmt: skip
_LEET: Final = str.maketrans("2345678", "zeasgtb")


def is_clean(code: str) -> bool:
    """True when no offensive word hides in `code`, in any case or spelled with digits."""
    lower = code.lower()
    readings = {lower, lower.translate(_LEET)}
    return not any(word in reading for reading in readings for word in OFFENSIVE)


def new_code(length: int = CODE_LENGTH, choice: Callable[[str], str] = secrets.choice) -> str:
    """A random, clean code of `length` characters from ALPHABET."""
    while True:
        code = "".join(choice(ALPHABET) for _ in range(length))
        if is_clean(code):
            return code


def is_code(text: str) -> bool:
    """Could `text` be a code we handed out (cheap check before a store lookup)?"""
    return CODE_LENGTH <= len(text) <= MAX_CODE_LENGTH and all(ch in ALPHABET for ch in text)


def base_url(settings: TrackingSettings) -> str:
    """`https://short-domain` (the tracking domain when no short domain is set)."""
    scheme = "https" if settings.tracking_https else "http"
    domain = (settings.short_domain or settings.tracking_domain).strip().rstrip("/")
    return f"{scheme}://{domain}"


def short_url(settings: TrackingSettings, code: str) -> str:
    """The URL that replaces a tracked link in an SMS or WhatsApp message."""
    return f"{base_url(settings)}{PREFIX}{code}"


def default_length(settings: TrackingSettings) -> int:
    """Length of a short URL with a default (10-character) code on this workspace."""
    return len(base_url(settings)) + len(PREFIX) + CODE_LENGTH
