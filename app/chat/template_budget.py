"""The work a chat template may do: time, sizes and depth, each checked before the work is done.

A template comes from a downloaded file, so it is hostile input. The sandbox stops it reaching Python; this
stops it from spinning (nested loops, exponential macros) or allocating gigabytes (`'a' * 10**9`,
`|center(10**9)`, `9 ** 999999999`). Every operation that can grow a value checks the size it would produce
first; loop bodies, macro calls and range iteration check the clock. Each refusal is a `TemplateError` naming
the budget it exceeded.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from app.core.errors import Cancelled, TemplateError

RENDER_DEADLINE_S = 2.0  # bounds how long Stop can wait for a render
MAX_OUTPUT_CHARS = 4_000_000  # a prompt larger than any context
MAX_ITEMS = 1_000_000  # items in one list built by the template
MAX_RANGE = 100_000  # items in one range()
MAX_WIDTH = 10_000  # padding widths: center, ljust, indent, format specs
MAX_JSON_INDENT = 32
MAX_INT_BITS = 65_536  # integers the template computes (about 20,000 digits)
MAX_DEPTH = 32  # nested macro calls and recursive loops
MAX_LIPSUM_WORDS = 10_000
_CLOCK_EVERY = 64  # checkpoints between clock reads

_HINT = "pick a built-in chat template for this model instead of its own"


def over_budget(what: str, limit: str) -> TemplateError:
    return TemplateError(f"The chat template went over its {what} budget ({limit})", hint=_HINT)


@dataclass(slots=True)
class Budget:
    deadline: float
    seconds: float
    ticks: int = 0
    depth: int = 0
    stop: threading.Event | None = None  # the engine's Stop: honoured as the template runs

    def tick(self) -> None:
        self.ticks += 1
        if self.ticks % _CLOCK_EVERY == 0:
            self.check()

    def check(self) -> None:
        if self.stop is not None and self.stop.is_set():
            raise Cancelled("Stopped while the chat template was being rendered")
        if time.monotonic() > self.deadline:
            raise over_budget("time", f"{self.seconds:g} s")


_local = threading.local()


class rendering:
    """Makes a budget current on this thread for the duration of one render."""

    def __init__(self, seconds: float) -> None:
        self.budget = Budget(time.monotonic() + seconds, seconds, stop=getattr(_local, "stop", None))

    def __enter__(self) -> Budget:
        self._previous = getattr(_local, "budget", None)
        _local.budget = self.budget
        return self.budget

    def __exit__(self, *_exc: object) -> None:
        _local.budget = self._previous


class stoppable:
    """Renders on this thread end with `Cancelled` soon after `stop` is set (the engine's Stop)."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop

    def __enter__(self) -> None:
        self._previous = getattr(_local, "stop", None)
        _local.stop = self._stop

    def __exit__(self, *_exc: object) -> None:
        _local.stop = self._previous


def checkpoint() -> None:
    """Called by the compiled template in every loop body and macro; cheap."""
    budget: Budget | None = getattr(_local, "budget", None)
    if budget is not None:
        budget.tick()


def check_clock() -> None:
    budget: Budget | None = getattr(_local, "budget", None)
    if budget is not None:
        budget.check()


class nested_call:
    """Counts one level of macro or recursive-loop nesting while a call runs."""

    def __enter__(self) -> None:
        budget: Budget | None = getattr(_local, "budget", None)
        if budget is not None:
            budget.tick()
            if budget.depth >= MAX_DEPTH:
                raise over_budget("recursion depth", f"{MAX_DEPTH} levels")
            budget.depth += 1

    def __exit__(self, *_exc: object) -> None:
        budget: Budget | None = getattr(_local, "budget", None)
        if budget is not None:
            budget.depth -= 1


# ---- sizes -------------------------------------------------------------------------------------------------
def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_chars(n: int) -> None:
    if n > MAX_OUTPUT_CHARS:
        raise over_budget("string size", f"{MAX_OUTPUT_CHARS:,} characters")


def check_items(n: int) -> None:
    if n > MAX_ITEMS:
        raise over_budget("list size", f"{MAX_ITEMS:,} items")


def check_width(width: object) -> None:
    if isinstance(width, int | float) and abs(width) > MAX_WIDTH:
        raise over_budget("width", f"{MAX_WIDTH:,} characters")


def _check_sized(value: object, n: int) -> None:
    if isinstance(value, str):
        check_chars(n)
    else:
        check_items(n)


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Before `left <operator> right` runs: the size of what it would make. Called for every `+`, so the
    common case (two short strings) takes the first branch and returns."""
    if operator == "+":
        if isinstance(left, str) and isinstance(right, str):
            if len(left) + len(right) > MAX_OUTPUT_CHARS:
                check_chars(len(left) + len(right))
        elif isinstance(left, list | tuple) and isinstance(right, list | tuple):
            check_items(len(left) + len(right))
    elif operator == "*":
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, str | list | tuple) and _is_int(times):
                _check_sized(seq, len(seq) * max(0, times))
        if _is_int(left) and _is_int(right) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise over_budget("number size", f"{MAX_INT_BITS:,} bits")
    elif operator == "**":
        check_power(left, right)
    elif operator == "%" and isinstance(left, str):
        check_printf(left, right if isinstance(right, tuple) else (right,))


def check_power(base: Any, exponent: Any) -> None:
    if not (_is_int(base) and _is_int(exponent)) or exponent <= 0 or abs(base) <= 1:
        return  # floats overflow at once; negative exponents give floats
    if exponent * abs(base).bit_length() > MAX_INT_BITS:
        raise over_budget("number size", f"{MAX_INT_BITS:,} bits")


_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_FORMAT_FIELD = re.compile(r"\{[^{}]*\}")
_NESTED_SPEC = re.compile(r"\{[^{}]*:[^{}]*\{")
_DIGITS = re.compile(r"\d+")


def check_printf(fmt: str, args: Sequence[Any]) -> None:
    """`fmt % args`: widths and precisions in the format, and `*` widths taken from the arguments."""
    for match in _PRINTF_SPEC.finditer(fmt):
        for part in match.groups():
            if part == "*":
                for value in args:
                    check_width(value if _is_int(value) else 0)
            elif part:
                check_width(int(part))


def check_format(fmt: str) -> None:
    """`fmt.format(...)`: widths in the specs; a width taken from an argument is refused outright."""
    if _NESTED_SPEC.search(fmt):
        raise over_budget("width", "widths inside format fields are not allowed")
    for field in _FORMAT_FIELD.findall(fmt):
        _, colon, spec = field[1:-1].partition(":")
        if colon:
            for digits in _DIGITS.findall(spec):
                check_width(int(digits))


def check_method_call(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Methods of strings the template may call that can grow them."""
    owner = getattr(obj, "__self__", None)
    if not isinstance(owner, str):
        return
    name = getattr(obj, "__name__", "")
    values = list(args) + list(kwargs.values())
    if name in {"center", "ljust", "rjust", "zfill", "expandtabs"}:
        for value in values[:1]:
            check_width(value)
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        check_chars(_replaced_size(owner, args[0], args[1], args[2] if len(args) > 2 else -1))
    elif name == "join" and args and isinstance(args[0], list | tuple):
        check_chars(_joined_size(owner, args[0]))


def _replaced_size(text: str, old: str, new: str, count: object) -> int:
    hits = len(text) + 1 if old == "" else text.count(old)
    if _is_int(count) and isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * (len(new) - len(old))


def _joined_size(separator: str, items: Sequence[Any]) -> int:
    check_items(len(items))
    return sum(len(i) if isinstance(i, str) else 32 for i in items) + len(separator) * max(0, len(items) - 1)


def checked_concat(parts: Sequence[Any]) -> str:
    """The template's `~` operator: the joined size is known before joining."""
    texts = [p if isinstance(p, str) else str(p) for p in parts]
    check_chars(sum(len(t) for t in texts))
    return "".join(texts)


# ---- globals and filters that take sizes ----------------------------------------------------------------
class BudgetRange(Sequence[int]):
    """`range()` for templates: at most MAX_RANGE items, and iterating it checks the clock."""

    def __init__(self, *args: int) -> None:
        self._range = range(*args)
        if len(self._range) > MAX_RANGE:
            raise over_budget("range size", f"{MAX_RANGE:,} items")

    def __len__(self) -> int:
        return len(self._range)

    def __getitem__(self, index: Any) -> Any:
        return self._range[index]

    def __iter__(self) -> Iterator[int]:
        for n in self._range:
            checkpoint()
            yield n

    def __repr__(self) -> str:
        return repr(self._range)


def lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    from jinja2.utils import generate_lorem_ipsum

    if not (_is_int(n) and _is_int(max)) or n * max > MAX_LIPSUM_WORDS:
        raise over_budget("lipsum", f"{MAX_LIPSUM_WORDS:,} words")
    return generate_lorem_ipsum(n=n, html=html, min=min, max=max)


def budget_filters(base: dict[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """Jinja's built-in filters that take sizes, wrapped to check them first."""
    base = dict(base)  # the originals, even when the caller then updates its own mapping with the result

    def center(value: Any, width: Any = 80) -> Any:
        check_width(width)
        return base["center"](value, width)

    def indent(value: Any, width: Any = 4, first: bool = False, blank: bool = False) -> Any:
        text = str(value)
        step = len(width) if isinstance(width, str) else width
        check_width(step)
        if _is_int(step):
            check_chars(len(text) + (text.count("\n") + 1) * max(0, step))
        return base["indent"](value, width, first, blank)

    def format_(value: Any, *args: Any, **kwargs: Any) -> Any:
        check_printf(str(value), list(args) + list(kwargs.values()))
        return base["format"](value, *args, **kwargs)

    def join(context: Any, value: Any, d: str = "", attribute: Any = None) -> Any:
        if isinstance(value, list | tuple) and attribute is None:
            check_chars(_joined_size(str(d), value))
        return base["join"](context, value, d, attribute)

    def replace(context: Any, s: Any, old: Any, new: Any, count: Any = None) -> Any:
        if isinstance(s, str) and isinstance(old, str) and isinstance(new, str):
            check_chars(_replaced_size(s, old, new, -1 if count is None else count))
        return base["replace"](context, s, old, new, count)

    def batch(value: Any, linecount: Any, fill_with: Any = None) -> Any:
        check_width(linecount)
        return base["batch"](value, linecount, fill_with)

    def slice_(context: Any, value: Any, slices: Any, fill_with: Any = None) -> Any:
        check_width(slices)
        return base["slice"](context, value, slices, fill_with)

    def wordwrap(environment: Any, s: Any, width: Any = 79, *args: Any, **kwargs: Any) -> Any:
        check_width(width)
        return base["wordwrap"](environment, s, width, *args, **kwargs)

    # Keep Jinja's markers for filters that take the eval context or the environment first.
    wrappers: tuple[tuple[Any, str], ...] = (
        (join, "join"), (replace, "replace"), (slice_, "slice"), (wordwrap, "wordwrap")
    )
    for wrapper, name in wrappers:
        wrapper.jinja_pass_arg = base[name].jinja_pass_arg  # type: ignore[attr-defined]
    return {
        "center": center,
        "indent": indent,
        "format": format_,
        "join": join,
        "replace": replace,
        "batch": batch,
        "slice": slice_,
        "wordwrap": wordwrap,
    }


def budget_tojson(dumps: Callable[..., str]) -> Callable[..., str]:
    def tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None,
               separators: tuple[str, str] | None = None, sort_keys: bool = False) -> str:
        if indent is not None and (not _is_int(indent) or not 0 <= indent <= MAX_JSON_INDENT):
            raise over_budget("JSON indent", f"a whole number up to {MAX_JSON_INDENT}")
        text = dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
        check_chars(len(text))
        return text

    return tojson
