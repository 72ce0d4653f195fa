"""Hostile chat templates (finding 2 and 3 of the fault-injection pass): each refused within the deadline,
before it allocates, with an error that names the budget."""

from __future__ import annotations

import resource
import sys
import threading

import pytest

from app.chat import template_budget as budget
from app.chat.protocol import ChatMessage
from app.chat.templates import BUILTIN_TEMPLATES, render
from app.core.errors import TemplateError

MESSAGES = [ChatMessage("system", "Be brief."), ChatMessage("user", "Hello"), ChatMessage("assistant", "Hi")]

# (payload, the budget its error must name)
HOSTILE = {
    "nested range loops": (
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "time"),
    "nested loops that print": (
        "{% for i in range(100000) %}{% for j in range(100000) %}{{ '' }}{% endfor %}{% endfor %}", "time"),
    "macro fan-out depth 40": (
        "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}",
        "recursion depth"),
    "macro fan-out depth 20": (  # shallow enough for the depth limit: the clock stops it
        "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
        "{{ f(20) }}", "time"),
    "lipsum": ("{{ lipsum(n=100000) }}", "lipsum"),
    "power": ("{{ 9 ** 999999999 }}", "number size"),
    "power of a variable": ("{% set n = 999999999 %}{{ 9 ** n }}", "number size"),
    "string times a billion": ("{{ 'a' * 1000000000 }}", "string size"),
    "billion times a string": ("{{ 1000000000 * 'a' }}", "string size"),
    "center": ("{{ 'a' | center(1000000000) }}", "width"),
    "center float": ("{{ 'a' | center(1e9) }}", "width"),
    "format width": ("{{ '%1000000000s' | format('a') }}", "width"),
    "format star width": ("{{ '%*s' | format(1000000000, 'a') }}", "width"),
    "percent operator": ("{{ '%1000000000d' % 5 }}", "width"),
    "str.format width": ("{{ '{:>1000000000}'.format('a') }}", "width"),
    "str.format nested width": ("{{ '{:>{}}'.format('a', 1000000000) }}", "width"),
    "ljust method": ("{{ 'a'.ljust(1000000000) }}", "width"),
    "tojson indent": ("{{ messages | tojson(indent=100000000) }}", "JSON indent"),
    "tojson float indent": ("{{ messages | tojson(indent=1e8) }}", "JSON indent"),
    "messages times 1e8": ("{{ messages * 100000000 }}", "list size"),
    "indent": ("{{ 'a\nb' | indent(1000000000) }}", "width"),
    "doubling with ~": (
        "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"
        "{{ ns.s | length }}", "string size"),
    "doubling with +": (
        "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}"
        "{{ ns.s | length }}", "string size"),
    "squaring a number": (
        "{% set ns = namespace(n=3) %}{% for i in range(40) %}{% set ns.n = ns.n * ns.n %}{% endfor %}",
        "number size"),
    "replace that grows": ("{{ ('a' * 3000000) | replace('a', 'aaaa') }}", "string size"),
    "join that grows": ("{{ ['a' * 3000000, 'b' * 3000000] | join }}", "string size"),
    "batch fill": ("{{ [1] | batch(1000000000, 0) | list }}", "width"),
    "slice": ("{{ [] | slice(1000000000) | list }}", "width"),
    "big range": ("{{ range(1000000000) | list }}", "range size"),
    "output size": ("{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}", "output size"),
}


def _rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux only")
@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_templates_are_refused_by_budget_without_allocating(name: str) -> None:
    source, what = HOSTILE[name]
    before = _rss_kib()
    with pytest.raises(TemplateError) as caught:
        render(source, MESSAGES, deadline=1.0)
    assert f"over its {what} budget" in str(caught.value)
    assert caught.value.hint  # what to do instead: a built-in template
    assert _rss_kib() - before < 200 * 1024, "allocated before checking"


def test_constant_folding_does_not_compute_a_huge_power_while_compiling() -> None:
    from app.chat.templates import _compile

    done = threading.Event()

    def compile_it() -> None:
        _compile("{{ 9 ** 999999999 }}{{ 'a' * 1000000000 }}")
        done.set()

    thread = threading.Thread(target=compile_it, daemon=True)
    thread.start()
    thread.join(30)
    assert done.is_set()


def test_the_default_deadline_bounds_stop() -> None:
    assert budget.RENDER_DEADLINE_S <= 2.0


@pytest.mark.parametrize("name", list(BUILTIN_TEMPLATES))
def test_builtin_templates_render_within_budget(name: str) -> None:
    text = render(BUILTIN_TEMPLATES[name], MESSAGES, bos_token="<s>", eos_token="</s>")
    assert "Hello" in text


def test_ordinary_template_features_still_work() -> None:
    source = (
        "{% macro show(m, depth) %}{{ m.role | upper }}:{{ m.content | center(12) }}"
        "{% if depth > 0 %}{{ show(m, depth - 1) }}{% endif %}{% endmacro %}"
        "{% for m in messages %}{{ show(m, 3) }}|{{ loop.index }}{% endfor %}"
        "{{ '%05d' | format(42) }}{{ '{:>6}'.format('x') }}{{ 'ab' * 3 }}{{ 2 ** 10 }}"
        "{{ messages | tojson(indent=2) | length > 0 }}{{ [1, 2] + [3] }}{{ range(3) | list }}"
        "{{ range(5)[2] }}{{ range(4) | length }}{{ 'a' ~ 1 ~ none }}"
    )
    text = render(source, MESSAGES)
    assert "SYSTEM:" in text and "00042" in text and "     x" in text and "ababab" in text
    assert "1024" in text and "[1, 2, 3]" in text and "[0, 1, 2]" in text and "24" in text and "a1None" in text


def test_a_stop_ends_a_render_on_its_thread_as_cancelled() -> None:
    from app.core.errors import Cancelled

    stop = threading.Event()
    spin = HOSTILE["nested range loops"][0]
    threading.Timer(0.05, stop.set).start()
    with budget.stoppable(stop), pytest.raises(Cancelled, match="chat template"):
        render(spin, MESSAGES, deadline=60.0)  # only Stop can end it before a minute
    # Outside `stoppable` (and on other threads) the event is not looked at.
    assert render("{{ messages[1].content }}", MESSAGES) == "Hello"
