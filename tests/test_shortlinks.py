"""Short links: codes (pure) and the store (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from linktrack.adapters.store import make_engine, migrate, workspaces
from linktrack.adapters.store.schema import short_links
from linktrack.core import shortlinks
from linktrack.core.settings import TrackingSettings
from linktrack.service.shortlinks import ShortLinks

PATH = "/e/c/eyJrIjoiYWJjIn0/0123abcd"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    migrate(db_url)
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


# ------------------------------------------------------------------------ codes


def test_codes_are_ten_characters_without_look_alikes() -> None:
    rng = random.Random(7)
    codes = [shortlinks.new_code(choice=rng.choice) for _ in range(2000)]
    assert all(len(code) == 10 for code in codes)
    assert len(set(codes)) == len(codes)
    used = set("".join(codes))
    assert used <= set(shortlinks.ALPHABET)
    assert not used & set("0O1lIo")


@pytest.mark.parametrize(
    "code", ["abFUCKxyz2", "zzshitzzzz", "a55hat2222", "xxSeXxxxxx", "9NaZiq2222"]
)
def test_offensive_words_are_filtered_in_any_case_and_with_digits(code: str) -> None:
    assert not shortlinks.is_clean(code)


def test_the_generator_skips_offensive_codes() -> None:
    picks = iter("fuckfuckfu" + "abcdefghjk")
    assert shortlinks.new_code(choice=lambda _: next(picks)) == "abcdefghjk"
    assert shortlinks.is_clean("abcdefghjk")


def test_default_short_url_fits_36_characters_for_a_13_character_domain() -> None:
    settings = TrackingSettings(tracking_domain="links.example.com", short_domain="lt.exmpl.shop")
    assert len("lt.exmpl.shop") == 13
    url = shortlinks.short_url(settings, shortlinks.new_code())
    assert url.startswith("https://lt.exmpl.shop/lnk.")
    assert len(url) == shortlinks.default_length(settings) == 36 <= shortlinks.MAX_DEFAULT_LENGTH
    longer = TrackingSettings(short_domain="lt.example.com")  # 14 characters: one too many
    assert shortlinks.default_length(longer) == 37


def test_short_domain_defaults_to_the_tracking_domain_and_follows_https() -> None:
    settings = TrackingSettings(tracking_domain="t.acme.io", tracking_https=False)
    assert shortlinks.short_url(settings, "abcdefghjk") == "http://t.acme.io/lnk.abcdefghjk"


def test_is_code() -> None:
    assert shortlinks.is_code("abcdefghjk")
    assert not shortlinks.is_code("abc")  # too short
    assert not shortlinks.is_code("abcdefghj0")  # not from the alphabet
    assert not shortlinks.is_code("a" * 33)


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
