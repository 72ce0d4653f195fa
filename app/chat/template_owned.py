"""Lists and dicts a chat template writes itself, which it may change; everything it is given stays read-only.

Real templates keep state in containers they make (Kimi K2: `namespace(ids=[])`, then `ids.append(...)` and
`ids.pop(0)` to pair tool results with calls). llama.cpp's Jinja engine allows that; Jinja's immutable
sandbox (and so transformers) refuses every list and dict method that changes one. Here the list and dict
literals of a template (`[]`, `{}`, `dict(...)`) compile to these subclasses, which the sandbox lets the
template change; the messages, tools and anything else passed in remain plain containers it may not touch.
Growth is checked against the render's item budget before each change.
"""

from __future__ import annotations

from collections.abc import Sized
from typing import Any

from app.chat import template_budget as budget

_GROWS_BY_ONE = frozenset({"append", "insert", "setdefault"})
# What Jinja's sandbox calls a mutation of a list or dict (jinja2.sandbox._mutable_spec), allowed on ours.
_LIST_METHODS = frozenset({"append", "clear", "extend", "insert", "pop", "remove", "reverse", "sort"})
_DICT_METHODS = frozenset({"clear", "pop", "popitem", "setdefault", "update"})


class TemplateList(list[Any]):
    __slots__ = ()


class TemplateDict(dict[Any, Any]):
    __slots__ = ()


def owned(value: Any) -> Any:
    """A list or dict display's value (`[a, b]`, `{k: v}`) as the template's own container; its items are
    what they were (nested displays are wrapped by their own call)."""
    if type(value) is list:
        return TemplateList(value)
    if type(value) is dict:
        return TemplateDict(value)
    return value


def owned_constant(value: Any) -> Any:
    """A constant the compiler folded (`[]`, `{'ids': []}`): literal data only, so every level is the
    template's own."""
    if type(value) is list:
        return TemplateList(owned_constant(v) for v in value)
    if type(value) is dict:
        return TemplateDict((k, owned_constant(v)) for k, v in value.items())
    return value


def template_dict(*args: Any, **kwargs: Any) -> TemplateDict:
    """The template's `dict(...)` global."""
    made = TemplateDict(*args, **kwargs)
    budget.check_items(len(made))
    return made


def may_change(obj: Any, attr: str) -> bool:
    """Whether `obj.attr` is a changing method the template may call: only on its own containers."""
    if isinstance(obj, TemplateList):
        return attr in _LIST_METHODS
    if isinstance(obj, TemplateDict):
        return attr in _DICT_METHODS
    return False


def check_growth(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Before a changing method of the template's own container runs: the size it would reach."""
    owner = getattr(method, "__self__", None)
    if not isinstance(owner, TemplateList | TemplateDict):
        return
    name = getattr(method, "__name__", "")
    if name in _GROWS_BY_ONE:
        budget.check_items(len(owner) + 1)
    elif name in ("extend", "update"):
        added = sum(len(a) for a in args if isinstance(a, Sized)) + len(kwargs)
        budget.check_items(len(owner) + added)
