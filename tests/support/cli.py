"""The `gguf-studio` command line as the user runs it: `python -m app …` in a child process, from the repo root."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.models import REPO_ROOT


def app_command(*args: str) -> list[str]:
    """The argv of one `gguf-studio` invocation (for tests that need the process itself, e.g. Popen)."""
    return [sys.executable, "-m", "app", *args]


def run_cli(
    *args: str, timeout: float = 120, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run one command to its end; `env` adds to (or overrides) this process's environment, which the test
    fixtures have already pointed at tmp_path and the fake Hub. Qt, if a command starts it, draws offscreen."""
    return subprocess.run(
        app_command(*args), cwd=REPO_ROOT, env={**os.environ, "QT_QPA_PLATFORM": "offscreen", **(env or {})},
        input=stdin,
        capture_output=True, text=True, timeout=timeout,
    )
