"""Every exception of core/errors.py crosses a process pipe (pickle) as the same class with all its fields."""

from __future__ import annotations

import inspect
import pickle
from typing import Any

import pytest

from app.core import errors

SAMPLE_FIELDS: dict[str, Any] = {"repo_id": "org/model", "retry_after": 12.5, "offset": 4096}
CLASSES = sorted(
    (c for c in vars(errors).values() if inspect.isclass(c) and issubclass(c, BaseException)),
    key=lambda c: c.__name__,
)


def _make(cls: type[BaseException]) -> BaseException:
    params = inspect.signature(cls.__init__).parameters
    kwargs: dict[str, Any] = {name: SAMPLE_FIELDS[name] for name in params if name in SAMPLE_FIELDS}
    if "hint" in params:
        kwargs["hint"] = "do this to fix it"
    return cls(f"{cls.__name__} happened", **kwargs)


def test_every_exception_class_lives_in_core_errors() -> None:
    assert {c.__name__ for c in CLASSES} >= {"AppError", "Cancelled", "ContextFullError", "SidecarError",
                                              "TransientError", "Stopped"}


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_round_trip_keeps_class_message_hint_and_fields(cls: type[BaseException]) -> None:
    error = _make(cls)
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is cls
    assert str(back) == str(error) and back.args == error.args
    assert vars(back) == vars(error)
    if isinstance(error, errors.AppError):
        assert isinstance(back, errors.AppError)
        assert back.hint == "do this to fix it" and back.message == error.message


def test_fields_survive_by_name() -> None:
    gated = pickle.loads(pickle.dumps(errors.GatedRepoError("accept the license", repo_id="org/m", hint="h")))
    assert (gated.repo_id, gated.hint) == ("org/m", "h")
    limited = pickle.loads(pickle.dumps(errors.RateLimitedError("slow down", retry_after=3.0)))
    assert limited.retry_after == 3.0
    bad = pickle.loads(pickle.dumps(errors.GGUFError("bad tensor", offset=99)))
    assert bad.offset == 99 and str(bad) == "bad tensor (at byte 99)"  # the offset is not added twice
    cancelled = pickle.loads(pickle.dumps(errors.Cancelled()))
    assert isinstance(cancelled, errors.Cancelled) and str(cancelled) == "cancelled"
