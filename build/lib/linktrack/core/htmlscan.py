"""Find start tags and comments in HTML exactly as the WHATWG tokenizer reads them.

The scanner reports offsets into the source string, never a re-serialisation,
so a caller can splice new attribute values into the original text and leave
every other character untouched.

How it stays fast: the tokenizer's tag grammar is regular, so each tag is read
by one precompiled regex whose alternatives are decided by their first
character and whose quantifiers are possessive. Such a regex cannot take a path
the state machine would not take; it fails only where the tokenizer would hit
end-of-file inside the tag. Text, end tags, DOCTYPEs and start tags the caller
did not ask for are skipped inside a single regex match, so Python code runs
only for reported tokens and for rare odd input.

Tree-builder behaviour that is imitated (a browser switches the tokenizer
state from the tree builder): after ``script``, ``style``, ``xmp``,
``iframe``, ``noembed``, ``noframes``, ``noscript``, ``title``, ``textarea``
and ``plaintext`` start tags the contents are text. Simplified: these tags
switch state even inside ``<svg>``/``<math>``, where a browser would not, and
``<noscript>`` is read as when scripting is enabled (as in browsers).
Script data follows the spec's escaped and double-escaped states exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from html.entities import html5 as _HTML5

__all__ = ["Attr", "Comment", "StartTag", "decode_value", "scan"]


@dataclass(frozen=True, slots=True)
class Attr:
    """One attribute of a start tag, with the span of its raw value in the source."""

    name: str
    value: str
    value_start: int
    value_end: int
    quote: str


@dataclass(frozen=True, slots=True)
class StartTag:
    """A start tag; ``attrs`` holds the first occurrence of each name only."""

    name: str
    start: int
    end: int
    attrs: tuple[Attr, ...]

    def get(self, name: str) -> Attr | None:
        """The attribute called ``name`` (lower-case), or None."""
        for attr in self.attrs:
            if attr.name == name:
                return attr
        return None


@dataclass(frozen=True, slots=True)
class Comment:
    """A comment, including bogus comments such as ``<?xml ...>`` and ``<!foo>``."""

    start: int
    end: int
    data_start: int
    data_end: int


# --- Grammar -----------------------------------------------------------------
# Whitespace includes CR: the input-stream preprocessing turns CR into LF
# before the tokenizer sees it.
_WS = r"\t\n\f\r "
# One step of the "before attribute name" state and everything it leads to.
# '/' not followed by '>' puts the self-closing state back into "before
# attribute name", so it behaves like whitespace there. An attribute name may
# start with '=' only in that state. `(?!=)` makes a value that cannot be read
# (EOF) fail the step instead of re-reading its '=' as a new attribute name.
_TAG_REST = (
    rf"(?:[{_WS}/]++"
    rf"|[^{_WS}/>][^{_WS}/>=]*+[{_WS}]*+"
    rf"(?:=[{_WS}]*+(?:\"[^\"]*+\"|'[^']*+'|[^{_WS}>\"'][^{_WS}>]*+|(?=>))|(?!=))"
    rf")*+>"
)
_TAG_NAME = rf"[A-Za-z][^{_WS}/>]*+"
_START_TAG = re.compile(rf"<({_TAG_NAME}){_TAG_REST}")
_END_TAG = re.compile(rf"</{_TAG_NAME}{_TAG_REST}")
# Attributes inside a tag already known to end at `endpos` (its '>'): no EOF
# cases remain, so a plain regex reads them exactly.
_ATTR = re.compile(
    rf"([^{_WS}/>][^{_WS}/>=]*)"
    rf"(?:[{_WS}]*=[{_WS}]*(?:\"([^\"]*)\"|'([^']*)'|([^{_WS}>\"'][^{_WS}>]*|)))?"
)
_DOCTYPE = re.compile(r"<!doctype", re.ASCII | re.IGNORECASE)
_COMMENT_END = re.compile(r"--!?>")

# Text states entered after these start tags (tree-builder rules).
_RAWTEXT = frozenset({"style", "xmp", "iframe", "noembed", "noframes", "noscript"})
_RCDATA = frozenset({"title", "textarea"})
_SWITCHING = _RAWTEXT | _RCDATA | {"script", "plaintext"}

# Script data: from the data state, `<!--` enters the escaped state; there
# `<script` enters double-escaped, where `</script` does not end the element.
_TERM = rf"[{_WS}/>]"
_SCRIPT_DATA = re.compile(rf"</script{_TERM}|<!--", re.ASCII | re.IGNORECASE)
_SCRIPT_ESCAPED = re.compile(rf"-->|<(/?)script{_TERM}", re.ASCII | re.IGNORECASE)
_SCRIPT_DOUBLE = re.compile(rf"-->|</script{_TERM}", re.ASCII | re.IGNORECASE)


@lru_cache(maxsize=64)
def _end_tag_re(name: str) -> re.Pattern[str]:
    return re.compile(rf"</{re.escape(name)}{_TERM}", re.ASCII | re.IGNORECASE)


@lru_cache(maxsize=64)
def _skipper(names: frozenset[str] | None, rawtext: bool) -> re.Pattern[str]:
    """A regex consuming everything up to the next token that needs Python's attention."""
    boring = [
        r"[^<]++",
        _END_TAG.pattern,
        r"<!(?ai:doctype)[^>]*+>",
        r"</>",
        r"<(?![A-Za-z!/?])",
    ]
    if names is not None:
        wanted = {n for n in names if n == _ascii_lower(n)}
        if rawtext:
            wanted |= _SWITCHING
        # The source holds NUL where a name has U+FFFD.
        alts = sorted(
            (re.escape(n).replace("\ufffd", "[\ufffd\x00]") for n in wanted),
            key=len,
            reverse=True,
        )
        guard = f"(?!(?ai:{'|'.join(alts)})[{_WS}/>])" if alts else ""
        boring.append(rf"<{guard}{_TAG_NAME}{_TAG_REST}")
    return re.compile("(?:" + "|".join(boring) + ")*+")


# --- Names and character references ------------------------------------------
_UPPER_TO_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _ascii_lower(s: str) -> str:
    # str.lower() would also fold non-ASCII letters, which the tokenizer keeps.
    return s.lower() if s.isascii() else s.translate(_UPPER_TO_LOWER)


def _norm_name(raw: str) -> str:
    name = _ascii_lower(raw)
    return name.replace("\0", "\ufffd") if "\0" in name else name


_CHARREF = re.compile(r"&(?:#[xX]([0-9A-Fa-f]+);?|#([0-9]+);?|([A-Za-z0-9]+;?))")
_ALNUM_OR_EQ = re.compile(r"[A-Za-z0-9=]")
_LONGEST_ENTITY = max(map(len, _HTML5))
# Numeric references to C1 controls mean windows-1252 characters.
_C1 = {
    0x80: "\u20ac", 0x82: "\u201a", 0x83: "\u0192", 0x84: "\u201e", 0x85: "\u2026",
    0x86: "\u2020", 0x87: "\u2021", 0x88: "\u02c6", 0x89: "\u2030", 0x8A: "\u0160",
    0x8B: "\u2039", 0x8C: "\u0152", 0x8E: "\u017d", 0x91: "\u2018", 0x92: "\u2019",
    0x93: "\u201c", 0x94: "\u201d", 0x95: "\u2022", 0x96: "\u2013", 0x97: "\u2014",
    0x98: "\u02dc", 0x99: "\u2122", 0x9A: "\u0161", 0x9B: "\u203a", 0x9C: "\u0153",
    0x9E: "\u017e", 0x9F: "\u0178",
}  # fmt: skip


def _numeric(digits: str, base: int) -> str:
    digits = digits.lstrip("0")
    # More than 8 significant digits is beyond U+10FFFF in either base.
    cp = int(digits, base) if 0 < len(digits) <= 8 else (0 if not digits else 0x110000)
    if cp == 0 or cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
        return "\ufffd"
    return _C1.get(cp) or chr(cp)


def _charref(m: re.Match[str]) -> str:
    hexa, dec, run = m.group(1, 2, 3)
    if hexa is not None:
        return _numeric(hexa, 16)
    if dec is not None:
        return _numeric(dec, 10)
    # Named: the longest prefix of the run that is a known name.
    for size in range(min(len(run), _LONGEST_ENTITY), 1, -1):
        ref = run[:size]
        if ref in _HTML5:
            if ref[-1] != ";":
                # Legacy names without ';' stay literal in attributes when
                # followed by '=' or an alphanumeric (e.g. "?a=1&copy=2").
                nxt = m.end(3) - len(run) + size
                if _ALNUM_OR_EQ.match(m.string, nxt):
                    return m.group()
            return _HTML5[ref] + run[size:]
    return m.group()


def decode_value(raw: str) -> str:
    """The attribute value the tokenizer produces from the raw source text ``raw``."""
    if "\r" in raw:
        raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    if "\0" in raw:
        raw = raw.replace("\0", "\ufffd")
    if "&" in raw:
        # URLs in emails mostly hold only "&amp;", which needs no regex.
        if raw.count("&") == raw.count("&amp;"):
            return raw.replace("&amp;", "&")
        raw = _CHARREF.sub(_charref, raw)
    return raw


_QUOTES = ("", "", '"', "'", "")


def _attrs(source: str, pos: int, endpos: int) -> tuple[Attr, ...]:
    attrs: list[Attr] = []
    seen: set[str] = set()
    for m in _ATTR.finditer(source, pos, endpos):
        name = _norm_name(m.group(1))
        if name in seen:
            continue
        seen.add(name)
        group = m.lastindex or 1  # 1: no value; 2, 3, 4: double, single, unquoted
        if group == 1:
            attrs.append(Attr(name, "", -1, -1, ""))
            continue
        raw = m.group(group)
        value = decode_value(raw) if ("&" in raw or "\0" in raw or "\r" in raw) else raw
        attrs.append(Attr(name, value, m.start(group), m.end(group), _QUOTES[group]))
    return tuple(attrs)


# --- Scanner -----------------------------------------------------------------
def _comment_end(source: str, data_start: int) -> tuple[int, int]:
    """(data_end, end) of a `<!--` comment whose data starts at ``data_start``."""
    if source.startswith(">", data_start):  # <!-->
        return data_start, data_start + 1
    if source.startswith("->", data_start):  # <!--->
        return data_start, data_start + 2
    m = _COMMENT_END.search(source, data_start)
    if m is not None:
        return m.start(), m.end()
    # EOF: the dashes of an unfinished "--!" ending are not data.
    n = len(source)
    data_end = n
    for tail in ("--!", "--", "-"):
        if source.endswith(tail) and n - len(tail) >= data_start:
            data_end = n - len(tail)
            break
    return data_end, n


def _bogus(source: str, start: int, data_start: int) -> Comment:
    gt = source.find(">", data_start)
    if gt < 0:
        return Comment(start, len(source), data_start, len(source))
    return Comment(start, gt + 1, data_start, gt)


def _script_end(source: str, pos: int) -> int:
    """Offset of the `</script` that ends script data starting at ``pos``, or -1."""
    while True:
        m = _SCRIPT_DATA.search(source, pos)
        if m is None:
            return -1
        if m.group()[1] == "/":
            return m.start()
        pos = m.start() + 2  # the "--" of "<!--" already counts towards "-->"
        while True:  # escaped
            m = _SCRIPT_ESCAPED.search(source, pos)
            if m is None:
                return -1
            pos = m.end()
            if m.group(1) is None:  # "-->"
                break
            if m.group(1):
                return m.start()
            m = _SCRIPT_DOUBLE.search(source, pos)  # double escaped
            if m is None:
                return -1
            pos = m.end()
            if m.group() == "-->":
                break


def _text_end(source: str, name: str, pos: int) -> int:
    """Where the raw text after a ``name`` start tag ends, or -1 if it runs to EOF."""
    if name == "plaintext":
        return -1
    if name == "script":
        return _script_end(source, pos)
    m = _end_tag_re(name).search(source, pos)
    return -1 if m is None else m.start()


def _end_tag(source: str, pos: int, out: list[StartTag | Comment]) -> int:
    """Past `</…` at `pos` (a bogus comment goes to `out`); -1 at the end of input."""
    after = source[pos + 2 : pos + 3]
    if after.isascii() and after.isalpha():
        e = _END_TAG.match(source, pos)
        return -1 if e is None else e.end()
    if after == ">":
        return pos + 3
    if not after:
        return -1
    out.append(_bogus(source, pos, pos + 2))
    return out[-1].end


def _markup_declaration(source: str, pos: int, out: list[StartTag | Comment]) -> int:
    """Past `<!…` at `pos` (comments go to `out`); -1 at the end of input."""
    if source.startswith("--", pos + 2):
        data_end, end = _comment_end(source, pos + 4)
        out.append(Comment(pos, end, pos + 4, data_end))
        return end
    if _DOCTYPE.match(source, pos):
        gt = source.find(">", pos)
        return -1 if gt < 0 else gt + 1
    # Includes <![CDATA[, which is a bogus comment in HTML content.
    out.append(_bogus(source, pos, pos + 2))
    return out[-1].end


def scan(
    source: str, names: frozenset[str] | None = None, *, rawtext: bool = True
) -> list[StartTag | Comment]:
    """Start tags (only those named in `names`, all if None) and comments, in document order.

    With ``rawtext=False`` the tokenizer never leaves the data state, as in the
    html5lib tokenizer tests; by default it follows the tree builder into
    raw-text states after ``<script>``, ``<style>``, ``<title>`` and the like.
    Tags cut off by the end of input are not reported (the tokenizer drops them).
    """
    out: list[StartTag | Comment] = []
    skip = _skipper(names, rawtext)
    n = len(source)
    pos = 0
    while True:
        skipped = skip.match(source, pos)  # a `*+` loop: always matches, maybe empty
        if skipped is not None:
            pos = skipped.end()
        if pos >= n:
            return out
        # source[pos] == "<" and what follows needs a closer look.
        nxt = source[pos + 1 : pos + 2]
        if nxt.isascii() and nxt.isalpha():
            m = _START_TAG.match(source, pos)
            if m is None:
                return out  # EOF inside the tag
            name = _norm_name(m.group(1))
            if names is None or name in names:
                out.append(StartTag(name, pos, m.end(), _attrs(source, m.end(1), m.end() - 1)))
            pos = m.end()
            if rawtext and name in _SWITCHING:
                pos = _text_end(source, name, pos)
                if pos < 0:
                    return out
        elif nxt == "/":
            pos = _end_tag(source, pos, out)
            if pos < 0:
                return out
        elif nxt == "!":
            pos = _markup_declaration(source, pos, out)
            if pos < 0:
                return out
        elif nxt == "?":
            out.append(_bogus(source, pos, pos + 1))
            pos = out[-1].end
        else:
            pos += 1
