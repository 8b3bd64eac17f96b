"""The HTML scanner reads start tags, attributes and comments like the WHATWG tokenizer."""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import shared_dir
from linktrack.core.htmlscan import Attr, Comment, StartTag, decode_value, scan

SHARED = shared_dir()
TOKENIZER_DIR = SHARED / "corpus" / "html5lib-tokenizer"
EMAIL_DIR = SHARED / "corpus" / "email"

# The corpus README counts the Data-state tests that expect StartTag tokens.
EXPECTED_START_TAG_TESTS = 434
# Conformance tests the scanner is allowed to skip, by id, with the reason.
SKIPS: dict[str, str] = {}
# Emails where html.parser (not spec-exact) legitimately reads other hrefs.
HTMLPARSER_DIFFERS: dict[str, str] = {}


def _missing(what: Path) -> Any:
    """A parameter standing for a corpus that is not there."""
    return pytest.param(what, id="corpus-missing")


def _require(case: object) -> None:
    """Fail on CI, skip elsewhere, when a test got the missing-corpus parameter."""
    if isinstance(case, Path):
        reason = f"corpus not found at {case} (set LINKTRACK_SHARED to the shared/ folder)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


# --- html5lib tokenizer corpus -------------------------------------------------
_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})")


def _unescape(value: Any) -> Any:
    """Undo the extra \\uXXXX escaping of `doubleEscaped` tests, recursively."""
    if isinstance(value, str):
        return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)
    if isinstance(value, list):
        return [_unescape(v) for v in value]
    if isinstance(value, dict):
        return {_unescape(k): _unescape(v) for k, v in value.items()}
    return value


def _load_tests() -> list[tuple[str, dict[str, Any]]]:
    """(id, test) for every test, inputs and outputs unescaped."""
    cases: list[tuple[str, dict[str, Any]]] = []
    # xmlViolation.test expects the XML-infoset coercions, not tokenizer output.
    for path in sorted(TOKENIZER_DIR.glob("*.test")):
        if path.name == "xmlViolation.test":
            continue
        for i, test in enumerate(json.loads(path.read_text(encoding="utf-8"))["tests"]):
            if test.get("doubleEscaped"):
                test = {
                    **test,
                    "input": _unescape(test["input"]),
                    "output": _unescape(test["output"]),
                }
            slug = re.sub(r"[^A-Za-z0-9]+", "_", test["description"]).strip("_")[:40]
            cases.append((f"{path.stem}-{i:04d}-{slug}", test))
    return cases


TESTS = _load_tests() if TOKENIZER_DIR.is_dir() else []


def _data_state(test: dict[str, Any]) -> bool:
    states = test.get("initialStates", ["Data state"])
    return "Data state" in states and "lastStartTag" not in test


START_TAG_CASES = [
    pytest.param(test, id=cid, marks=[pytest.mark.skip(reason=SKIPS[cid])] if cid in SKIPS else [])
    for cid, test in TESTS
    if _data_state(test) and any(tok[0] == "StartTag" for tok in test["output"])
] or [_missing(TOKENIZER_DIR)]


def _tags(tokens: list[StartTag | Comment]) -> list[list[Any]]:
    return [
        ["StartTag", t.name, {a.name: a.value for a in t.attrs}]
        for t in tokens
        if isinstance(t, StartTag)
    ]


def _tokens(source: str, tokens: list[StartTag | Comment]) -> list[list[Any]]:
    """Start tags and comments in the html5lib format (comment data preprocessed)."""
    out: list[list[Any]] = []
    for t in tokens:
        if isinstance(t, StartTag):
            out.append(["StartTag", t.name, {a.name: a.value for a in t.attrs}])
        else:
            data = source[t.data_start : t.data_end]
            data = data.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "\ufffd")
            out.append(["Comment", data])
    return out


def _expected(test: dict[str, Any], kinds: tuple[str, ...]) -> list[list[Any]]:
    return [tok[:3] for tok in test["output"] if tok[0] in kinds]


@pytest.mark.parametrize("test", START_TAG_CASES)
def test_tokenizer_start_tags(test: dict[str, Any]) -> None:
    _require(test)
    assert _tags(scan(test["input"], rawtext=False)) == _expected(test, ("StartTag",))


def test_tokenizer_start_tag_case_count() -> None:
    if not TESTS:
        _require(TOKENIZER_DIR)
    assert len(START_TAG_CASES) == EXPECTED_START_TAG_TESTS


def test_tokenizer_all_data_state_tests_tags_and_comments() -> None:
    """Every Data-state test, with or without tags: start tags and comment data agree."""
    if not TESTS:
        _require(TOKENIZER_DIR)
    failures = []
    for cid, test in TESTS:
        if not _data_state(test) or cid in SKIPS:
            continue
        source = test["input"]
        got = _tokens(source, scan(source, rawtext=False))
        if got != _expected(test, ("StartTag", "Comment")):
            failures.append(cid)
    assert failures == []


def test_tokenizer_corpus_unaffected_by_rawtext_switching() -> None:
    """No corpus test changes when the scanner follows <script>, <title> etc. into text."""
    for cid, test in TESTS:
        if _data_state(test):
            assert scan(test["input"]) == scan(test["input"], rawtext=False), cid


# Text-state tests whose state a start tag of `lastStartTag` puts the scanner in.
_TEXT_STATE_TAGS = {
    "Script data state": {"script"},
    "RAWTEXT state": {"style", "xmp", "iframe", "noembed", "noframes", "noscript"},
    "RCDATA state": {"title", "textarea", "xmp"},  # end-tag matching is the same
    "PLAINTEXT state": {"plaintext"},
}
TEXT_STATE_CASES = [
    pytest.param(test, id=f"{cid}-{state.split()[0]}")
    for cid, test in TESTS
    for state in test.get("initialStates", [])
    if test.get("lastStartTag") in _TEXT_STATE_TAGS.get(state, ())
] or [_missing(TOKENIZER_DIR)]


@pytest.mark.parametrize("test", TEXT_STATE_CASES)
def test_tokenizer_text_states(test: dict[str, Any]) -> None:
    """Raw text, RCDATA, script data (escaped states included) end where the spec says."""
    _require(test)
    source = f"<{test['lastStartTag']}>{test['input']}"
    got = _tokens(source, scan(source))[1:]
    assert got == _expected(test, ("StartTag", "Comment"))


# --- Raw text, RCDATA, script and comments ----------------------------------------
def _names(source: str, **kw: Any) -> list[str]:
    return [t.name if isinstance(t, StartTag) else "#comment" for t in scan(source, **kw)]


@pytest.mark.parametrize(
    ("source", "names"),
    [
        ("<style>a <a href='x'> b</style><a href=y>", ["style", "a"]),
        ("<STYLE>x</STYLE ><p>", ["style", "p"]),
        ("<style>x</stylex><a></style/><b>", ["style", "b"]),
        ('<style>x</style foo="<a>"><i>', ["style", "i"]),
        ("<title><b>t</b></title><a>", ["title", "a"]),
        ("<textarea><a href=x></textarea\n><a>", ["textarea", "a"]),
        ("<xmp><a></xmp><a>", ["xmp", "a"]),
        ("<iframe><a></iframe><a>", ["iframe", "a"]),
        ("<noscript><a></noscript><a>", ["noscript", "a"]),
        ("<noembed><a></noembed><noframes><a></noframes><a>", ["noembed", "noframes", "a"]),
        ("<plaintext><a></plaintext><a>", ["plaintext"]),
        ("<style><!-- <a> --></style><a>", ["style", "a"]),
        ("<style>unterminated <a>", ["style"]),
        ("<script>if (a<b) x = '<a>';</script><a>", ["script", "a"]),
        ("<script>'</script>'<a>", ["script", "a"]),
        ("<script><!-- </script><a>", ["script", "a"]),
        ("<script><!--<script></script><a></script><b>", ["script", "b"]),
        ("<script><!--<script>--></script><a>", ["script", "a"]),
        ("<script><!--<script></script>--></script><a>", ["script", "a"]),
        ("<script><!--<SCRIPT >x</SCRIPT><i>--><b></script><a>", ["script", "a"]),
        ("<script><!--><a></script><b>", ["script", "b"]),
        ("<script><!--<scripts></script><a>", ["script", "a"]),
        ("<script><!-- <script>", ["script"]),
        ("<!-- <a href=x> --><a>", ["#comment", "a"]),
        ("<!--[if mso]><v:roundrect href='x'><![endif]--><a>", ["#comment", "a"]),
        ("<!--[if !mso]><!--><a><!--<![endif]-->", ["#comment", "a", "#comment"]),
        ("<!--><a><!---><b>", ["#comment", "a", "#comment", "b"]),
        ("<!-- x --!><a>", ["#comment", "a"]),
        ("<!-- x --!-><a>-->", ["#comment"]),
        ("<?xml version='1.0'?><a>", ["#comment", "a"]),
        ("<!DOCTYPE html><a>", ["a"]),
        ("<![CDATA[<b>]]><a>", ["#comment", "a"]),
        ("<!foo><a>", ["#comment", "a"]),
        ("</ x><a>", ["#comment", "a"]),
        ("</a href='<b>'><a>", ["a"]),
        ("</><a>", ["a"]),
        ("<a title='>'><b", ["a"]),
        ('<a href="x', []),
        ('<a href="x>', []),  # EOF in a quoted value: the tag is dropped
        ("<p title='x> <a href=y>", []),
        ("<p title=", []),
        ("a < b <3 <<a>", ["a"]),
    ],
)
def test_text_states_and_comments(source: str, names: list[str]) -> None:
    assert _names(source) == names


def test_eof_inside_an_unwanted_tag_hides_the_rest() -> None:
    assert _names("<p title='x> <a href=y>", names=frozenset({"a"})) == []
    assert _names("<!-- c --><p a=1 b='x> <a href=y>", names=frozenset({"a"})) == ["#comment"]


def test_rawtext_false_reads_inside_style() -> None:
    assert _names("<style><a></style>", rawtext=False) == ["style", "a"]


def test_rawtext_switch_happens_even_when_not_reported() -> None:
    source = (
        "<title><a href=1></title><style><a href=2></style><script><a href=3></script><a href=4>"
    )
    hrefs = [t.get("href") for t in scan(source, frozenset({"a"})) if isinstance(t, StartTag)]
    assert [h.value for h in hrefs if h is not None] == ["4"]


def test_comment_spans() -> None:
    source = "x<!-- hi -->y<!-->z<?pi>"
    c1, c2, c3 = scan(source)
    assert isinstance(c1, Comment) and isinstance(c2, Comment) and isinstance(c3, Comment)
    assert source[c1.start : c1.end] == "<!-- hi -->"
    assert source[c1.data_start : c1.data_end] == " hi "
    assert (source[c2.start : c2.end], c2.data_start == c2.data_end) == ("<!-->", True)
    assert source[c3.data_start : c3.data_end] == "?pi"
    unterminated = "<!-- open--"
    (c4,) = scan(unterminated)
    assert isinstance(c4, Comment)
    assert (unterminated[c4.data_start : c4.data_end], c4.end) == (" open", len(unterminated))


# --- Spans -----------------------------------------------------------------------
def _check_spans(source: str, tag: StartTag) -> None:
    assert source[tag.start] == "<"
    assert source[tag.end - 1] == ">"
    assert len({a.name for a in tag.attrs}) == len(tag.attrs)
    for a in tag.attrs:
        if a.value_start < 0:
            assert (a.value_end, a.value, a.quote) == (-1, "", "")
            continue
        assert tag.start < a.value_start <= a.value_end < tag.end
        raw = source[a.value_start : a.value_end]
        assert decode_value(raw) == a.value
        if a.quote:
            assert source[a.value_start - 1] == a.quote == source[a.value_end]
            assert a.quote not in raw


@pytest.mark.parametrize(
    ("source", "attr", "raw", "value", "quote"),
    [
        ('<a href="https://x.test/?a=1&amp;b=2">', "href", "https://x.test/?a=1&amp;b=2",
         "https://x.test/?a=1&b=2", '"'),
        ("<a href='it\"s'>", "href", 'it"s', 'it"s', "'"),
        ("<a href=http://x.test/a?b=c>", "href", "http://x.test/a?b=c", "http://x.test/a?b=c", ""),
        ("<a href=/>", "href", "/", "/", ""),
        ('<A HREF="X">', "href", "X", "X", '"'),
        ('<a\nclass="c"\r\n  href\n=\n"u\r\nv"\n>', "href", "u\r\nv", "u\nv", '"'),
        ('<a href="1" HREF="2" href=3>', "href", "1", "1", '"'),
        ('<a href="x"/>', "href", "x", "x", '"'),
        ("<a href='x'class=y>", "class", "y", "y", ""),
        ('<a href="?a=1&copy=2&copy;&lt&#x41;&#65">', "href", "?a=1&copy=2&copy;&lt&#x41;&#65",
         "?a=1&copy=2©<AA", '"'),
        ('<a href="&#x80;&#0;&#xD800;&#x110000;&#13;">', "href", "&#x80;&#0;&#xD800;&#x110000;&#13;",
         "€\ufffd\ufffd\ufffd\r", '"'),
        ("<a h\0ref='a\0b'>", "h\ufffdref", "a\0b", "a\ufffdb", "'"),
        ("<a href=>", "href", "", "", ""),
        ("<a title=\"x>y\" href='z'>", "title", "x>y", "x>y", '"'),
        ('<v:roundrect href="x">', "href", "x", "x", '"'),
    ],
)  # fmt: skip
def test_value_spans(source: str, attr: str, raw: str, value: str, quote: str) -> None:
    (tag,) = scan(source)
    assert isinstance(tag, StartTag)
    _check_spans(source, tag)
    a = tag.get(attr)
    assert a is not None
    assert (source[a.value_start : a.value_end], a.value, a.quote) == (raw, value, quote)


def test_attribute_without_value_and_duplicates() -> None:
    (tag,) = scan('<input disabled Disabled=x type="checkbox" TYPE=radio>')
    assert isinstance(tag, StartTag)
    assert tag.attrs == (
        Attr("disabled", "", -1, -1, ""),
        Attr("type", "checkbox", 33, 41, '"'),
    )
    assert tag.get("missing") is None


def test_splicing_changes_only_the_value() -> None:
    source = "<p>Hi</p>\n<A class=btn HREF = 'https://x.test/?a=1&amp;b=2' >Go</A>"
    (tag,) = scan(source, frozenset({"a"}))
    assert isinstance(tag, StartTag)
    href = tag.get("href")
    assert href is not None and href.value == "https://x.test/?a=1&b=2"
    spliced = source[: href.value_start] + "https://t.test/c/1" + source[href.value_end :]
    assert spliced == "<p>Hi</p>\n<A class=btn HREF = 'https://t.test/c/1' >Go</A>"


def test_names_filter_and_tag_names() -> None:
    source = "<P><a href=1><V:RoundRect href=2><abbr><a/><area href=3>"
    assert _names(source) == ["p", "a", "v:roundrect", "abbr", "a", "area"]
    assert _names(source, names=frozenset({"a"})) == ["a", "a"]
    assert _names(source, names=frozenset({"v:roundrect", "area"})) == ["v:roundrect", "area"]
    # Only ASCII letters are lower-cased, and a tag name must start with one.
    assert _names("<É><xÉ><xé>") == ["xÉ", "xé"]
    assert _names("<É><xÉ><xé>", names=frozenset({"xé"})) == ["xé"]


# --- Property tests ----------------------------------------------------------------
_NAME = st.sampled_from(
    ["a", "A", "p", "script", "style", "title", "textarea", "xmp", "v:roundrect", "b\0", "xé"]
)
_ATTR_NAME = st.sampled_from(["href", "HREF", "class", "x", "=", 'a"b', "a<b", "/", ""])
_VALUE = st.text(alphabet="ab &;#x=<>/'\"\n\r\t\0-!", max_size=12) | st.sampled_from(
    ["&amp;", "&copy=", "&lt", "&#x80;", "https://x.test/?a=1&amp;b=2", "</script>", "-->"]
)
_WS = st.sampled_from(["", " ", "\n", "\r\n", "\t", "/", " / "])


@st.composite
def _attribute(draw: st.DrawFn) -> str:
    name = draw(_ATTR_NAME)
    quote = draw(st.sampled_from(['"', "'", "", None]))
    if quote is None:
        return name
    value = draw(_VALUE)
    # Keep the intended quoting: no closing quote inside, no terminator when unquoted.
    value = value.replace(quote, "") if quote else re.sub(r"[\t\n\f\r >]", "", value)
    return f"{name}{draw(_WS).strip('/')}={draw(_WS).strip('/')}{quote}{value}{quote}"


@st.composite
def _tag(draw: st.DrawFn) -> str:
    attrs = draw(st.lists(_attribute(), max_size=4))
    parts = "".join(draw(_WS) + a for a in attrs)
    end = draw(st.sampled_from([">", "/>", " >", ""]))
    return f"<{draw(st.sampled_from(['', '/']))}{draw(_NAME)}{parts}{end}"


_MARKUP = [
    "<!--", "-->", "--!>", "<!-->", "<!DOCTYPE html>", "<?x>", "</", "<![CDATA[", "<!--[if mso]>",
    "<![endif]-->", "</script>", "</style >", "<script>", "</title>",
]  # fmt: skip
_HTMLISH = st.lists(
    _tag() | st.text(alphabet="ab <>/!-?'\"=&;\n\r\0", max_size=10) | st.sampled_from(_MARKUP),
    max_size=12,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(_HTMLISH)
def test_scan_invariants(source: str) -> None:
    tokens = scan(source)
    prev_end = 0
    for t in tokens:
        assert prev_end <= t.start < t.end <= len(source)
        prev_end = t.end
        if isinstance(t, StartTag):
            _check_spans(source, t)
        else:
            assert t.start < t.data_start <= t.data_end <= t.end
    # The fast path that skips unwanted tags inside one regex agrees with the full scan.
    for names in (frozenset({"a"}), frozenset({"script", "p"}), frozenset()):
        expected = [t for t in tokens if isinstance(t, Comment) or t.name in names]
        assert scan(source, names) == expected
    assert all(isinstance(t, Comment) or "\0" not in t.name for t in scan(source, rawtext=False))


# --- Real emails -------------------------------------------------------------------
class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.extend([v for k, v in attrs if k == "href"][:1])


EMAILS = sorted(EMAIL_DIR.rglob("*.html")) if EMAIL_DIR.is_dir() else []


@pytest.mark.parametrize(
    "path",
    [pytest.param(p, id=str(p.relative_to(EMAIL_DIR))) for p in EMAILS] or [_missing(EMAIL_DIR)],
)
def test_email_corpus_matches_html_parser(path: Path) -> None:
    _require(path if not path.is_file() else None)
    source = path.read_text(encoding="utf-8")
    tokens = scan(source)
    for t in tokens:
        if isinstance(t, StartTag):
            _check_spans(source, t)
    links = [t for t in scan(source, frozenset({"a"})) if isinstance(t, StartTag)]
    assert links == [t for t in tokens if isinstance(t, StartTag) and t.name == "a"]
    key = str(path.relative_to(EMAIL_DIR))
    if key in HTMLPARSER_DIFFERS:
        pytest.skip(HTMLPARSER_DIFFERS[key])
    parser = _Hrefs()
    parser.feed(source)
    parser.close()
    ours = [href.value for t in links if (href := t.get("href")) is not None]
    assert ours == parser.hrefs
