"""The per-link Track toggle's template edit: `class="untracked"` on one anchor, byte-exact."""

from __future__ import annotations

import pytest

from helpers import compose
from linktrack.core.compose import Message
from linktrack.core.compose.anchors import source_anchors
from linktrack.core.compose.untrack import set_tracked
from linktrack.core.errors import InputError

HEAD = '<p>Hi {{ customer.first_name }}</p>\n<a href="https://keep.example/">keep</a>\n'


@pytest.mark.parametrize(
    ("tag", "untracked"),
    [
        # class absent: a new attribute after the tag's name
        ('<a href="https://x.example/">', '<a class="untracked" href="https://x.example/">'),
        # present with other classes, double quotes
        ('<a class="btn big" href="https://x.example/">',
         '<a class="btn big untracked" href="https://x.example/">'),
        # single quotes
        ("<a href='https://x.example/' class='btn'>",
         "<a href='https://x.example/' class='btn untracked'>"),
        # unquoted: quoted, since a space would end the value
        ("<a href=https://x.example/ class=btn>", '<a href=https://x.example/ class="btn untracked">'),
        # upper-case name, white space around `=`, an empty value
        ('<A HREF="https://x.example/" CLASS = "">', '<A HREF="https://x.example/" CLASS = "untracked">'),
        # a class without a value
        ('<a class href="https://x.example/">', '<a class="untracked" href="https://x.example/">'),
    ],
)  # fmt: skip
def test_untracking_edits_only_the_class_attribute(tag: str, untracked: str) -> None:
    html = f"{HEAD}{tag}go</a>\n<!-- end -->"
    edited = set_tracked(html, 1, False)
    assert edited == f"{HEAD}{untracked}go</a>\n<!-- end -->"
    assert [a.anchor.untracked for a in source_anchors(edited, True)] == [False, True]


@pytest.mark.parametrize(
    ("tag", "tracked"),
    [
        ('<a class="untracked" href="u">', '<a href="u">'),
        ('<a href="u" class="btn untracked">', '<a href="u" class="btn">'),
        ('<a href="u" class="untracked  btn">', '<a href="u" class="btn">'),
        ("<a href='u' class='a untracked b'>", "<a href='u' class='a b'>"),
        ("<a href=u class=untracked>", "<a href=u>"),
        ('<a href="u" class=" untracked ">', '<a href="u">'),
    ],
)
def test_tracking_again_removes_only_the_token(tag: str, tracked: str) -> None:
    html = f"{tag}x</a>"
    assert set_tracked(html, 0, True) == f"{tracked}x</a>"


def test_already_as_asked_is_unchanged_and_a_round_trip_restores_the_source() -> None:
    html = f'{HEAD}<a class="untracked" href="https://x.example/">x</a>'
    assert set_tracked(html, 1, False) == html
    assert set_tracked(html, 0, True) == html
    assert set_tracked(set_tracked(html, 0, False), 0, True) == html
    plain = '<a href="https://x.example/">x</a> <a href="https://y.example/">y</a>'
    assert set_tracked(set_tracked(plain, 1, False), 1, True) == plain


def test_anchor_numbers_match_compose_and_the_edit_changes_what_is_tracked() -> None:
    html = (
        '<a href="https://a.example/">a</a>'
        '{% if x %}<a href="https://b.example/?p={{ x }}">b</a>{% endif %}'
        "{{ '<a href=\"https://c.example/\">c</a>' }}"  # inside Liquid: found after rendering
        '<a href="https://d.example/">d</a>'
    )
    assert [a.tag.get("href").value for a in source_anchors(html, True)] == [  # type: ignore[union-attr]
        "https://a.example/", "https://b.example/?p={{ x }}", "https://d.example/",
    ]  # fmt: skip
    edited = set_tracked(html, 2, False)
    composed = compose(Message(html=edited), scope={"x": "1"})
    assert composed.html is not None
    assert composed.html.count("/e/c/") == 3  # a, b and c
    assert 'href="https://d.example/"' in composed.html  # the raw URL
    assert 'href="https://a.example/"' not in composed.html  # still tracked


def test_a_missing_link_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="no link 3"):
        set_tracked('<a href="u">x</a><a name="n">no href</a><a href="v">y</a>', 2, False)
