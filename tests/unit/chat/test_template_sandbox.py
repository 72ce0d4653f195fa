"""A hostile chat template (CVE-2024-34359 style) must not reach Python internals."""

from __future__ import annotations

import pytest

from app.chat.protocol import ChatMessage as M
from app.chat.templates import render
from app.core.errors import TemplateError

ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ self.__init__.__globals__.__builtins__ }}",
    "{{ messages.__class__.__base__ }}",
    "{% set x = messages.pop() %}",
    "{{ messages[0].update({'role': 'x'}) }}",
    "{{ '{0.__class__}'.format(messages) }}",
    "{{ raise_exception.__globals__ }}",
    "{% for x in range(10**9) %}{% endfor %}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_escape_attempt_is_blocked(source: str) -> None:
    with pytest.raises(TemplateError):
        render(source, [M("user", "hi")])


def test_blocked_access_is_an_error_not_silence() -> None:
    # The stock sandbox renders forbidden attributes as empty strings; we stop instead.
    with pytest.raises(TemplateError, match="unsafe"):
        render("before{{ cycler.__init__ }}after", [])


def test_messages_are_not_mutated() -> None:
    messages = [M("user", "hi")]
    with pytest.raises(TemplateError):
        render("{% set _ = messages.append(1) %}", messages)
    assert messages == [M("user", "hi")]


def test_a_template_may_change_the_lists_and_dicts_it_makes() -> None:
    # Kimi K2 keeps a queue in `namespace(ids=[])`; llama.cpp's Jinja allows this, Jinja's immutable sandbox not.
    source = (
        "{% set ns = namespace(ids=[]) %}{% set _ = ns.ids.append('a') %}{% set _ = ns.ids.append('b') %}"
        "{{ ns.ids.pop(0) }}{% set d = {'seen': []} %}{% set _ = d.seen.extend([1, 2]) %}"
        "{% set _ = d.update({'n': 3}) %}{% set e = dict(k=1) %}{% set _ = e.setdefault('j', 2) %}"
        "|{{ ns.ids | tojson }}|{{ d | tojson }}|{{ e | tojson }}"
    )
    assert render(source, [M("user", "hi")]) == 'a|["b"]|{"seen": [1, 2], "n": 3}|{"k": 1, "j": 2}'


@pytest.mark.parametrize("source", [
    "{% set x = [messages[0]] %}{% set _ = x[0].update({'role': 'x'}) %}",  # an input inside its own list
    "{% set x = messages[1:] %}{% set _ = x.append(1) %}",  # a copy the template did not write as a literal
    "{% set x = {'m': messages} %}{% set _ = x.m.pop() %}",
    "{% set _ = tools.append(1) %}",
    "{% set x = [] %}{% set _ = x.__setitem__(0, 1) %}",
])
def test_what_the_template_is_given_stays_read_only(source: str) -> None:
    messages = [M("user", "hi"), M("assistant", "yo")]
    with pytest.raises(TemplateError, match="unsafe"):
        render(source, messages, tools=[{"type": "function"}])
    assert messages == [M("user", "hi"), M("assistant", "yo")]


def test_a_list_of_its_own_grows_only_within_the_item_budget() -> None:
    doubling = "{% set x = [1] %}{% for i in range(64) %}{% set _ = x.extend(x) %}{% endfor %}"
    with pytest.raises(TemplateError, match="list size budget"):
        render(doubling, [])
    merging = "{% set d = {} %}{% for i in range(64) %}{% set _ = d.update(dict(d, **{'k' ~ i: i})) %}{% endfor %}"
    assert render(merging + "{{ d | length }}", []) == "64"
