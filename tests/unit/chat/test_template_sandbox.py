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
