"""Short links in the store (SQLite and PostgreSQL); the codes themselves: unit/test_shortcodes.py."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from linktrack.adapters.store import workspaces
from linktrack.adapters.store.schema import short_links
from linktrack.core import shortlinks
from linktrack.core.settings import TrackingSettings
from linktrack.service.shortlinks import ShortLinks

PATH = "/e/c/eyJrIjoiYWJjIn0/0123abcd"


# ------------------------------------------------------------------------ store


def test_create_and_resolve(engine: Engine) -> None:
    ws = workspaces.create_workspace(engine, "w")
    store = ShortLinks(engine)
    url = store.create(ws.id, PATH, TrackingSettings(short_domain="s.acme.io"))
    assert url.startswith("https://s.acme.io/lnk.")
    code = url.rsplit("/lnk.", 1)[1]
    found = store.resolve(code)
    assert found is not None and found.path == PATH and not found.expired
    assert store.resolve("abcdefghjk") is None
    assert store.resolve("../../etc") is None
    with pytest.raises(ValueError):
        store.create(ws.id, "https://evil.example/", TrackingSettings())


def test_a_collision_lengthens_the_code(engine: Engine) -> None:
    ws = workspaces.create_workspace(engine, "w")
    taken = "abcdefghjk"
    ShortLinks(engine, generate=lambda n: taken).create(ws.id, PATH, TrackingSettings())
    lengths: list[int] = []

    def generate(length: int) -> str:
        lengths.append(length)
        return taken if length == 10 else shortlinks.new_code(length)

    other = workspaces.create_workspace(engine, "other")  # codes are unique across workspaces
    url = ShortLinks(engine, generate=generate).create(other.id, PATH + "x", TrackingSettings())
    code = url.rsplit("/lnk.", 1)[1]
    assert lengths == [10, 11] and len(code) == 11
    store = ShortLinks(engine)
    first, second = store.resolve(taken), store.resolve(code)
    assert first is not None and first.path == PATH
    assert second is not None and second.path == PATH + "x"


def test_expiry_after_90_days_with_an_injected_clock(engine: Engine) -> None:
    ws = workspaces.create_workspace(engine, "w")
    now = [1_700_000_000.0]
    store = ShortLinks(engine, clock=lambda: now[0])
    code = store.create(ws.id, PATH, TrackingSettings()).rsplit("/lnk.", 1)[1]
    now[0] += 90 * 86400 - 1
    found = store.resolve(code)
    assert found is not None and not found.expired
    now[0] += 1
    expired = store.resolve(code)
    assert expired is not None and expired.expired and expired.path == PATH
    store.resolve(code)
    with engine.connect() as conn:
        row = conn.execute(sa.select(short_links).where(short_links.c.code == code)).one()
    assert row.expires_at - row.created_at == 90 * 86400
    assert row.expired_hits == 2  # an expired link is still counted as a hit


def test_a_short_link_created_in_a_failed_send_is_rolled_back(engine: Engine) -> None:
    ws = workspaces.create_workspace(engine, "w")
    store = ShortLinks(engine)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        url = store.create(ws.id, PATH, TrackingSettings(), conn)
        raise RuntimeError("the send failed later")
    assert store.resolve(url.rsplit("/lnk.", 1)[1]) is None
