"""Queuing the disk writes of a download while it runs (so the fsync before the rename has little left)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from app.downloads import writeback
from app.downloads.writeback import STEP, Writeback, _new_spans

MIB = 1 << 20


def test_new_spans_are_what_is_done_and_not_yet_written_out() -> None:
    assert _new_spans([(0, 10)], []) == [(0, 10)]
    assert _new_spans([(0, 10), (20, 30)], [(0, 4), (22, 25)]) == [(4, 10), (20, 22), (25, 30)]
    assert _new_spans([(0, 10)], [(0, 10)]) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sync_file_range is Linux only")
def test_each_stretch_on_disk_is_queued_once_and_short_ones_wait(tmp_path: Path) -> None:
    assert writeback.supported()
    path = tmp_path / "f.part"
    path.write_bytes(b"\1" * (3 * STEP))
    done = [(0, STEP + MIB), (2 * STEP, 2 * STEP + MIB)]  # the second stretch is shorter than a step
    follower = Writeback(path, lambda: list(done))
    try:
        deadline = time.monotonic() + 10
        while follower._flushed != [(0, STEP + MIB)] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert follower._flushed == [(0, STEP + MIB)]
        done[1] = (2 * STEP, 3 * STEP)
        while len(follower._flushed) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        follower.close()
    assert follower._flushed == [(0, STEP + MIB), (2 * STEP, 3 * STEP)]


def test_without_the_call_it_does_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writeback, "_SYNC_FILE_RANGE", None)
    follower = Writeback(tmp_path / "missing.part", lambda: [(0, 64 * MIB)])
    follower.close()
    assert follower._flushed == []
