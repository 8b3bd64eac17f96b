"""Machine-click verdicts: is this click (or open) a scanner, a previewer or a person?

Pure: the writer gathers the signals (timing, bursts) and this module judges.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network
from typing import Final

from crawlerdetect import CrawlerDetect

# Seconds after delivery under which a click is too fast for a person: mail
# security gateways follow every link while the message is still in transit.
# People click a magic-login or reset link within seconds of the send, so the
# bound is short (2 s, as peers use; 10 s made all of those machine in
# benchmarks/bot_eval.py); later scanners are told by other signals.
TOO_FAST_SECONDS: Final = 2.0
# A delivery hitting most of its links (BURST_SHARE of them, and at least
# BURST_LINKS) within BURST_WINDOW_SECONDS is a scanner walking the message. A
# person opening three or four links into tabs in a second is not, when the
# message holds more (a newsletter): what tells them apart is the share.
BURST_LINKS: Final = 3
BURST_SHARE: Final = 0.8
BURST_WINDOW_SECONDS: Final = 2.0

# User-agent markers of link scanners and previewers that crawlerdetect 0.4
# does not flag (checked: it already catches Slackbot-LinkExpanding,
# "Microsoft Office/…", "Barracuda Sentinel", TeamsBot, SkypeUriPreview,
# BingPreview, Google-Safety with its bot URL, most HTTP client libraries).
_SCANNER_MARKERS: Final = (
    "mimecast",
    "proofpoint",
    "barracuda",
    "google-safety",
    "ms-office",
    "msoffice",
    "safelinks",
    "existence discovery",
    "phishtank",
    "urldefense",
)

# Image proxies fetch the open pixel when a person opens the message (Gmail,
# Yahoo): for opens they stand for a human, although they are crawlers.
_HUMAN_OPEN_PROXIES: Final = ("googleimageproxy", "yahoomailproxy")

# Link previewers: a chat or social app fetching a link someone pasted, for its
# card. Named apart from other bots (`previewer`): the person who shared the link
# may well have clicked it too. Each is the vendor's documented user agent.
_PREVIEWER_MARKERS: Final = (
    "slackbot-linkexpanding",  # Slack ("robots")
    "slack-imgproxy",
    "teamsbot",  # Microsoft Teams
    "skypeuripreview",  # Skype
    "whatsapp",  # WhatsApp, and Signal's previews
    "facebookexternalhit",  # Facebook, Messenger, iMessage (with Twitterbot)
    "facebot",
    "twitterbot",
    "telegrambot",  # Telegram
    "discordbot",  # Discord
    "linkedinbot",  # LinkedIn
    "google-safety",  # Google Safe Browsing
)


IPNetwork = IPv4Network | IPv6Network


class ScannerNetworks:
    """Published mail-scanner networks, as an operator keeps them: data, not code
    (`parse` reads the file format of `linktrack/data/scanner_networks.txt`)."""

    def __init__(self, networks: Iterable[IPNetwork] = ()) -> None:
        self.networks = tuple(networks)
        self.contains = lru_cache(maxsize=4096)(self._contains)

    @classmethod
    def parse(cls, text: str, source: str = "<text>") -> ScannerNetworks:
        """One CIDR a line, `#` comments; a line that is no network is a ValueError
        naming `source` and the line."""
        found = []
        for number, line in enumerate(text.splitlines(), 1):
            cidr = line.split("#", 1)[0].strip()
            if not cidr:
                continue
            try:
                found.append(ipaddress.ip_network(cidr, strict=False))
            except ValueError:
                raise ValueError(f"{source} line {number}: {cidr!r} is not a network") from None
        return cls(found)

    def _contains(self, ip: str) -> bool:
        try:
            addr = ipaddress.ip_address(ip.strip())
        except ValueError:
            return False
        return any(addr in net for net in self.networks if net.version == addr.version)

    def __len__(self) -> int:
        return len(self.networks)


_detector = CrawlerDetect()


@lru_cache(maxsize=8192)
def user_agent_kind(user_agent: str) -> str | None:
    """ "previewer", "bot_user_agent" (a crawler, scanner or HTTP library), or None for a
    browser or mail app (cached)."""
    ua = user_agent.strip()
    if not ua:
        return "bot_user_agent"  # every browser and mail app sends one; scripts often do not
    low = ua.lower()
    if any(marker in low for marker in _PREVIEWER_MARKERS):
        return "previewer"
    if any(marker in low for marker in _SCANNER_MARKERS):
        return "bot_user_agent"
    return "bot_user_agent" if _detector.isCrawler(ua) else None


def is_bot_user_agent(user_agent: str) -> bool:
    """True for a crawler, scanner, previewer or HTTP library user agent."""
    return user_agent_kind(user_agent) is not None


def verdict(
    ua: str,
    method: str,
    ip: str | None,
    seconds_since_delivery: float | None,
    burst_links_in_window: int,
    *,
    is_open: bool = False,
    links_in_delivery: int | None = None,
    networks: ScannerNetworks | None = None,
) -> tuple[bool, list[str]]:
    """(machine?, reasons) for one click, or one open with `is_open` (`links_in_delivery`:
    how many links the delivery holds, None when not recorded; `networks`: the published
    scanner networks in force)."""
    reasons: list[str] = []
    kind = user_agent_kind(ua)
    if kind is not None and not (is_open and any(p in ua.lower() for p in _HUMAN_OPEN_PROXIES)):
        reasons.append(kind)
    if method.upper() == "HEAD":
        reasons.append("head_request")
    if seconds_since_delivery is not None and seconds_since_delivery < TOO_FAST_SECONDS:
        reasons.append("too_fast")
    if burst_links_in_window >= _burst_threshold(links_in_delivery):
        reasons.append("burst")
    if ip and networks is not None and networks.contains(ip):
        reasons.append("scanner_network")
    return bool(reasons), reasons


def _burst_threshold(links: int | None) -> int:
    """Distinct links in a burst window that make a burst: most of the delivery's."""
    if not links:
        return BURST_LINKS
    return max(BURST_LINKS, math.ceil(BURST_SHARE * links))
