"""Turn tracking of one link of an HTML template on or off: `class="untracked"` on its tag.

The edit is byte-exact: only that tag's class attribute changes, every other
character of the template stays as written (the dashboard's per-link Track
toggle saves the result as the message's new body). Anchors are numbered as
compose numbers them (`anchors.source_anchors`), so the index the dashboard
shows is the link compose finds.
"""

from __future__ import annotations

import re
from typing import Final

from linktrack.core import htmlscan
from linktrack.core.compose.anchors import SourceAnchor, source_anchors
from linktrack.core.errors import InputError, Unprocessable

UNTRACKED: Final = "untracked"
_WS: Final = "\t\n\f\r "
# The token as a class name: whole, between white space or the value's ends.
_TOKEN: Final = re.compile(rf"(?<![^{_WS}]){UNTRACKED}(?![^{_WS}])")


def set_tracked(html: str, anchor_index: int, tracked: bool, *, liquid: bool = True) -> str:
    """`html` with anchor `anchor_index` tracked (no `untracked` class) or not."""
    found = source_anchors(html, liquid)
    if not 0 <= anchor_index < len(found):
        raise InputError(f"the template has no link {anchor_index + 1} (it has {len(found)})")
    target = found[anchor_index]
    if target.anchor.untracked != tracked:
        return html  # already as asked
    edited = _untrack(html, target) if not tracked else _track(html, target)
    after = source_anchors(edited, liquid)
    if len(after) != len(found) or after[anchor_index].anchor.untracked == tracked:
        # The class is written in a way the edit cannot reach (character references).
        raise Unprocessable(f"link {anchor_index + 1}'s class attribute cannot be changed here")
    return edited


def _untrack(html: str, target: SourceAnchor) -> str:
    tag, offset = target.tag, target.offset
    klass = tag.get("class")
    if klass is None:  # a new attribute right after the tag's name
        at = offset + tag.start + 1 + len(tag.name)
        return f'{html[:at]} class="{UNTRACKED}"{html[at:]}'
    if klass.value_start < 0:  # `class` without a value
        at = _name_end(html, tag, offset)
        return f'{html[:at]}="{UNTRACKED}"{html[at:]}'
    start, end = offset + klass.value_start, offset + klass.value_end
    raw = html[start:end]
    if not raw.strip(_WS):
        value = UNTRACKED
    elif raw[-1] in _WS:
        value = raw + UNTRACKED
    else:
        value = f"{raw} {UNTRACKED}"
    if klass.quote == "":  # unquoted: a space would end the value, so quote it
        value = f'"{value}"'
    return html[:start] + value + html[end:]


def _track(html: str, target: SourceAnchor) -> str:
    tag, offset = target.tag, target.offset
    klass = tag.get("class")
    assert klass is not None and klass.value_start >= 0  # the anchor is untracked
    start, end = offset + klass.value_start, offset + klass.value_end
    raw = html[start:end]
    if not _TOKEN.sub("", raw).strip(_WS):  # nothing else: the attribute goes, and its space
        cut = _name_start(html, klass, offset)
        while cut > 0 and html[cut - 1] in _WS:
            cut -= 1
        return html[:cut] + html[end + len(klass.quote) :]
    # Each token gone with the white space that parted it from the one before (or after).
    out: list[str] = []
    drop_space = False
    for piece in re.split(f"([{_WS}]+)", raw):  # tokens and the white space between
        if piece == UNTRACKED:
            drop_space = not (len(out) > 1 and not out[-1].strip(_WS))
            if not drop_space:
                out.pop()
            continue
        if drop_space and piece and not piece.strip(_WS):
            drop_space = False
            continue
        drop_space = False
        out.append(piece)
    return html[:start] + "".join(out) + html[end:]


def _name_start(html: str, klass: htmlscan.Attr, offset: int) -> int:
    """Where a valued attribute's name starts: before `=`, any white space and the quote."""
    at = offset + klass.value_start - len(klass.quote)
    while html[at - 1] in _WS:
        at -= 1
    assert html[at - 1] == "="
    at -= 1
    while html[at - 1] in _WS:
        at -= 1
    return at - len(klass.name)


def _name_end(html: str, tag: htmlscan.StartTag, offset: int) -> int:
    """Where a valueless `class` attribute's name ends in the tag: its first occurrence
    outside the other attributes' values."""
    start, end = offset + tag.start, offset + tag.end
    inside = [
        (offset + a.value_start, offset + a.value_end) for a in tag.attrs if a.value_start >= 0
    ]
    pattern = re.compile(rf"(?<=[{_WS}/\"'])class(?=[{_WS}/>=])", re.IGNORECASE)
    for m in pattern.finditer(html, start + 1 + len(tag.name), end):
        if not any(a <= m.start() < b for a, b in inside):
            return m.end()
    raise Unprocessable("the link's class attribute could not be found")
