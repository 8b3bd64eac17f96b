"""`serve --demo`'s sample: messages, people, deliveries, clicks and opens, clearly labelled.

The dashboard's first look should not be an empty page. The sample is made
the way the API makes data: people identified as the Track API does, a
campaign and a newsletter created and sent by the Containers, Campaigns and
BulkSends services, a transactional message sent by the Sender. The sends
are dated over the last days (the Sender's clock) and never leave the
machine: the Sender has no transport, so every delivery lands in the outbox.

Clicks and opens are the click path's own events, built from the tracked
links and open pixels of each delivery's body and appended to the click log
with the time a person (or a scanner) would have clicked. Serve's writer
stores them like any click, and its own rules (`core.bots`) tell the
scanners apart: a HEAD request, a scanner's user agent, a click within a
second of the send.
"""

from __future__ import annotations

import html
import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from linktrack.adapters import store
from linktrack.bootstrap import make_event_log, senders
from linktrack.core.audience import parse_audience
from linktrack.core.events import encode, new_event_id
from linktrack.core.tokens import ClickToken, KeyRing, OpenToken
from linktrack.service.bulk_sends import BulkSends
from linktrack.service.campaigns import Campaigns, Event
from linktrack.service.clicks import ClickRules
from linktrack.service.containers import Containers, parse_container, parse_content
from linktrack.service.send_requests import parse_send
from linktrack.service.sending import Sender

if TYPE_CHECKING:
    from linktrack.bootstrap import Config
    from linktrack.core.model import Delivery, Workspace

HOUR: Final = 3600.0
DAY: Final = 24 * HOUR

# (id, first name, last name, city, plan): example.org addresses, ids that say "sample".
PEOPLE: Final = (
    ("sample-01", "Amara", "Okafor", "Lagos", "team"),
    ("sample-02", "Bruno", "Almeida", "Lisbon", "starter"),
    ("sample-03", "Chen", "Wei", "Singapore", "team"),
    ("sample-04", "Dana", "Kowalski", "Kraków", "starter"),
    ("sample-05", "Emeka", "Eze", "Accra", "business"),
    ("sample-06", "Farah", "Haddad", "Montréal", "starter"),
    ("sample-07", "Gustav", "Lind", "Malmö", "team"),
    ("sample-08", "Hana", "Sato", "Osaka", "business"),
    ("sample-09", "Ines", "Moreau", "Lyon", "starter"),
    ("sample-10", "Jonas", "Becker", "Leipzig", "team"),
    ("sample-11", "Kavya", "Rao", "Pune", "starter"),
    ("sample-12", "Luca", "Bianchi", "Turin", "business"),
)

_FOOT = '<p><a href="https://example.com/preferences">Email preferences</a></p></body></html>'
WELCOME: Final = (
    "<html><body><h1>Welcome, {{ customer.first_name }}</h1>"
    '<p><a href="https://example.com/start">Get started</a></p>'
    '<p><a href="https://example.com/guide" data-cio-tag="docs">Read the guide</a></p>'
    '<p><a href="https://example.com/pricing">See the plans</a></p>' + _FOOT
)
TIPS: Final = (
    "<html><body><h1>Three tips for your first week</h1>"
    '<p><a href="https://example.com/tips/links" data-cio-tag="docs">Track every link</a></p>'
    '<p><a href="https://example.com/tips/segments" data-cio-tag="docs">Build a segment</a></p>'
    + _FOOT
)
NEWS: Final = (
    "<html><body><h1>What is new this month</h1>"
    '<p><a href="https://example.com/blog/click-maps">Click maps are here</a></p>'
    '<p><a href="https://example.com/blog/bots">How we tell scanners from people</a></p>'
    '<p><a href="https://example.com/events">Meet us at an event</a></p>' + _FOOT
)
RESET: Final = (
    "<html><body><p>Hi {{ customer.first_name }}, someone asked to reset your password.</p>"
    '<p><a href="https://example.com/reset?token={{ trigger.token }}">Choose a new password'
    "</a></p></body></html>"
)

BROWSERS: Final = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
)
GMAIL_PROXY: Final = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
SCANNER: Final = "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))"
SCRIPT: Final = "curl/8.5.0"


@dataclass(frozen=True, slots=True)
class Role:
    """One sample message's audience and how its recipients behave."""

    people: tuple[int, ...]  # indexes into PEOPLE who get it
    clickers: frozenset[int]  # who clicks (1 to 3 of its links)
    machine: dict[int, str]  # who is followed by a machine: "head", "scanner", "fast", "script"


WELCOME_ROLE: Final = Role(tuple(range(12)), frozenset({0, 2, 3, 5, 6, 8, 9, 11}),
                           {0: "head", 1: "scanner", 7: "fast"})  # fmt: skip
TIPS_ROLE: Final = Role(tuple(range(12)), frozenset({2, 5, 8, 10}), {4: "scanner"})
NEWS_ROLE: Final = Role(tuple(range(12)), frozenset({0, 1, 3, 4, 6, 9}), {2: "fast", 10: "head"})
RESET_ROLE: Final = Role((0, 1, 2, 3, 4, 5), frozenset({0, 1, 2, 4}), {3: "script"})


class SampleClock:
    """The Sender's clock while the sample is sent: the time each send is dated."""

    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


def fill_demo(config: Config, workspace_id: int) -> None:
    """Fill the demo workspace with the sample and append its clicks and opens to the log.

    Run once, when serve creates the demo workspace, before its writer starts."""
    quiet = replace(config, smtp_url=None, webhook_url=None)  # the sample is never sent out
    now = time.time()
    clock = SampleClock(now)
    engine = store.make_engine(config.db_url)
    try:
        keys, _, sender = senders(quiet, engine, clock=clock)
        workspace = store.get_workspace(engine, workspace_id)
        if workspace is None:
            raise ValueError(f"no workspace {workspace_id}")
        people = _people(engine, workspace)
        containers = Containers(engine)
        roles = _campaign(workspace, containers, Campaigns(containers, sender), clock, now)
        roles += _newsletter(workspace, containers, BulkSends(containers, sender), clock, now)
        roles += _transactional(workspace, engine, sender, clock, now)
        rules = ClickRules(keys, trust_proxy=False)
        rng = random.Random(workspace_id)
        sample = [
            event
            for message_id, role in roles
            for d in store.list_deliveries(engine, workspace.id, message_id=message_id)
            for event in _events(rules, d, people[d.person_id], role, rng, now)
        ]
    finally:
        engine.dispose()
    log = make_event_log(quiet)  # serve's HTTP worker opens its own later: closed below
    try:
        for event in sample:
            log.append_sync(event)
    finally:
        log.close()


def _people(engine: store.Engine, workspace: Workspace) -> dict[int | None, int]:
    """The sample's people, identified as the Track API identifies them: person id → index."""
    found: dict[int | None, int] = {}
    for n, (pid, first, last, city, plan) in enumerate(PEOPLE):
        person = store.upsert_person(engine, workspace.id, ("id", pid), {
            "email": f"{first.lower()}.{last.lower()}@example.org", "first_name": first,
            "last_name": last, "city": city, "plan": plan, "sample": True,
        })  # fmt: skip
        found[person.id] = n
    return found


def _campaign(
    workspace: Workspace, containers: Containers, campaigns: Campaigns, clock: SampleClock,
    now: float,
) -> list[tuple[int, Role]]:  # fmt: skip
    """A two-email welcome series, triggered as each person signed up over the last week."""
    campaign, actions = containers.create(workspace, parse_container("campaign", {
        "name": "Sample: Welcome series (demo data)",
        "actions": [
            {"name": "Sample: Welcome (demo data)", "subject": "Welcome, {{ customer.first_name }}",
             "from": "team@example.com", "body": WELCOME},
            {"name": "Sample: First-week tips (demo data)", "subject": "Three tips for your week",
             "from": "team@example.com", "body": TIPS},
        ],
    }))  # fmt: skip
    for n, (pid, *_) in enumerate(PEOPLE):
        clock.at = now - 6 * DAY + n * 10 * HOUR
        campaigns.trigger(workspace, campaign, ("id", pid), Event("signed_up", {}))
    return [(actions[0].id, WELCOME_ROLE), (actions[1].id, TIPS_ROLE)]


def _newsletter(
    workspace: Workspace, containers: Containers, bulk: BulkSends, clock: SampleClock,
    now: float,
) -> list[tuple[int, Role]]:  # fmt: skip
    """The monthly newsletter, sent to everyone three days ago, as `newsletter send` does."""
    newsletter, (content,) = containers.create(workspace, parse_container("newsletter", {
        "name": "Sample: Monthly product news (demo data)", "subject": "What is new this month",
        "from": "news@example.com", "tracked": True, "body": NEWS,
    }))  # fmt: skip
    audience = parse_audience({"ids": [p[0] for p in PEOPLE]})
    job = store.create_job(bulk.engine, newsletter, audience.summary, len(audience.listed))
    clock.at = now - 3 * DAY
    done = bulk.run(job, workspace, newsletter, audience, {})
    if done.status != "done":
        raise RuntimeError(f"the sample newsletter was not sent: {done.errors}")
    return [(content.id, NEWS_ROLE)]


def _transactional(
    workspace: Workspace, engine: store.Engine, sender: Sender, clock: SampleClock, now: float
) -> list[tuple[int, Role]]:
    """Password resets, one or two a day over the last five days."""
    message = store.create_message(engine, workspace.id, kind="transactional", **parse_content({
        "name": "Sample: Password reset (demo data)", "subject": "Reset your password",
        "from": "security@example.com", "body": RESET,
    }, creating=True))  # fmt: skip
    for n in RESET_ROLE.people:
        clock.at = now - 5 * DAY + n * 17 * HOUR
        sender.send(workspace, parse_send({
            "transactional_message_id": message.id, "identifiers": {"id": PEOPLE[n][0]},
            "message_data": {"token": f"sample-{n + 1}"},
        }, "email"))  # fmt: skip
    return [(message.id, RESET_ROLE)]


_TRACKED = re.compile(r'(?:href|src)="([^"]*/e/[co]/[^"]+)"')


def _tokens(rules: ClickRules, body: str) -> tuple[list[ClickToken], OpenToken | None]:
    """The delivery's tracked links (in order) and its open pixel, verified as the click
    path verifies them."""
    links: list[ClickToken] = []
    pixel: OpenToken | None = None
    for url in _TRACKED.findall(body):
        path = urlsplit(html.unescape(url)).path
        click = rules.verify_now(KeyRing.verify_click, path)
        if isinstance(click, ClickToken):
            links.append(click)
        opened = rules.verify_now(KeyRing.verify_open, path)
        if isinstance(opened, OpenToken):
            pixel = opened
    return links, pixel


def _events(
    rules: ClickRules, d: Delivery, n: int, role: Role, rng: random.Random, now: float
) -> Iterator[bytes]:
    """The clicks and opens of person `n` on delivery `d`, as the click path writes them."""
    links, pixel = _tokens(rules, d.body or "")
    sent = d.sent_at or d.created_at
    ip = f"198.51.100.{10 + n}"  # documentation addresses (RFC 5737)
    browser = BROWSERS[n % len(BROWSERS)]
    machine = role.machine.get(n)
    if machine is not None and links:
        yield from _machine(machine, links, sent, rng)
    opened = n in role.clickers or n % 3 == 1
    if not opened:
        return
    # People read a message within hours of it arriving, fewer as time goes on.
    at = min(sent + 120 + rng.expovariate(1 / (8 * HOUR)), now - 10 * 60)
    if pixel is not None:
        agent = GMAIL_PROXY if n % 4 == 0 else browser
        yield encode(new_event_id(), "open", pixel.kid, pixel.delivery_id, None, None, "", at,
                     agent, "GET", ip)  # fmt: skip
    if n not in role.clickers or not links:
        return
    for link in rng.sample(links[:-1] or links, k=min(1 + n % 3, len(links[:-1] or links))):
        at = min(at + rng.uniform(20, 15 * 60), now - 60)  # one link, a while later another
        yield _click(link, at, browser, "GET", ip)


def _machine(
    kind: str, links: list[ClickToken], sent: float, rng: random.Random
) -> Iterator[bytes]:
    """A scanner following the delivery's links: what each kind of machine does."""
    ip = "203.0.113.25"
    if kind == "fast":  # a mail gateway walks every link while the message is in transit
        for i, link in enumerate(links):
            yield _click(link, sent + 0.2 + i * 0.15, BROWSERS[0], "GET", ip)
    elif kind == "head":  # a link checker asks for the headers only
        yield _click(links[0], sent + rng.uniform(30, 300), BROWSERS[0], "HEAD", ip)
    elif kind == "scanner":  # a security scanner, saying so in its user agent
        for i, link in enumerate(links[:2]):
            yield _click(link, sent + 400 + i * 30, SCANNER, "GET", ip)
    else:  # a script fetching the reset link
        yield _click(links[0], sent + rng.uniform(HOUR, 2 * HOUR), SCRIPT, "GET", ip)


def _click(link: ClickToken, at: float, agent: str, method: str, ip: str) -> bytes:
    return encode(new_event_id(), "click", link.kid, link.delivery_id, link.link_id,
                  link.position, link.href, at, agent, method, ip)  # fmt: skip
