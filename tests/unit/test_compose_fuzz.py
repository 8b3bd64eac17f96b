"""Generated Liquid email templates: tracking changes href values and nothing else.

`test_corpus.py` checks the byte-exact rule on literal HTML (no Liquid). Here
the templates carry Liquid everywhere: outputs in href values and in text,
`if` and `for` blocks, `{% raw %}`, `cio_link`, `data-cio-tag`, Outlook VML,
and variables whose values are hostile (private-use characters like the
pipeline's own markers, anchors written by output, `javascript:` URLs). Two
invariants, compared against python-liquid's own render of the same source:

* untracked, the message is exactly that render (no marker, block or pixel left);
* tracked, it differs from it only inside href values, and each changed value
  is a click URL signed with the workspace's key for the URL the value meant.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import KEYS, decode, generous_render_deadline, href_spans, tracking
from linktrack.core import htmlscan
from linktrack.core.compose import Message
from linktrack.core.liquid import compile_liquid, render_liquid
from linktrack.core.settings import TrackingSettings
from linktrack.core.urls import UrlKind, classify

FUZZ = settings(max_examples=120, deadline=None)


@pytest.fixture(scope="module", autouse=True)
def _no_render_deadline() -> Iterator[None]:
    with generous_render_deadline():
        yield
SETTINGS = TrackingSettings(
    tracking_domain="t.example.com",
    url_params={"utm_source": "{{ campaign }}"},
    add_cio_id=True,
    open_tracking=False,
)
BASE = "https://t.example.com/e/c/"

_PRIVATE = st.sampled_from(["\ue000", "\ue001", "\ue002", "\ue003", "\ue004", "\ue005", "\uf8fe"])
_URL = st.sampled_from(
    [
        "https://a.example/", "http://b.example/p?q=1&r=2", "https://c.example/x#frag",
        "HTTPS://D.example/Up", " https://e.example/pad ", "https://f.example/?utm_source=mine",
        "mailto:x@y.example", "www.g.example", "#top", "javascript:alert(1)",
        "data:text/html,x", "//evil.example/", "https://h.example/\r\nX: y", "",
        "https://i.example/reset/abcdefgh1234",
    ]
)  # fmt: skip
_VALUE = st.one_of(
    _URL,
    st.builds(lambda u, p: u + p, _URL, _PRIVATE),
    st.sampled_from(["\ue0000\ue001https://forged.example/\ue002", "\ue003x\ue004"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8),
    st.just('<a href="https://out.example/">x</a>'),
)
_TEXT = st.text(alphabet="ab <>&;/\"'=\n\ue000\ue002", max_size=10).map(
    lambda t: t.replace("{", "").replace("<", "&lt;")
)
_HREF_VALUE = st.one_of(
    _URL.map(lambda u: u.replace('"', "&quot;").replace("{", "")),
    st.sampled_from(
        [
            "{{ url }}", "{{url}}", "https://p.example/{{ part }}", "{{ url | strip }}",
            "https://q.example/?a={{ part }}&amp;b=2", "{% if flag %}https://r.example/"
            "{% else %}https://s.example/{% endif %}", "{% cio_link url:https://u.example/c %}",
            "https://&#x76;.example/&amp;", "&#104;ttps://w.example/",
        ]
    ),
)  # fmt: skip


@st.composite
def _anchor(draw: st.DrawFn) -> str:
    value = draw(_HREF_VALUE)
    quote = draw(st.sampled_from(['"', "'", ""]))
    if quote == "" and (not value or any(c in value for c in " \t\n\r\"'=<>`")):
        quote = '"'
    if quote == "'":
        value = value.replace("'", "&#39;")
    extra = draw(
        st.sampled_from(
            [
                "", ' class="untracked"', " class='x disable-url-params'", ' data-cio-tag="cta"',
                " data-cio-tag='{{ part }}'", ' href="https://second.example/"', " target=_blank",
            ]
        )
    )  # fmt: skip
    name = draw(st.sampled_from(["a", "A", "v:roundrect"]))
    return f"<{name} href={quote}{value}{quote}{extra}>{draw(_TEXT)}</{name}>"


_LEAF = st.one_of(
    _anchor(),
    _TEXT,
    st.sampled_from(
        [
            "{{ text }}", "{{ url }}", "<p class=x>", "</p>", "<br/>", "&nbsp;",
            "{% cio_link url:https://text.example/ %}",
            "<!-- <a href='https://hidden.example/'> -->", "<style>a[href='x']{}</style>",
            '<!--[if mso]><v:rect href="https://v.example/{{ part }}"></v:rect><![endif]-->',
            '{% for i in (1..2) %}<a href="https://loop.example/{{ i }}">{{ i }}</a>{% endfor %}',
            '{% raw %}<a href="https://raw.example/{{ x }}">{% endraw %}', "</body>",
            '{{ "<a href=https://lit.example/>" }}', '{% if url == "<a href=x>" %}y{% endif %}',
        ]
    ),
    # A raw block sends the whole template down the marker path.
    st.just("{% raw %}{% endraw %}"),
)  # fmt: skip
_CHUNK = _LEAF | st.lists(_LEAF, max_size=3).map(
    lambda inner: "{% if flag %}<b>" + "".join(inner) + "</b>{% else %}x{% endif %}"
)
_TEMPLATE = st.lists(_CHUNK, max_size=10).map("".join)


# What a variable written into an attribute holds. An unescaped quote or space there would end
# the attribute in the plain render, while tracking replaces the template's whole href value.
_ATTR_VALUE = _VALUE.filter(lambda v: not any(c in v for c in " \t\n\r\f\"'<>`"))
_SCOPE = st.fixed_dictionaries(
    {
        "url": _ATTR_VALUE,
        "part": _ATTR_VALUE,
        "text": _VALUE,
        "flag": st.booleans(),
        "campaign": _TEXT,
    }
)


_CIO_LINK = re.compile(r"\{% cio_link url:(\S+) %\}")


def _plain_render(source: str, scope: dict[str, Any]) -> str:
    """python-liquid's own render of the source."""
    return render_liquid(compile_liquid(source), scope)


def _message(source: str) -> Message:
    return Message(html=source)


def _outside(html: str) -> tuple[list[str], list[tuple[str, htmlscan.StartTag]]]:
    """The text between href values, and each value with its tag."""
    spans = href_spans(html)
    between, values, last = [], [], 0
    for start, end, tag in spans:
        between.append(html[last:start])
        values.append((html[start:end], tag))
        last = end
    between.append(html[last:])
    return between, values


@FUZZ
@given(source=_TEMPLATE, scope=_SCOPE)
def test_an_untracked_message_is_exactly_the_liquid_render(
    source: str, scope: dict[str, Any]
) -> None:
    source = _CIO_LINK.sub(r"\1", source)  # cio_link signs even in an untracked message
    expected = _plain_render(source, scope)
    composed = _message(source).compose(tracking(SETTINGS, scope=scope, tracked=False))
    assert composed.html == expected
    assert composed.links == []


_SIGNED = re.compile(re.escape(BASE) + r"[A-Za-z0-9_-]+/[0-9a-f]{64}")


def _signed_as_href(text: str) -> str:
    """cio_link output outside hrefs, as what it redirects to: its link id differs between
    a tracked and an untracked render (the untracked one numbers fewer links)."""
    return _SIGNED.sub(lambda m: f"<signed {decode(m.group()).href}>", text)


def _check_value(raw: str, new: str, tag: htmlscan.StartTag) -> bool:
    """One href value, as rendered (`raw`) and as tracked (`new`); True if it was tracked."""
    if new == raw:
        url = htmlscan.decode_value(raw).strip()
        classes = tag.get("class")
        untracked = classes is not None and "untracked" in classes.value.split()
        # A web link may stay only under `untracked`; cio_link's output is already tracked.
        assert classify(url) is not UrlKind.TRACKED or untracked or raw.startswith(BASE), raw
        return False
    assert new.startswith(BASE), (raw, new)
    token = decode(new)
    url = htmlscan.decode_value(raw).strip()
    if raw.startswith(BASE):  # cio_link in the href: signed in both renders
        assert token.href == decode(raw).href
    else:
        assert classify(url) is UrlKind.TRACKED
        assert token.href.startswith(url.partition("#")[0].partition("?")[0])
    return True


@FUZZ
@given(source=_TEMPLATE, scope=_SCOPE)
def test_tracking_changes_only_href_values_and_signs_what_they_meant(
    source: str, scope: dict[str, Any]
) -> None:
    message = _message(source)
    plain = message.compose(tracking(SETTINGS, scope=scope, tracked=False)).html
    composed = message.compose(tracking(SETTINGS, scope=scope))
    assert plain is not None and composed.html is not None
    before, before_values = _outside(plain)
    after, after_values = _outside(composed.html)
    assert [_signed_as_href(text) for text in after] == [_signed_as_href(t) for t in before]
    tracked = sum(
        _check_value(raw, new, tag)
        for (raw, tag), (new, _) in zip(before_values, after_values, strict=True)
    )
    in_hrefs = {link.tracked_url for link in composed.links}
    assert tracked <= len(in_hrefs) <= len(composed.links)
    for link in composed.links:
        assert KEYS.verify_click(*link.tracked_url[len(BASE) :].split("/")).href == link.href


_TEXT_PART = st.lists(
    st.sampled_from(
        [
            "Hi {{ text }}, ",
            "see https://a.example/x?y=1 ",
            "{{ url }} ",
            "www.b.example ",
            "{% cio_link url:https://c.example/ %} ",
            '{{ "https://d.example/lit" }} ',
            "{% if flag %}https://e.example/{{ part }}{% endif %} ",
            "\n",
            "mailto:x@y.example ",
        ]
    ),
    max_size=8,
).map("".join)


@FUZZ
@given(source=_TEXT_PART, scope=_SCOPE, channel=st.sampled_from(["email", "sms"]))
def test_an_untracked_text_part_is_exactly_the_liquid_render(
    source: str, scope: dict[str, Any], channel: str
) -> None:
    source = _CIO_LINK.sub(r"\1", source)
    message = Message(channel=channel, text=source)  # type: ignore[arg-type]
    composed = message.compose(tracking(SETTINGS, scope=scope, tracked=False, channel=channel))
    assert composed.text == _plain_render(source, scope)
    tracked = message.compose(tracking(SETTINGS, scope=scope, channel=channel))
    for link in tracked.links:  # each signed for a web or contact link, and written out
        assert link.tracked_url in (tracked.text or "")
        token = KEYS.verify_click(*link.tracked_url[len(BASE) :].split("/"))
        assert token.href == link.href and classify(link.url) is UrlKind.TRACKED
