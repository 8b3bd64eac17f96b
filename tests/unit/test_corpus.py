"""Every real email template in shared/corpus: tracked, decodable, byte-exact otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import decode, href_spans, shared_dir, tracking
from linktrack.core import htmlscan
from linktrack.core.compose import Message
from linktrack.core.settings import TrackingSettings
from linktrack.core.urls import UrlKind, add_params, classify

CORPUS = shared_dir() / "corpus" / "email"
FILES = sorted(CORPUS.rglob("*.html"))
SETTINGS = TrackingSettings(
    tracking_domain="t.example.com",
    url_params={"utm_source": "linktrack", "utm_medium": "email"},
    add_cio_id=True,
    open_tracking=False,
)


def check_round_trip(html: str) -> int:
    """Rewrite `html`; check each tracked href and that restoring them gives `html` back."""
    composed = Message(html=html, liquid=False).compose(tracking(SETTINGS, cio_id="C1d"))
    out = composed.html
    assert out is not None
    before, after = href_spans(html), href_spans(out)
    assert len(before) == len(after)
    restored, last, tracked = [], 0, 0
    for (b_start, b_end, b_tag), (a_start, a_end, _) in zip(before, after, strict=True):
        raw = html[b_start:b_end]
        new = out[a_start:a_end]
        url = htmlscan.decode_value(raw).strip()
        klass = b_tag.get("class")
        untracked = klass is not None and "untracked" in klass.value.split()
        if classify(url) is UrlKind.TRACKED and not untracked:
            tracked += 1
            token = decode(new)
            assert token.href == add_params(
                url, [("utm_source", "linktrack"), ("utm_medium", "email"), ("_cio_id", "C1d")]
            ) or (
                "disable-url-params" in (klass.value if klass else "")
                and token.href == add_params(url, [("_cio_id", "C1d")])
            )
        else:
            assert new == raw
        restored.append(out[last:a_start])
        restored.append(raw)
        last = a_end
    restored.append(out[last:])
    assert "".join(restored) == html
    assert tracked == len(composed.links)
    return tracked


def test_corpus_is_there() -> None:
    assert len(FILES) >= 40, f"expected the email corpus under {CORPUS}"


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(CORPUS)) for p in FILES])
def test_corpus_file_round_trips(path: Path) -> None:
    html = path.read_text(encoding="utf-8")
    check_round_trip(html)


def test_corpus_tracks_links_overall() -> None:
    total = sum(check_round_trip(p.read_text(encoding="utf-8")) for p in FILES)
    assert total > 100


# Generated HTML: anchors with every quoting style, comments, raw text, entities.
_url = st.sampled_from(
    [
        "https://a.example/",
        "http://b.example/p?q=1&amp;r=2",
        "https://c.example/x#frag",
        "mailto:x@y.example",
        "www.d.example",
        "#top",
        "https://e.example/&copy=1",
    ]
)
_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


@st.composite
def _anchor(draw: st.DrawFn) -> str:
    url = draw(_url)
    quote = draw(st.sampled_from(['"', "'", ""]))
    if quote == "" and any(c in url for c in " \"'=<>`"):
        quote = '"'
    name = draw(st.sampled_from(["href", "HREF", "Href"]))
    extra = draw(
        st.sampled_from(["", ' class="untracked"', " class='x disable-url-params'", "\n  id=a"])
    )
    return (
        f"<{draw(st.sampled_from(['a', 'A']))}{extra} {name}={quote}{url}{quote}>{draw(_text)}</a>"
    )


_chunk = st.one_of(
    _anchor(),
    _text.map(lambda t: t.replace("<", "&lt;")),
    st.sampled_from(
        [
            "<!-- <a href='https://hidden.example/'> -->",
            "<style>a[href='https://s.example']{}</style>",
            "<script>'<a href=\"https://j.example\">'</script>",
            "<p class=x>",
            "</p>",
            "<br/>",
            "&nbsp;&amp;",
            '<!--[if mso]><v:rect href="https://v.example/"></v:rect><![endif]-->',
        ]
    ),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_chunk, max_size=12).map("".join))
def test_property_byte_exact_on_generated_html(html: str) -> None:
    check_round_trip(html)
