"""URL rules, `cio_link` and `data-cio-tag` on generated input.

`test_urls.py` and `test_compose.py` pin the rules with examples; here they
must hold for any URL, parameter, tag argument and tag value: a tracked
destination is always one the click path redirects to, URL parameters reach
the destination as written, and a link's identity follows its tag.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from helpers import KEYS, decode, generous_render_deadline, tracking
from linktrack.core.compose import MemoryLinkTable, Message
from linktrack.core.errors import Unprocessable
from linktrack.core.liquid import TemplateError
from linktrack.core.settings import TrackingSettings
from linktrack.core.urls import UrlKind, add_params, classify, looks_secret

FUZZ = settings(max_examples=150, deadline=None)


@pytest.fixture(scope="module", autouse=True)
def _no_render_deadline() -> Iterator[None]:
    with generous_render_deadline():
        yield
REDIRECTABLE = ("https://", "http://", "mailto:", "tel:", "sms:")
_SCHEMES = st.sampled_from(
    ["https://", "HTTP://", "http:", "https:/", " https://", "javascript:", "JavaScript:",
     "data:", "mailto:", "tel:", "sms:", "//", "www.", "example.com:8080/", "#", "{{ u }}", ""]
)  # fmt: skip
_REST = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
URLS = st.builds(lambda scheme, rest: scheme + rest, _SCHEMES, _REST) | _REST
_NAME = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=8,
)
PARAMS = st.lists(st.tuples(_NAME, _REST), max_size=4)


@FUZZ
@given(url=URLS, params=PARAMS)
def test_a_tracked_url_keeps_a_redirectable_scheme_whatever_is_added(
    url: str, params: list[tuple[str, str]]
) -> None:
    kind = classify(url)
    looks_secret(url)  # total: any text
    if kind is UrlKind.TRACKED:
        stripped = url.strip()
        assert stripped.lower().startswith(("http://", "https://"))
        assert add_params(stripped, params).lower().startswith(REDIRECTABLE)


@FUZZ
@given(url=URLS, params=PARAMS)
def test_added_parameters_reach_the_destination_as_written(
    url: str, params: list[tuple[str, str]]
) -> None:
    base, hash_, fragment = url.partition("#")
    path, _, query = base.partition("?")
    assume("\x00" not in url)
    out = add_params(url, params)
    out_base, out_hash, out_fragment = out.partition("#")
    assert out_base.startswith(path)
    assert (out_hash, out_fragment) == (hash_, fragment)  # the fragment stays last
    out_query = out_base[len(path) :].removeprefix("?")
    assert out_query.startswith(query)  # the author's parameters, their encoding kept
    present = {name for name, _ in parse_qsl(query, keep_blank_values=True)}
    got = parse_qsl(out_query, keep_blank_values=True)
    for name, value in params:
        if name not in present:
            assert (name, value) in got, (name, value, out)
            present.add(name)
    assert add_params(out, params) == out  # adding them again changes nothing


_ARG = st.one_of(
    URLS.filter(lambda u: "%}" not in u and "{%" not in u and "}}" not in u),
    st.sampled_from(['"https://q.example/a b"', "'mailto:x@y.example'", "dest", "dest | strip"]),
)


@FUZZ
@given(
    url=_ARG,
    track=st.sampled_from(["", " track:true", " track:false", " TRACK:False", " track:maybe"]),
    url_params=st.sampled_from(["", " url_params:true", " url_params:false"]),
    dest=URLS,
    channel=st.sampled_from(["email", "sms", "push"]),
    where=st.sampled_from(["html", "href", "text"]),
)
def test_cio_link_renders_the_destination_or_a_signed_link_to_it(
    url: str, track: str, url_params: str, dest: str, channel: str, where: str
) -> None:
    tag = f"{{% cio_link url:{url}{track}{url_params} %}}"
    parts: dict[str, Any] = {
        "html": {"html": f"<p>{tag}</p>"},
        "href": {"html": f'<a href="{tag}">x</a>'},
        "text": {"text": tag},
    }[where]
    try:
        message = Message(channel=channel, **parts)  # type: ignore[arg-type]
    except TemplateError:
        return  # an argument the tag refuses (track:maybe, an empty url:): the author's error
    settings_ = TrackingSettings(
        tracking_domain="t.example.com", url_params={"utm_source": "ls"}, open_tracking=False
    )
    composed = message.compose(tracking(settings_, scope={"dest": dest}))
    for link in composed.links:
        token = decode(link.tracked_url)
        assert token.href == link.href and token.href.lower().startswith(REDIRECTABLE)
        assert classify(link.url) is UrlKind.TRACKED or link.url.lower().startswith(REDIRECTABLE)
        assert "track:false" not in track.lower()
    if not composed.links:
        out = composed.html if where != "text" else composed.text
        assert "/e/c/" not in (out or "")


_TAG = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20).map(
    # Escaped as an HTML attribute; a brace as an entity, so Liquid never reads "{{" as markup.
    lambda t: t.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace("{", "&#123;")
) | st.sampled_from(["", " ", "cta", " cta ", "CTA", "c&#116;a", "x" * 255, "y" * 256])


def _tag_key(raw: str) -> str | None:
    from linktrack.core.htmlscan import decode_value

    value = decode_value(raw).strip()
    return f"tag:{value}" if value else None


@FUZZ
@given(
    tags=st.lists(st.none() | _TAG, min_size=1, max_size=4),
    urls=st.lists(st.sampled_from(["https://a.example/", "https://b.example/?x=1"]), min_size=4),
)
def test_links_share_an_id_exactly_when_their_tag_or_url_does(
    tags: list[str | None], urls: list[str]
) -> None:
    anchors = "".join(
        f'<a href="{url}"{"" if tag is None else f" data-cio-tag={chr(34)}{tag}{chr(34)}"}>x</a>'
        for tag, url in zip(tags, urls, strict=False)
    )
    keys = [
        (_tag_key(tag) if tag is not None else None) or f"url:{url}"
        for tag, url in zip(tags, urls, strict=False)
    ]
    links = MemoryLinkTable()
    too_long = any(key.startswith("tag:") and len(key) - 4 > 255 for key in keys)
    if too_long:
        with pytest.raises(Unprocessable):
            Message(html=anchors).compose(tracking(links=links))
        return
    composed = Message(html=anchors).compose(tracking(links=links))
    ids = [link.link_id for link in composed.links]
    assert len(ids) == len(keys)
    for i, key in enumerate(keys):
        for j, other in enumerate(keys):
            assert (ids[i] == ids[j]) == (key == other), (keys, ids)
    for link, key in zip(composed.links, keys, strict=True):
        assert link.key == key
        assert (
            KEYS.verify_click(*link.tracked_url.split("/e/c/")[1].split("/")).link_id
            == link.link_id
        )
