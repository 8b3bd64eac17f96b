"""Generated templates for the Track toggle: `set_tracked` changes one tag's class attribute
and nothing else, sets exactly the asked state, and turning tracking back on after
turning it off restores the source where the class was absent or a quoted list."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from linktrack.core.compose.anchors import source_anchors
from linktrack.core.compose.untrack import set_tracked

FUZZ = settings(max_examples=300, deadline=None)

_WS = st.sampled_from([" ", "  ", "\n", "\t"])
_CLASSES = st.lists(st.sampled_from(["btn", "big", "untracked", "disable-url-params", "x-1"]),
                    max_size=3)  # fmt: skip


@st.composite
def _class_attr(draw: st.DrawFn) -> str:
    names = draw(_CLASSES)
    if not names:
        return draw(st.sampled_from(["", "", " class", ' class=""']))
    value = draw(_WS).join(names)
    quote = draw(st.sampled_from(['"', "'"] + ([""] if len(names) == 1 else [])))
    name = draw(st.sampled_from(["class", "CLASS", "Class"]))
    eq = draw(st.sampled_from(["=", " = "]))
    return f"{draw(_WS)}{name}{eq}{quote}{value}{quote}"


@st.composite
def _anchor(draw: st.DrawFn) -> str:
    href = draw(st.sampled_from(['href="https://a.example/x"', "href='https://b.example/?q=1&amp;r=2'",
                                 "href=https://c.example/", 'href="{{ url }}"']))  # fmt: skip
    others = draw(st.sampled_from(["", ' title="a class b"', " data-cio-tag='hero'", " target=_blank"]))
    klass = draw(_class_attr())
    before = draw(st.booleans())
    attrs = f"{klass} {href}{others}" if before else f" {href}{others}{klass}"
    return f"<{draw(st.sampled_from(['a', 'A']))}{attrs}>{draw(st.sampled_from(['go', 'x']))}</a>"


@st.composite
def _template(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.one_of(_anchor(), st.sampled_from(
        ["<p>Hi {{ name }}</p>", "\n", "<a name=top>no href</a>", "{% if x %}y{% endif %}"]
    )), min_size=1, max_size=6))  # fmt: skip
    return "".join(parts) + '<a href="https://last.example/">last</a>'


@FUZZ
@given(_template(), st.data())
def test_one_class_attribute_changes_and_nothing_else(html: str, data: st.DataObject) -> None:
    found = source_anchors(html, True)
    index = data.draw(st.integers(0, len(found) - 1))
    tracked = data.draw(st.booleans())
    edited = set_tracked(html, index, tracked)
    after = source_anchors(edited, True)
    assert [a.anchor.untracked for a in after] == [
        (not tracked) if i == index else a.anchor.untracked for i, a in enumerate(found)
    ]
    # Outside the edited tag, the source is the same byte for byte.
    tag = found[index].tag
    start, end = tag.start + found[index].offset, tag.end + found[index].offset
    grown = len(edited) - len(html)
    assert edited[:start] == html[:start] and edited[end + grown :] == html[end:]
    # Still the same tag: its other attributes are unchanged.
    new_tag = after[index].tag
    assert [(a.name, a.value) for a in new_tag.attrs if a.name != "class"] == [
        (a.name, a.value) for a in tag.attrs if a.name != "class"
    ]
    # Off then on again gives back the source, where the class was absent or a quoted list.
    klass = tag.get("class")
    plain = klass is None or (klass.quote != "" and klass.value.strip() != "" and
                              not klass.value[-1].isspace())  # fmt: skip
    if not found[index].anchor.untracked and not tracked and plain:
        assert set_tracked(edited, index, True) == html
