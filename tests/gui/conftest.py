# The fake Hub's fixtures (fake_hub, fake_hub_empty, fake_hub_gemma, autouse hf_token_in_tmp).
# A star import, because pytest_plugins is only allowed in the top-level conftest.
import ctypes
import sys

from tests.fakehub.fixtures import *  # noqa: F403


def _pin_singletons() -> None:
    """PySide6 6.12.0 on Python 3.11 drops a reference to True on every `signal.emit()` (and to None on
    `QTimer.singleShot(ms, callable)`), so after a few thousand emits the interpreter frees True/None and aborts
    ("bool_dealloc" / "none_dealloc"), typically at exit. Python >= 3.12 makes them immortal; here, give them
    references enough for any test run. The app needs the same at start-up (see the hub helper's report)."""
    if sys.version_info >= (3, 12):
        return
    for obj in (True, False, None):
        ctypes.c_ssize_t.from_address(id(obj)).value += 1 << 40


_pin_singletons()
