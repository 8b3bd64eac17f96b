"""A tenant's template cannot take the process with it: every render is bounded."""

from __future__ import annotations

import time

import pytest

from helpers import tracking
from linktrack.core.compose import MemoryLinkTable, Message
from linktrack.core.liquid import TemplateError, compile_liquid, limits, render_liquid

DOUBLE = "{% assign s = s | append: s %}"
CASES = {
    "nested loops": (
        "{% for a in (1..100000) %}{% for b in (1..100000) %}x{% endfor %}{% endfor %}",
        "loop iteration limit",
    ),
    "doubling a string": ("{% assign s = 'x' %}" + DOUBLE * 27 + "{{ s }}", "namespace limit"),
    "output": (
        "{% assign s = '" + "x" * 100 + "' %}{% for i in (1..90000) %}{{ s }}{% endfor %}",
        "larger than 4 MiB",
    ),
    "text in loops": ("{% for a in (1..90000) %}" + "y" * 100 + "{% endfor %}", "larger than 4 MiB"),
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
