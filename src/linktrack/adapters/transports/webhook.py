"""SMS, WhatsApp and push out to a provider webhook: a signed HTTP POST of JSON.

The receiver checks `x-linktrack-signature` = hex HMAC-SHA256 over
`v0:<x-linktrack-timestamp>:<raw body>` with the shared secret, and should
refuse timestamps more than a few minutes old (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson

from linktrack.adapters.transports.base import TransportError

SIGNATURE_HEADER = "x-linktrack-signature"
TIMESTAMP_HEADER = "x-linktrack-timestamp"
# A provider that is busy or rate-limiting says so with these: try again later.
_RETRYABLE_4XX = frozenset({408, 409, 425, 429})


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of `v0:<timestamp>:<body>`: what a receiver recomputes."""
    message = b"v0:" + timestamp.encode("ascii") + b":" + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class WebhookTransport:
    """POSTs one JSON document per delivery; 2xx is success."""

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        headers: tuple[str, str] = (TIMESTAMP_HEADER, SIGNATURE_HEADER),
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("webhook URL must look like https://host/path")
        if not secret:
            raise ValueError("a webhook needs a signing secret (LINKTRACK_WEBHOOK_SECRET)")
        self.url = url
        self._secret = secret
        self._timeout = timeout
        self._clock = clock
        self._headers = headers  # (timestamp, signature) header names

    def post(self, document: Mapping[str, Any]) -> None:
        """Deliver `document`; raise TransportError (permanent for a 4xx refusal)."""
        self.send(orjson.dumps(document))

    def send(self, body: bytes) -> None:
        """POST `body` (JSON), signed; raise TransportError (permanent for a 4xx refusal)."""
        timestamp = str(int(self._clock()))
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "content-type": "application/json",
                "user-agent": "linktrack-webhook/1",
                self._headers[0]: timestamp,
                self._headers[1]: signature(self._secret, timestamp, body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            detail = _excerpt(exc)
            permanent = 400 <= exc.code < 500 and exc.code not in _RETRYABLE_4XX
            raise TransportError(
                f"webhook answered HTTP {exc.code}{detail}", permanent=permanent
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise TransportError(f"webhook unreachable: {reason}") from None


def _excerpt(exc: urllib.error.HTTPError) -> str:
    """The start of the provider's error body: often the only explanation there is."""
    try:
        text = exc.read(300).decode("utf-8", "replace").strip()
    except OSError:
        return ""
    finally:
        exc.close()
    return f": {text}" if text else ""
