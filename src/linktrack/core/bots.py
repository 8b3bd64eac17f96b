"""Machine-click verdicts: is this click (or open) a scanner, a previewer or a person?

Pure: the writer gathers the signals (timing, bursts) and this module judges.
"""

from __future__ import annotations

import ipaddress
import math
from functools import lru_cache
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

# Published mail-security networks whose machines follow links in scanned mail.
# Kept small on purpose: only ranges the vendors publish for their filtering
# service, so a person behind an ordinary ISP or VPN is never caught.
SCANNER_NETWORKS: Final = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        # Microsoft Exchange Online Protection (SafeLinks): the IPv4 ranges of
        # the `spf.protection.outlook.com` SPF record.
        "40.92.0.0/15",
        "40.107.0.0/16",
        "52.100.0.0/15",
        "52.102.0.0/16",
        "52.103.0.0/17",
        "104.47.0.0/17",
        # Barracuda Email Security Service, US instance (Barracuda Campus, "IP
        # ranges" of the service).
        "64.235.144.0/20",
        "209.222.80.0/21",
    )
)

_detector = CrawlerDetect()


@lru_cache(maxsize=8192)
def is_bot_user_agent(user_agent: str) -> bool:
    """True for a crawler, scanner, previewer or HTTP library user agent (cached)."""
    ua = user_agent.strip()
    if not ua:
        return True  # every browser and mail app sends one; scripts often do not
    low = ua.lower()
    if any(marker in low for marker in _SCANNER_MARKERS):
        return True
    return bool(_detector.isCrawler(ua))


@lru_cache(maxsize=4096)
def in_scanner_network(ip: str) -> bool:
    """True when `ip` lies in a published mail-scanner network."""
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return False
    return any(addr in net for net in SCANNER_NETWORKS if net.version == addr.version)


def verdict(
    ua: str,
    method: str,
    ip: str | None,
    seconds_since_delivery: float | None,
    burst_links_in_window: int,
    *,
    is_open: bool = False,
    links_in_delivery: int | None = None,
) -> tuple[bool, list[str]]:
    """(machine?, reasons) for one click, or one open with `is_open` (`links_in_delivery`:
    how many links the delivery holds, None when not recorded)."""
    reasons: list[str] = []
    if is_bot_user_agent(ua) and not (
        is_open and any(p in ua.lower() for p in _HUMAN_OPEN_PROXIES)
    ):
        reasons.append("bot_user_agent")
    if method.upper() == "HEAD":
        reasons.append("head_request")
    if seconds_since_delivery is not None and seconds_since_delivery < TOO_FAST_SECONDS:
        reasons.append("too_fast")
    if burst_links_in_window >= _burst_threshold(links_in_delivery):
        reasons.append("burst")
    if ip and in_scanner_network(ip):
        reasons.append("scanner_network")
    return bool(reasons), reasons


def _burst_threshold(links: int | None) -> int:
    """Distinct links in a burst window that make a burst: most of the delivery's."""
    if not links:
        return BURST_LINKS
    return max(BURST_LINKS, math.ceil(BURST_SHARE * links))
