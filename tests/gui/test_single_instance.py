"""One app instance per home, checked with real processes (two QApplications cannot share one process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_FIRST = textwrap.dedent(
    """
    import sys
    from PySide6.QtCore import QCoreApplication, QTimer
    from app.ui.single_instance import SingleInstance
    app = QCoreApplication([])
    instance = SingleInstance()
    print("first" if instance.claim() else "not-first", flush=True)
    def activated():
        print("activated", flush=True)
        app.quit()
    instance.activated.connect(activated)
    QTimer.singleShot(60_000, app.quit)
    app.exec()
    instance.release()
    """
)

_SECOND = textwrap.dedent(
    """
    from PySide6.QtCore import QCoreApplication
    from app.ui.single_instance import SingleInstance, already_running_message
    app = QCoreApplication([])
    instance = SingleInstance()
    if instance.claim():
        print("claimed")
    else:
        print(already_running_message(instance, instance.ask_first_to_come_forward()))
    """
)


def _start(script: str, home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "GGUF_STUDIO_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )


def test_a_second_start_brings_the_first_forward(tmp_path: Path) -> None:
    first = _start(_FIRST, tmp_path)
    assert first.stdout is not None and first.stdout.readline().strip() == "first"
    second_out = _start(_SECOND, tmp_path).communicate(timeout=60)[0]
    assert "already running for this home" in second_out
    assert f"process {first.pid}" in second_out and "brought forward" in second_out
    assert first.communicate(timeout=60)[0].strip() == "activated"


def test_a_killed_first_instance_leaves_nothing_that_blocks_the_next(tmp_path: Path) -> None:
    first = _start(_FIRST, tmp_path)
    assert first.stdout is not None and first.stdout.readline().strip() == "first"
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    assert _start(_SECOND, tmp_path).communicate(timeout=60)[0].strip() == "claimed"


def test_other_homes_are_independent(tmp_path: Path) -> None:
    first = _start(_FIRST, tmp_path / "one")
    assert first.stdout is not None and first.stdout.readline().strip() == "first"
    try:
        assert _start(_SECOND, tmp_path / "two").communicate(timeout=60)[0].strip() == "claimed"
    finally:
        first.kill()
        first.wait(30)
