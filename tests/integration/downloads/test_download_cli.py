"""`gguf-studio download` / `list` as a user runs them: a real subprocess against the fake Hub.

The crash test kills the download with SIGKILL at several points; each run resumes from the bytes on disk
(the fake Hub's request log shows the Range it asked for) and the last one ends with the right sha256.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fakehub import TINY_REPO, FakeHub
from tests.support.cli import app_command, run_cli
from tests.support.models import REPO_ROOT

TINY_FILE = "Tiny-Llama-F32.gguf"


def _wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str], timeout: float = 60) -> None:
    pause = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        if proc.poll() is not None:
            raise AssertionError(f"the download ended early: {proc.communicate()}")
        pause.wait(0.02)
    raise AssertionError("condition not met in time")


def _range_starts(hub: FakeHub) -> list[int | None]:
    return [
        int(r.range.removeprefix("bytes=").split("-")[0]) if r.range else None
        for r in hub.requests_for(TINY_FILE, method="GET")
        if r.server == "cdn"
    ]


@pytest.mark.slow
def test_sigkill_at_several_points_then_resume(fake_hub: FakeHub, tmp_path: Path) -> None:
    models = tmp_path / "models"
    part = models / "tiny" / "Tiny-Llama-GGUF" / (TINY_FILE + ".part")
    expected = fake_hub.repo(TINY_REPO).files[TINY_FILE].content.sha256
    kill_points = [0, 100_000, 300_000]
    for run, (done_before, kill_at) in enumerate(zip([0, *kill_points], kill_points, strict=False)):
        # The fake Hub holds the stream at exactly `kill_at` bytes (its offsets count from the Range start).
        fake_hub.stall(kill_at - done_before, seconds=60, match=TINY_FILE)
        proc = subprocess.Popen(
            app_command("download", TINY_REPO, TINY_FILE, "--dir", str(models)),
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _wait_for(
                lambda k=kill_at, n=run + 1: len(_range_starts(fake_hub)) == n and part.stat().st_size == k,  # type: ignore[misc]
                proc,
            )
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        fake_hub.clear_faults()
    assert part.stat().st_size == kill_points[-1]

    result = run_cli("download", TINY_REPO, TINY_FILE, "--dir", str(models))
    assert result.returncode == 0, result.stderr
    target = models / "tiny" / "Tiny-Llama-GGUF" / TINY_FILE
    assert result.stdout.strip() == str(target)
    assert "resuming at" in result.stderr
    assert hashlib.sha256(target.read_bytes()).hexdigest() == expected
    assert not part.exists()
    # Every run after a kill asked for the bytes after those already on disk.
    assert _range_starts(fake_hub) == [None, None, 100_000, 300_000]


@pytest.mark.slow
def test_download_by_quant_then_list(fake_hub: FakeHub, tmp_path: Path) -> None:
    from app.core.settings import Settings

    models = tmp_path / "shared-models"
    Settings().update(models_dir=str(models))
    result = run_cli("download", TINY_REPO, "--quant", "f32")
    assert result.returncode == 0, result.stderr
    target = models / "tiny" / "Tiny-Llama-GGUF" / TINY_FILE
    assert result.stdout.strip() == str(target)
    assert "verified Tiny-Llama-F32.gguf" in result.stderr

    listed = run_cli("list", "--json")
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)
    assert [e["path"] for e in entries] == [str(target)]
    assert entries[0]["architecture"] == "llama"
    assert entries[0]["quant"] == "F32"
    assert entries[0]["error"] is None

    table = run_cli("list")
    assert table.returncode == 0
    assert "llama" in table.stdout and str(target) in table.stdout

    # Already there and verified: a second run downloads nothing.
    fake_hub.clear_requests()
    again = run_cli("download", TINY_REPO, TINY_FILE)
    assert again.returncode == 0, again.stderr
    assert _range_starts(fake_hub) == []


def test_wrong_bytes_exit_1_and_leave_nothing(fake_hub: FakeHub, tmp_path: Path) -> None:
    fake_hub.corrupt(times=2, match=TINY_FILE)  # a single mismatch is downloaded again (test_download_faults)
    result = run_cli("download", TINY_REPO, TINY_FILE, "--dir", str(tmp_path / "m"))
    assert result.returncode == 1
    assert "error: Tiny-Llama-F32.gguf does not match the sha256 the Hub published" in result.stderr
    assert not any(p.is_file() for p in (tmp_path / "m").rglob("*"))


def test_unknown_quant_names_the_choices(fake_hub: FakeHub, tmp_path: Path) -> None:
    result = run_cli("download", TINY_REPO, "--quant", "Q4_K_M", "--dir", str(tmp_path))
    assert result.returncode == 1
    assert "has no Q4_K_M model" in result.stderr and "F32" in result.stderr


def test_hostile_file_name_is_refused_before_any_request(fake_hub: FakeHub, tmp_path: Path) -> None:
    result = run_cli("download", TINY_REPO, "../../escape.gguf", "--dir", str(tmp_path / "m"))
    assert result.returncode == 1
    assert "path traversal" in result.stderr
    assert fake_hub.requests == []
