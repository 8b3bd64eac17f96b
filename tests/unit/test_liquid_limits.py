"""A tenant's template cannot take the process with it: every render is bounded."""

from __future__ import annotations

import time

import pytest

from helpers import compose, tracking
from linktrack.core.compose import MemoryLinkTable, Message
from linktrack.core.compose.tracking import MAX_LINKS, TAG_LENGTH
from linktrack.core.errors import Unprocessable
from linktrack.core.liquid import TemplateError, compile_liquid, limits, render_liquid

DOUBLE = "{% assign s = s | append: s %}"
CASES = {
    "nested loops": (
        "{% for a in (1..100000) %}{% for b in (1..100000) %}x{% endfor %}{% endfor %}",
        "loop iteration limit",
    ),
    "doubling a string": ("{% assign s = 'x' %}" + DOUBLE * 27 + "{{ s }}", "namespace limit"),
    "output": (
        "{% assign s = '" + "x" * 10000 + "' %}{% for i in (1..9000) %}{{ s }}{% endfor %}",
        "larger than 4 MiB",
    ),
    "text in loops": ("{% for a in (1..9000) %}" + "y" * 10000 + "{% endfor %}", "larger than 4 MiB"),
    "time": (
        "{% assign s = 'y' %}" + DOUBLE * 19
        + "{% assign t = s | upcase %}" * 3000,
        "longer than 0.25 s",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_template_over_a_limit_is_refused_within_a_second(name: str) -> None:
    source, reason = CASES[name]
    template = compile_liquid(source, name)
    started = time.monotonic()
    with pytest.raises(TemplateError, match=reason) as refused:
        render_liquid(template, {}, name)
    assert time.monotonic() - started < 1.0
    assert f"Liquid error in {name} on line 1" in str(refused.value)


def test_a_message_over_a_limit_is_a_template_error_and_an_ordinary_loop_is_not() -> None:
    big = Message(html="<p>{% for i in (1..200000) %}{{ i }}{% endfor %}</p>")
    with pytest.raises(TemplateError, match=r"larger than 4 MiB|loop iteration limit"):
        big.compose(tracking(links=MemoryLinkTable()))
    fine = Message(html='{% for i in (1..50) %}<a href="https://x.example/{{ i }}">{{ i }}</a>{% endfor %}')
    assert len(fine.compose(tracking()).links) == 50


def test_the_limits_are_generous_for_real_messages() -> None:
    assert limits.LOOP_ITERATIONS >= 10_000 and limits.OUTPUT_CHARACTERS >= 1 << 20
    assert limits.RENDER_SECONDS * 4 <= 1.0  # subject, HTML, text and a push link: < 1 s


@pytest.mark.parametrize("liquid", [True, False])
def test_a_message_carries_at_most_max_links_tracked_links(liquid: bool) -> None:
    def html(n: int) -> str:
        return "".join(f'<a href="https://s.example/{i}">{i}</a>' for i in range(n))

    assert len(compose(Message(html=html(MAX_LINKS), liquid=liquid)).links) == MAX_LINKS
    with pytest.raises(Unprocessable, match="at most 1,000 tracked links"):
        compose(Message(html=html(MAX_LINKS + 1), liquid=liquid))
    # The same link repeated counts each time it is sent, from a loop or from cio_link.
    looped = '{% for i in (1..1001) %}<a href="https://s.example/">x</a>{% endfor %}'
    with pytest.raises(Unprocessable, match="at most 1,000 tracked links"):
        compose(Message(html=looped))
    tagged = "{% for i in (1..1001) %}{% cio_link url:https://s.example/ %}{% endfor %}"
    with pytest.raises(Unprocessable, match="at most 1,000 tracked links"):
        compose(Message(html=tagged))


def test_a_link_tag_longer_than_its_column_is_refused() -> None:
    ok = f'<a data-cio-tag="{"t" * TAG_LENGTH}" href="https://s.example/">x</a>'
    assert compose(Message(html=ok)).links[0].tag == "t" * TAG_LENGTH
    with pytest.raises(Unprocessable, match="data-cio-tag is at most 255 characters"):
        compose(Message(html=ok.replace('t"', 'tt"')))
