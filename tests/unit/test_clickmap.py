"""The click map's badging: inert links, a badge after each tracked anchor, no open pixel."""

from __future__ import annotations

from linktrack.core import clickmap
from linktrack.core.clickmap import Badge, badge_html, badge_text, badges_of
from linktrack.core.tokens import KeyRing, SigningKey

RING = KeyRing([SigningKey("k1", b"secret-k1")])
BASE = "https://t.example.com"


def click(delivery: str, link: int, position: int) -> str:
    return BASE + RING.signer().click_path(delivery, f"https://shop.example.com/{link}", link, position)


def spans(out: str) -> int:
    """How many badges a document holds."""
    return out.count('<span class="lt-badge')


def sent(delivery: str = "d1") -> str:
    open_path = RING.signer().open_path(delivery)
    return (
        '<!doctype html><html lang="en"><head><title>Sale</title></head><body>\n'
        f'<p><a href="{click(delivery, 7, 0)}" data-cio-tag="sale">Shop</a></p>\n'
        f"<p><a class=x href='{click(delivery, 7, 1)}'>Banner <b>now</b></A ></p>\n"
        f'<p><A HREF="{click(delivery, 9, 2)}">Help</a> and <a href="https://other.example.com/">us</a></p>\n'
        f'<img src="{BASE}{open_path}" width="1" height="1" alt="">\n</body></html>'
    )


def test_badges_follow_each_tracked_anchor_and_links_go_nowhere() -> None:
    badges = badges_of({7: 3, 9: 1, 11: 0})
    out = badge_html(sent(), clickmap.tracked_link_of(RING, "d1", {7, 9, 11}), badges)
    seven, nine = badges[7].html(), badges[9].html()
    assert f">Shop</a>{seven}</p>" in out
    assert f">Banner <b>now</b></A >{seven}</p>" in out
    assert f">Help</a>{nine} and " in out
    assert '<a href="#">us</a></p>' in out  # untracked: inert too, no badge
    assert spans(out) == 3
    assert "/e/c/" not in out and "/e/o/" not in out  # nothing here counts a click or an open
    assert "href='#'" in out and 'HREF="#"' in out
    assert out.index(clickmap.STYLE) > out.index("<head>") and out.count("<title>") == 1
    assert badges[7].text == "3 · 75.0 %" and badges[9].text == "1 · 25.0 %"


def test_a_token_of_another_delivery_or_link_is_not_badged() -> None:
    badges = badges_of({7: 3, 9: 1})
    other = badge_html(sent("d2"), clickmap.tracked_link_of(RING, "d1", {7, 9}), badges)
    assert spans(other) == 0 and "/e/c/" not in other
    only_nine = badge_html(sent(), clickmap.tracked_link_of(RING, "d1", {9}), badges)
    assert only_nine.count(badges[9].html()) == 1 and badges[7].html() not in only_nine
    forged = sent().replace(click("d1", 9, 2)[:-3], click("d1", 9, 2)[:-3] + "000", 1)
    assert spans(badge_html(forged, clickmap.tracked_link_of(RING, "d1", {9}), badges)) == 0


def test_an_unclosed_anchor_is_badged_after_its_start_tag_and_a_fragment_gets_a_title() -> None:
    badge = Badge(2, 1.0)
    out = badge_html('<p><a href="https://x.example.com/">Open', lambda raw, tag: 1, {1: badge})
    assert out == (
        f'<title>Click map</title>{clickmap.STYLE}<p><a href="#">{badge.html()}Open'
    )


def test_template_anchors_are_found_by_their_identity_key() -> None:
    keys = {"tag:sale": 1, "url:https://shop.example.com/?a=1&b=2": 2,
            "tpl:https://shop.example.com/{{ customer.id }}": 3}  # fmt: skip
    link_of = clickmap.template_link_of(keys)
    assert link_of("https://anything.example.com/", " sale ") == 1
    assert link_of(" https://shop.example.com/?a=1&amp;b=2 ", None) == 2
    assert link_of("https://shop.example.com/{{ customer.id }}", None) == 3
    assert link_of("https://unknown.example.com/", None) is None


def test_plain_text_is_escaped_with_badges_after_its_links() -> None:
    text = "Hi <you>, see https://shop.example.com/1 or https://else.example.com/2"
    badge = Badge(4, 0.5)
    urls: list[str] = []

    def link_of(raw: str, tag: str | None) -> int | None:
        urls.append(raw)
        return 1 if raw.endswith("/1") else None

    out = badge_text(text, link_of, {1: badge})
    assert "Hi &lt;you&gt;, see https://shop.example.com/1" + badge.html() + " or https" in out
    assert spans(out) == 1 and urls == [
        "https://shop.example.com/1", "https://else.example.com/2"]  # fmt: skip
    assert out.startswith("<!doctype html>") and "<title>Click map</title>" in out


def test_shares_of_no_clicks_are_zero() -> None:
    assert badges_of({1: 0, 2: 0}) == {1: Badge(0, 0.0), 2: Badge(0, 0.0)}
    assert 'class="lt-badge lt-zero"' in Badge(0, 0.0).html()
    assert Badge(1234, 0.5).text == "1,234 · 50.0 %"
