"""Signed, stateless tracking tokens: `/e/c/{payload}/{signature}` and `/e/o/...`.

The payload is unpadded base64url JSON; the signature is the hex HMAC-SHA256 of
the payload text under the key named inside it. A redirect needs nothing but
the keys held in memory.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))
_SIG_LEN = 64
MAX_TOKEN_CHARS = 8192
# Only these destinations are ever redirected to (cio_link may sign mailto:/tel:/sms:).
_REDIRECTABLE = ("https://", "http://", "mailto:", "tel:", "sms:")


class TokenError(ValueError):
    """A tracking URL that is not one we signed (tampered, truncated, unknown key)."""


class UnknownKeyError(TokenError):
    """Well-formed, but signed with a key this ring does not hold (new, or retired)."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One HMAC key; `kid` travels in the payload so rotation needs no lookup table."""

    kid: str
    secret: bytes
    retired: bool = False


class _Mac:
    """HMAC-SHA256 with the padded-key hash states computed once, not per link."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, secret: bytes) -> None:
        if len(secret) > 64:
            secret = hashlib.sha256(secret).digest()
        secret = secret.ljust(64, b"\0")
        self._inner = hashlib.sha256(secret.translate(_IPAD))
        self._outer = hashlib.sha256(secret.translate(_OPAD))

    def hexdigest(self, message: bytes) -> str:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


class ClickToken(NamedTuple):
    """What a verified click URL says: which delivery, where to go, which link.

    A NamedTuple, not a frozen dataclass: built on every click, and a frozen
    dataclass's __init__ costs 2.5x as much.
    """

    kid: str
    delivery_id: str
    href: str
    link_id: int
    position: int


class OpenToken(NamedTuple):
    """What a verified open-pixel URL says."""

    kid: str
    delivery_id: str


_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")
_PAD = (b"", b"  ", b" ")  # by len % 3: JSON whitespace that avoids base64 "=" padding


def _b64encode(raw: bytes) -> bytes:
    return binascii.b2a_base64(raw, newline=False).translate(_URLSAFE).rstrip(b"=")


def _b64decode(text: str) -> bytes:
    return _b64decode_ascii(_ascii(text))


def _ascii(text: str) -> bytes:
    try:
        return text.encode("ascii")
    except UnicodeEncodeError as exc:
        raise TokenError("payload is not base64url") from exc


def _b64decode_ascii(raw: bytes) -> bytes:
    # binascii directly: base64.urlsafe_b64decode costs ~4x as much on the click path.
    try:
        return binascii.a2b_base64(raw.translate(_FROM_URLSAFE) + b"==="[: -len(raw) % 4])
    except binascii.Error as exc:
        raise TokenError("payload is not base64url") from exc


class KeyRing:
    """Keys of one or many workspaces: sign with the newest, verify with any live one."""

    def __init__(self, keys: Iterable[SigningKey] = ()) -> None:
        self._macs: dict[str, _Mac] = {}
        self._newest: SigningKey | None = None
        for key in keys:
            self.add(key)

    def add(self, key: SigningKey) -> None:
        """Add a key; the last added live key signs new links."""
        if key.retired:
            self._macs.pop(key.kid, None)
            return
        self._macs[key.kid] = _Mac(key.secret)
        self._newest = key

    def retire(self, kid: str) -> None:
        """Stop verifying links signed with `kid`."""
        self._macs.pop(kid, None)
        if self._newest is not None and self._newest.kid == kid:
            self._newest = None

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(self._macs)

    def signer(self, kid: str | None = None) -> Signer:
        """A signer bound to `kid` (default: the newest key)."""
        if kid is None:
            if self._newest is None:
                raise TokenError("no live signing key")
            kid = self._newest.kid
        mac = self._macs.get(kid)
        if mac is None:
            raise TokenError(f"unknown or retired signing key {kid!r}")
        return Signer(kid, mac)

    def _verify(self, payload: str, signature: str) -> dict[str, Any]:
        if len(payload) > MAX_TOKEN_CHARS:
            raise TokenError("token too long")
        # isascii, not a hex-digit set test: compare_digest needs ASCII, and a
        # signature with any non-hex character simply does not match.
        if len(signature) != _SIG_LEN or not signature.isascii():
            raise TokenError("signature is not 64 lowercase hex characters")
        raw = _ascii(payload)
        try:
            data = orjson.loads(_b64decode_ascii(raw))
        except orjson.JSONDecodeError as exc:
            raise TokenError("payload is not UTF-8 JSON") from exc
        if not isinstance(data, dict):
            raise TokenError("payload is not a JSON object")
        kid = data.get("k")
        mac = self._macs.get(kid) if isinstance(kid, str) else None
        if mac is None:
            raise UnknownKeyError("unknown or retired signing key")
        if not hmac.compare_digest(mac.hexdigest(raw), signature):
            raise TokenError("signature does not match")
        return data

    def verify_click(self, payload: str, signature: str) -> ClickToken:
        """Check a click token; raise TokenError unless it is ours and intact."""
        data = self._verify(payload, signature)
        delivery, href, link, position = data.get("d"), data.get("h"), data.get("l"), data.get("p")
        if not (
            isinstance(delivery, str)
            and isinstance(href, str)
            and type(link) is int
            and type(position) is int
        ):
            raise TokenError("payload is not a click token")
        if not href.lower().startswith(_REDIRECTABLE):
            raise TokenError("destination is not a web, mailto, tel or sms link")
        return ClickToken(data["k"], delivery, href, link, position)

    def verify_open(self, payload: str, signature: str) -> OpenToken:
        """Check an open token; raise TokenError unless it is ours and intact."""
        data = self._verify(payload, signature)
        delivery = data.get("d")
        if not isinstance(delivery, str) or data.get("o") != 1:
            raise TokenError("payload is not an open token")
        return OpenToken(data["k"], delivery)


class Signer:
    """Builds signed click/open paths with one key."""

    __slots__ = ("_mac", "kid")

    def __init__(self, kid: str, mac: _Mac) -> None:
        self.kid = kid
        self._mac = mac

    def _path(self, kind: str, data: dict[str, Any]) -> str:
        payload = _b64encode(orjson.dumps(data))
        return f"/e/{kind}/{payload.decode('ascii')}/{self._mac.hexdigest(payload)}"

    def click_path(self, delivery_id: str, href: str, link_id: int, position: int) -> str:
        """`/e/c/{payload}/{signature}` for one link of one delivery."""
        return self.for_delivery(delivery_id).click_path(href, link_id, position)

    def for_delivery(self, delivery_id: str, base_url: str = "") -> DeliverySigner:
        """A signer for the many links of one delivery; its URLs start with `base_url`."""
        return DeliverySigner(self.kid, self._mac, delivery_id, base_url)

    def open_path(self, delivery_id: str) -> str:
        """`/e/o/{payload}/{signature}` for a delivery's open pixel."""
        return self._path("o", {"k": self.kid, "d": delivery_id, "o": 1})


class DeliverySigner:
    """Signs the links of one delivery, sharing the work common to all of them.

    The payload JSON starts with the key id and delivery id, padded with JSON
    whitespace to a multiple of 3 bytes so its base64 is a fixed prefix; the
    HMAC state after that prefix is computed once, not once per link.
    """

    __slots__ = ("_inner", "_outer", "_prefix")

    def __init__(self, kid: str, mac: _Mac, delivery_id: str, base_url: str = "") -> None:
        head = b'{"k":' + orjson.dumps(kid) + b',"d":' + orjson.dumps(delivery_id) + b","
        head += b" " * (-len(head) % 3)
        prefix = _b64encode(head)
        self._inner = mac._inner.copy()
        self._inner.update(prefix)
        self._outer = mac._outer
        self._prefix = f"{base_url}/e/c/{prefix.decode('ascii')}"

    def click_path(self, href: str, link_id: int, position: int) -> str:
        """`/e/c/{payload}/{signature}` for one link."""
        return self.sign_rest(b'"h":%b,"l":%d,"p":%d}' % (orjson.dumps(href), link_id, position))

    def sign_rest(self, rest: bytes) -> str:
        """Sign the payload whose JSON continues with `rest` (`"h":…,"l":…,"p":…}`).

        Runs once per link per recipient: kept tight. Trailing JSON whitespace
        makes the length a multiple of 3, so the base64 needs no padding strip.
        """
        tail = binascii.b2a_base64(rest + _PAD[len(rest) % 3], newline=False).translate(_URLSAFE)
        inner = self._inner.copy()
        inner.update(tail)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return f"{self._prefix}{tail.decode('ascii')}/{outer.hexdigest()}"


def split_path(path: str) -> tuple[str, str, str]:
    """`/e/c/P/S` → ("c", P, S); raise TokenError for anything else."""
    parts = path.split("/")
    if len(parts) != 5 or parts[0] != "" or parts[1] != "e" or parts[2] not in ("c", "o"):
        raise TokenError("not a tracking path")
    return parts[2], parts[3], parts[4]
