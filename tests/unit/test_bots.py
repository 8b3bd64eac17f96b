"""Machine-click verdicts: each signal alone, and no false alarm on a person."""

from __future__ import annotations

import pytest

from linktrack.adapters import scanner_networks
from linktrack.core import bots
from linktrack.core.bots import ScannerNetworks, verdict

NETWORKS = scanner_networks.load()  # the shipped list

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)


def test_a_person_in_a_browser_is_human() -> None:
    assert verdict(CHROME, "GET", "81.2.69.142", 3600.0, 1) == (False, [])
    assert verdict(IPHONE, "GET", None, None, 0) == (False, [])


@pytest.mark.parametrize(
    "ua",
    [
        "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.12026; Pro)",
        "Mozilla/4.0 (compatible; ms-office; MSOffice 16)",
        "Mozilla/5.0 (compatible; Mimecast)",
        "Mozilla/5.0 Proofpoint URL Defense",
        "BarracudaCentral",
        "python-requests/2.31.0",
        "curl/8.4.0",
        "",
    ],
)
def test_scanners_and_scripts_are_bots(ua: str) -> None:
    machine, reasons = verdict(ua, "GET", None, 3600.0, 1)
    assert machine and reasons == ["bot_user_agent"]


def test_each_signal_has_its_reason() -> None:
    assert verdict(CHROME, "HEAD", None, None, 0) == (True, ["head_request"])
    assert verdict(CHROME, "GET", None, 1.9, 0) == (True, ["too_fast"])
    assert verdict(CHROME, "GET", None, 2.0, 0) == (False, [])  # a magic link, seconds on
    assert verdict(CHROME, "GET", None, None, 3) == (True, ["burst"])
    assert verdict(CHROME, "GET", None, None, 2) == (False, [])


def test_a_burst_is_most_of_the_delivery_s_links() -> None:
    # Links recorded: 80 % of them, at least 3, within the window.
    assert verdict(CHROME, "GET", None, None, 4, links_in_delivery=5) == (True, ["burst"])
    assert verdict(CHROME, "GET", None, None, 4, links_in_delivery=6) == (False, [])  # tabs
    assert verdict(CHROME, "GET", None, None, 32, links_in_delivery=40) == (True, ["burst"])
    assert verdict(CHROME, "GET", None, None, 31, links_in_delivery=40) == (False, [])
    assert verdict(CHROME, "GET", None, None, 3, links_in_delivery=2) == (True, ["burst"])
    assert verdict(CHROME, "GET", None, None, 2, links_in_delivery=2) == (False, [])
    assert verdict(CHROME, "GET", "40.107.1.2", None, 0, networks=NETWORKS) == (
        True, ["scanner_network"])  # fmt: skip
    assert verdict(CHROME, "GET", "209.222.82.9", None, 0, networks=NETWORKS)[1] == [
        "scanner_network"]  # fmt: skip
    assert verdict(CHROME, "GET", "40.107.1.2", None, 0) == (False, [])  # no list in force


def test_reasons_accumulate_in_a_stable_order() -> None:
    machine, reasons = verdict("curl/8", "head", "104.47.3.3", 1.0, 5, networks=NETWORKS)
    assert machine
    assert reasons == ["bot_user_agent", "head_request", "too_fast", "burst", "scanner_network"]


def test_bad_or_ipv6_addresses_do_not_match_ipv4_networks() -> None:
    assert not NETWORKS.contains("not an ip")
    assert not NETWORKS.contains("2001:db8::1")
    assert not NETWORKS.contains("10.0.0.1")
    assert NETWORKS.contains("40.107.200.1") and len(NETWORKS) >= 8


@pytest.mark.parametrize(
    "ua",
    [
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36 "
        "TeamsBot-LinkPreview/1.0",
        "WhatsApp/2.23.20.0 A",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) "
        "Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0",
        "TelegramBot (like TwitterBot)",
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5",
        "Google-Safety",
    ],
)
def test_link_previewers_have_a_reason_of_their_own(ua: str) -> None:
    assert verdict(ua, "GET", None, 3600.0, 1) == (True, ["previewer"])


def test_an_operator_keeps_the_scanner_networks_as_data(tmp_path: object) -> None:
    text = "# our gateway\n198.51.100.0/24  # since 2026-11\n\n2001:db8:5::/48\n"
    mine = ScannerNetworks.parse(text)
    assert mine.contains("198.51.100.77") and mine.contains("2001:db8:5::1")
    assert not mine.contains("40.107.1.2")  # the shipped list is replaced, not added to
    with pytest.raises(ValueError, match="ours line 2: 'not-a-net' is not a network"):
        ScannerNetworks.parse("10.0.0.0/8\nnot-a-net\n", "ours")


def test_image_proxies_stand_for_a_person_on_opens_only() -> None:
    gmail = (
        "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
    )
    assert verdict(gmail, "GET", None, None, 0, is_open=True) == (False, [])
    assert verdict(gmail, "GET", None, None, 0)[0]


def test_user_agent_verdicts_are_cached() -> None:
    bots.user_agent_kind.cache_clear()
    for _ in range(3):
        bots.is_bot_user_agent(CHROME)
    info = bots.user_agent_kind.cache_info()
    assert info.hits == 2 and info.misses == 1
