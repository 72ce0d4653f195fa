"""Reference counting across the Qt binding's call paths we use most: signal emit() and QTimer.singleShot().

PySide6 6.12.0 dropped a reference per emit() (to True, its result) and per singleShot() (to None) until CPython
aborted on Python 3.11. Since Python 3.12 True and None are immortal, so counting them proves nothing there: the
guard also sends ordinary objects (which can die) through the same paths and checks that each is held exactly as
long as it should be: an over-release shows as a count that drops, a leak as a count that grows or an object that
outlives its last user. The singletons are still counted where that can fail (before 3.12).
"""

from __future__ import annotations

import subprocess
import sys

_SCRIPT = r"""
import gc, os, sys, weakref
from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal

N = 5000
LEAK = os.environ.get("REFCOUNT_SELFTEST") == "leak"  # proves this script can fail
app = QCoreApplication([])
failures = []


class Payload:
    pass


class Emitter(QObject):
    fired = Signal(object)


received = []


def slot(value):
    received.append(type(value))
    if LEAK:
        import ctypes
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(value))


emitter = Emitter()
emitter.fired.connect(slot)
# 1. An object sent through emit() many times: held during each call, released after it.
payload = Payload()
base = sys.getrefcount(payload)
for _ in range(N):
    emitter.fired.emit(payload)
app.processEvents()
delta = sys.getrefcount(payload) - base
if delta != 0:
    failures.append(f"emit(): the payload's reference count moved by {delta} over {N} emits")
probe = weakref.ref(payload)
del payload
gc.collect()
if probe() is not None:
    failures.append("emit(): the payload outlived its last reference")

# 2. Callables handed to singleShot(): alive until their timer fired, then released, each exactly once.
class Callback:
    calls = 0

    def __call__(self):
        Callback.calls += 1


callbacks = [Callback() for _ in range(N)]
probes = [weakref.ref(c) for c in callbacks]
# Indexing, not zip(): zip keeps its last tuple (and so one more reference to an item) for reuse.
counts = [sys.getrefcount(callbacks[i]) for i in range(N)]
for i in range(N):
    QTimer.singleShot(0, callbacks[i])
held = sum([sys.getrefcount(callbacks[i]) > counts[i] for i in range(N)])
if held != N:
    failures.append(f"singleShot(): only {held} of {N} pending callables were held")
deadline = N * 10
while Callback.calls < N and deadline:
    app.processEvents()
    deadline -= 1
if Callback.calls != N:
    failures.append(f"singleShot(): {Callback.calls} of {N} callables were called")
dropped = sum([sys.getrefcount(callbacks[i]) != counts[i] for i in range(N)])
if dropped:
    failures.append(f"singleShot(): {dropped} callables kept a wrong reference count after they fired")
del callbacks
gc.collect()
alive = sum(p() is not None for p in probes)
if alive:
    failures.append(f"singleShot(): {alive} callables outlived their timers")

# 3. The objects 6.12.0 over-released; only countable while they are mortal (Python < 3.12).
singletons = (("True", True), ("None", None))
before_singletons = {name: sys.getrefcount(value) for name, value in singletons}
for _ in range(N):
    emitter.fired.emit(None)
    QTimer.singleShot(0, lambda: None)
app.processEvents()
if sys.version_info < (3, 12):
    for name, value in singletons:
        delta = sys.getrefcount(value) - before_singletons[name]
        if abs(delta) > 100:
            failures.append(f"{name}'s reference count moved by {delta}")

print("\n".join(failures) or "ok")
sys.exit(1 if failures else 0)
"""


def _run(selftest: str = "") -> subprocess.CompletedProcess[str]:
    env = {"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin", "REFCOUNT_SELFTEST": selftest}
    return subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=120, env=env)


def test_signals_and_timers_keep_reference_counts() -> None:
    result = _run()
    assert result.returncode == 0, f"Qt binding miscounts references: {result.stdout}{result.stderr[-500:]}"


def test_the_guard_sees_a_leak() -> None:
    """A slot that keeps one extra reference per call must fail the check, on every Python version."""
    result = _run("leak")
    assert result.returncode == 1, result.stdout + result.stderr[-500:]
    assert "emit(): the payload's reference count moved by 5000" in result.stdout
