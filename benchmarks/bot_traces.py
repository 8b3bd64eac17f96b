"""Labelled, seeded click traces of people and machines, for `bot_eval.py`.

Written here from what vendors document and what peers' users report, not
from linktrack's rules: each category says where its shape comes from. A
trace is a list of deliveries (each one send of a scenario's message) and the
clicks on their tracked links, each labelled `human` or `machine` with its
category. The same seed and sizes give the same trace.

    .venv/bin/python benchmarks/bot_traces.py --deliveries 20 --seed 7   # prints it
"""

from __future__ import annotations

import argparse
import ipaddress
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

HUMAN: Final = "human"
MACHINE: Final = "machine"
MINUTE: Final = 60.0
HOUR: Final = 3600.0
DAY: Final = 86400.0

# Category → label. The comments say where each shape comes from.
CATEGORIES: Final = {
    # Ordinary readers: minutes to days after delivery, one or two links, a
    # browser or mail-app webview, a residential address (every ESP's
    # engagement curve; listmonk #1025 and #2946 and Mautic #9162 contrast them
    # with the scanners below).
    "reader": HUMAN,
    # Magic-login, password-reset and invite links, clicked 3–9 s after the
    # send by someone waiting for the mail (issue 17; peers' "too fast"
    # thresholds are 2 s, Mautic's BotRatioHelper default `timeFromEmailThreshold`).
    "transactional_quick": HUMAN,
    # A reader opening 3–4 links into tabs within a second (middle-click or
    # cmd-click down a newsletter): issue 17's false `burst`s.
    "tabs": HUMAN,
    # People on Azure Virtual Desktop / Windows 365 and browser-isolation
    # services (Zscaler, Menlo, Cloudflare) reach the web from cloud addresses
    # with an ordinary browser: why whole cloud providers are never scanner nets.
    "cloud_desktop": HUMAN,
    # The person's own click right after a time-of-click check (below).
    "time_of_click_person": HUMAN,
    # Secure email gateways following every link within seconds of delivery,
    # with a tell-tale UA (Barracuda Sentinel, Mimecast, HTTP libraries):
    # Mautic #8692 ("every single link … within 10 seconds"), #9162 (SEGs),
    # #9798 (Proofpoint: all links, different IPs and UAs), listmonk #1025.
    "gateway_scan_ua": MACHINE,
    # The same sweep with a browser UA from a network the vendor publishes:
    # Microsoft Defender for Office 365 Safe Links scans URLs before delivery
    # (Microsoft Learn, "Safe Links overview"); Exchange Online Protection's
    # ranges are its SPF record; Barracuda publishes its ESS ranges.
    "gateway_scan_network": MACHINE,
    # HEAD requests: link checkers and "Microsoft Office Existence Discovery"
    # probe without a body (Mautic filters HEAD since 2024: user-documentation #940).
    "head_probe": MACHINE,
    # Link previewers, when the link is pasted into a chat or a post: Slack,
    # Teams, WhatsApp, iMessage (facebookexternalhit + Twitterbot), Signal
    # (WhatsApp's UA), Telegram, Discord, LinkedIn, Facebook, Skype, Google
    # Safe Browsing; each vendor's documented UA (Slack "robots", Facebook
    # "crawler", Discord "Discordbot", Telegram "TelegramBot (like TwitterBot)").
    "link_previewer": MACHINE,
    # Defender's delayed detonation: the URL opened in a sandbox tens of seconds
    # after delivery, from Azure (not EOP's ranges), with a normal browser UA
    # (Safe Links "real-time URL scanning … detonation"; issue 17's misses).
    "sandbox_detonation": MACHINE,
    # Security rescans long after delivery (retro-hunting, post-delivery
    # re-scoring): one page load per link a second or two apart, from AWS/GCP/
    # Azure with browser UAs (Mautic #16263, craft-campaign #546: "every link
    # several times" from corporate recipients).
    "security_rescan": MACHINE,
    # Time-of-click rewriting (Proofpoint URL Defense, Mimecast URL Protect,
    # Safe Links' click-time check): the vendor fetches the URL from its own
    # network immediately before redirecting the person (vendors' URL
    # protection docs; Mautic #9798).
    "time_of_click_check": MACHINE,
}

BROWSERS: Final = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.6367.82 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
)
SCANNER_UAS: Final = (
    "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))",
    "Mimecast-URL-Protect/1.0",
    "python-requests/2.31.0",
    "Go-http-client/1.1",
    "Microsoft Office Existence Discovery",
    "curl/8.5.0",
)
HEAD_UAS: Final = (*BROWSERS[:2], "Microsoft Office Existence Discovery", "python-requests/2.31.0")
PREVIEWERS: Final = (
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36 TeamsBot-LinkPreview/1.0",
    "WhatsApp/2.23.20.0 A",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) "
    "Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0",  # iMessage
    "WhatsApp/2",  # Signal's previews
    "TelegramBot (like TwitterBot)",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5",
    "Google-Safety",
)

# Address pools. Residential: large consumer ISP blocks (Comcast, Verizon, BT,
# Deutsche Telekom, Orange, and Deutsche Telekom's IPv6).
RESIDENTIAL: Final = ("73.0.0.0/8", "108.0.0.0/11", "86.128.0.0/10", "84.128.0.0/10",
                      "90.0.0.0/9", "2003:e0::/28")  # fmt: skip
# Exchange Online Protection (spf.protection.outlook.com) and Barracuda ESS US.
PUBLISHED_SCANNERS: Final = ("40.107.0.0/16", "52.100.0.0/15", "104.47.0.0/17",
                             "64.235.144.0/20")  # fmt: skip
# Azure compute (not EOP), AWS, GCP: where sandboxes and rescans run, and where
# virtual desktops and browser isolation egress (with Zscaler and Cloudflare).
AZURE: Final = ("20.40.0.0/13", "13.64.0.0/11", "40.112.0.0/13")
CLOUD: Final = (*AZURE, "3.208.0.0/12", "54.144.0.0/12", "34.64.0.0/10", "35.184.0.0/13")
ISOLATION: Final = (*AZURE, "165.225.0.0/17", "104.28.0.0/16")  # + Zscaler, Cloudflare
# Time-of-click vendors: Proofpoint (pphosted) and Mimecast US.
TIME_OF_CLICK: Final = ("148.163.128.0/19", "67.231.144.0/20", "205.139.110.0/24",
                        "207.211.30.0/24")  # fmt: skip
PREVIEWER_NETS: Final = ("3.208.0.0/12", "31.13.64.0/18", "66.220.144.0/20", "149.154.160.0/20")


@dataclass(frozen=True, slots=True)
class Click:
    """One request for a delivery's tracked link."""

    delivery: int  # index into Trace.deliveries
    link: int  # index of the link in the message
    age: float  # seconds after delivery
    method: str
    user_agent: str
    ip: str
    label: str  # human | machine
    category: str


@dataclass(frozen=True, slots=True)
class Delivery:
    """One send of a scenario's message."""

    index: int
    scenario: str
    links: int


@dataclass(frozen=True, slots=True)
class Trace:
    deliveries: list[Delivery]
    clicks: list[Click]  # per delivery, in age order


class _Gen:
    """The random choices of one delivery's actors."""

    def __init__(self, rng: random.Random, delivery: Delivery) -> None:
        self.rng = rng
        self.d = delivery
        self.out: list[Click] = []

    def ip(self, pools: tuple[str, ...]) -> str:
        net = ipaddress.ip_network(self.rng.choice(pools))
        size = min(net.num_addresses, 2**32) - 2
        return str(net.network_address + 1 + self.rng.randrange(size))

    def add(
        self, category: str, link: int, age: float, ua: str, ip: str, method: str = "GET"
    ) -> None:
        self.out.append(
            Click(self.d.index, link, age, method, ua, ip, CATEGORIES[category], category)
        )

    def later(self) -> float:
        """Minutes to days after delivery, log-uniform."""
        return float(2 * MINUTE * (3 * DAY / (2 * MINUTE)) ** self.rng.random())

    def person(self, category: str = "reader", pools: tuple[str, ...] = RESIDENTIAL) -> None:
        ua, ip, age = self.rng.choice(BROWSERS), self.ip(pools), self.later()
        links = self.rng.sample(range(self.d.links), min(self.d.links, self.rng.choice((1, 1, 2))))
        for link in links:
            self.add(category, link, age, ua, ip)
            age += self.rng.uniform(5, 10 * MINUTE)

    def sweep(
        self, category: str, ua: str, ip: str, start: float, gap: tuple[float, float]
    ) -> None:
        age = start
        for link in range(self.d.links):
            self.add(category, link, age, ua, ip)
            age += self.rng.uniform(*gap)


def _reader(g: _Gen) -> None:
    g.person()


def _magic_link(g: _Gen) -> None:
    if g.rng.random() < 0.3:  # the recipient's gateway scans it first
        g.sweep("gateway_scan_ua", g.rng.choice(SCANNER_UAS), g.ip(CLOUD), g.rng.uniform(0.3, 2.0),
                (0.05, 0.2))  # fmt: skip
    g.add("transactional_quick", 0, g.rng.uniform(3, 9), g.rng.choice(BROWSERS), g.ip(RESIDENTIAL))


def _tabs(g: _Gen) -> None:
    ua, ip, age = g.rng.choice(BROWSERS), g.ip(RESIDENTIAL), g.later()
    for link in sorted(g.rng.sample(range(g.d.links), g.rng.choice((3, 4)))):
        g.add("tabs", link, age, ua, ip)
        age += g.rng.uniform(0.1, 0.3)


def _cloud_desktop(g: _Gen) -> None:
    g.person("cloud_desktop", ISOLATION)


def _maybe_reader(g: _Gen, p: float = 0.6) -> None:
    if g.rng.random() < p:
        g.person()


def _gateway_scan_ua(g: _Gen) -> None:
    ua, start = g.rng.choice(SCANNER_UAS), g.rng.uniform(0.2, 4.0)
    g.sweep("gateway_scan_ua", ua, g.ip(CLOUD), start, (0.02, 0.3))
    _maybe_reader(g)


def _gateway_scan_network(g: _Gen) -> None:
    ua, start = g.rng.choice(BROWSERS), g.rng.uniform(0.2, 4.0)
    g.sweep("gateway_scan_network", ua, g.ip(PUBLISHED_SCANNERS), start, (0.02, 0.3))
    _maybe_reader(g)


def _head_probe(g: _Gen) -> None:
    ua, ip, age = (
        g.rng.choice(HEAD_UAS),
        g.ip(CLOUD),
        g.rng.choice((g.rng.uniform(0.5, 30), g.later())),
    )
    for link in range(g.d.links):
        g.add("head_probe", link, age, ua, ip, "HEAD")
        age += g.rng.uniform(0.05, 2.5)
    _maybe_reader(g, 0.5)


def _previewer(g: _Gen) -> None:
    g.person()  # the reader shares one link in a chat; the previewer fetches it
    shared = g.out[-1]
    for _ in range(g.rng.choice((1, 1, 2))):
        age = shared.age + g.rng.uniform(5, 30 * MINUTE)
        g.add("link_previewer", shared.link, age, g.rng.choice(PREVIEWERS), g.ip(PREVIEWER_NETS))


def _sandbox(g: _Gen) -> None:
    ua, ip, age = g.rng.choice(BROWSERS), g.ip(AZURE), g.rng.uniform(15, 120)
    for link in g.rng.sample(range(g.d.links), g.rng.randint(1, g.d.links)):
        g.add("sandbox_detonation", link, age, ua, ip)
        age += g.rng.uniform(2.5, 8)
    _maybe_reader(g)


def _rescan(g: _Gen) -> None:
    ua, ip, age = g.rng.choice(BROWSERS), g.ip(CLOUD), g.rng.uniform(2 * HOUR, 5 * DAY)
    for link in range(g.d.links):
        g.add("security_rescan", link, age, ua, ip)
        age += g.rng.uniform(1.1, 2.0)
    _maybe_reader(g)


def _time_of_click(g: _Gen) -> None:
    ua, ip, age = g.rng.choice(BROWSERS), g.ip(RESIDENTIAL), g.later()
    vendor_ip, vendor_ua = g.ip(TIME_OF_CLICK), g.rng.choice(BROWSERS)
    for link in g.rng.sample(range(g.d.links), g.rng.choice((1, 1, 2))):
        g.add("time_of_click_check", link, age - g.rng.uniform(0.15, 1.2), vendor_ua, vendor_ip)
        g.add("time_of_click_person", link, age, ua, ip)
        age += g.rng.uniform(30, 20 * MINUTE)


# Scenario → (links in its message, share of deliveries, who clicks).
SCENARIOS: Final[dict[str, tuple[int, float, Callable[[_Gen], None]]]] = {
    "reader": (4, 0.26, _reader),
    "magic_link": (1, 0.12, _magic_link),
    "tabs": (5, 0.07, _tabs),
    "cloud_desktop": (4, 0.07, _cloud_desktop),
    "gateway_scan_ua": (5, 0.07, _gateway_scan_ua),
    "gateway_scan_network": (5, 0.07, _gateway_scan_network),
    "head_probe": (3, 0.05, _head_probe),
    "previewer": (3, 0.06, _previewer),
    "sandbox": (4, 0.08, _sandbox),
    "rescan": (4, 0.07, _rescan),
    "time_of_click": (4, 0.08, _time_of_click),
}


def generate(deliveries: int = 300, seed: int = 1) -> Trace:
    """A trace of `deliveries` sends: every scenario at least once, the rest by share."""
    rng = random.Random(seed)
    names = list(SCENARIOS)
    picks = names[: min(deliveries, len(names))]
    picks += rng.choices(names, [SCENARIOS[n][1] for n in names], k=deliveries - len(picks))
    out, clicks = [], []
    for index, scenario in enumerate(picks):
        d = Delivery(index, scenario, SCENARIOS[scenario][0])
        g = _Gen(rng, d)
        SCENARIOS[scenario][2](g)
        out.append(d)
        clicks += sorted(g.out, key=lambda c: c.age)
    return Trace(out, clicks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    trace = generate(args.deliveries, args.seed)
    for c in trace.clicks:
        print(f"{c.delivery}\t{c.link}\t{c.age:.2f}\t{c.method}\t{c.ip}\t{c.label}\t{c.category}"
              f"\t{c.user_agent}")  # fmt: skip


if __name__ == "__main__":
    main()
