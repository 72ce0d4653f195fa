"""PySide6 6.12.0 on Python 3.11 leaked a reference to True per signal emit (None per QTimer.singleShot) until
CPython aborted. This guards the pinned Qt: thousands of emits and timers must leave the refcounts alone."""

from __future__ import annotations

import subprocess
import sys

_SCRIPT = r"""
import sys
from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal
app = QCoreApplication([])
class Emitter(QObject):
    fired = Signal(object)
emitter = Emitter()
emitter.fired.connect(lambda value: None)
before = {name: sys.getrefcount(value) for name, value in (("True", True), ("None", None))}
for _ in range(5000):
    emitter.fired.emit(None)
    QTimer.singleShot(0, lambda: None)
app.processEvents()
after = {name: sys.getrefcount(value) for name, value in (("True", True), ("None", None))}
leaks = {name: before[name] - after[name] for name in before}
print(leaks)
sys.exit(1 if any(delta > 100 for delta in leaks.values()) else 0)
"""


def test_signals_and_timers_do_not_leak_singletons() -> None:
    result = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=120,
                            env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, f"Qt binding leaks references: {result.stdout}{result.stderr[-500:]}"
