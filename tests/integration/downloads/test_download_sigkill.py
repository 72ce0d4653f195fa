"""SIGKILL a segmented download at random moments (20 trials, the downloader in a child process): every range
the record names is on disk with the right bytes, the next run asks only for the gaps, each gap from its first
missing byte, and the file it installs verifies. Every other trial runs as on a fast link, where one request
takes a run of pieces, in the killed run and in the one that resumes it."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from app.downloads import ranges
from app.downloads.checksum import Checksum
from app.downloads.job import DownloadConfig, RetryPolicy, run_job
from app.downloads.ramp import FAST_ENOUGH
from app.downloads.transfer import StopToken, Timeouts
from tests.fakehub import FakeHub, FakeRepo
from tests.support.quiet_progress import QuietProgress

REPO_ID = "killorg/Kill-GGUF"
FILE = "Kill-Q8_0.gguf"
SIZE = 8 << 20
DATA = b"".join(hashlib.sha256(b"k" + i.to_bytes(4, "little")).digest() for i in range(SIZE // 32))
SHA = hashlib.sha256(DATA).hexdigest()
TRIALS = 20
REPO_ROOT = Path(__file__).resolve().parents[3]

_CHILD = r"""
import sys
from pathlib import Path
from app.downloads.job import DownloadConfig, run_job
from app.downloads.transfer import StopToken

class Listener:
    def resolved(self, files, done):
        print("started", flush=True)
    def progress(self, done): pass
    def retrying(self, message, delay): pass
    def file_done(self, name): pass

config = DownloadConfig(
    disk_margin=0, segments=8, min_segment=256 << 10, min_steal=256 << 10, idle_steal=60.0, fast_link=float(sys.argv[4])
)
run_job(sys.argv[1], [sys.argv[2]], "main", Path(sys.argv[3]), StopToken(), Listener(), config)
print("finished", flush=True)
"""

RESUME = DownloadConfig(
    token="hf_resumer",  # tells the resumed run's requests from late ones of the killed child
    retry=RetryPolicy(max_attempts=4, base_delay=0.05, max_delay=0.2),
    timeouts=Timeouts(connect=5, stall=5),
    disk_margin=0,
    segments=8,
    min_segment=256 << 10,
    min_steal=SIZE,  # no hand-over: each request of the resumed run starts where a gap starts
)


class _Quiet(QuietProgress):
    def retrying(self, message: str, delay: float) -> None:
        raise AssertionError(f"unexpected retry: {message}")


def test_sigkill_at_random_points_resumes_every_segment(
    fake_hub_empty: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = fake_hub_empty
    hub.add_repo(FakeRepo(REPO_ID)).add_file(FILE, DATA)
    hub.add_token("hf_resumer", user="resumer")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "HF_ENDPOINT": hub.url,
        "HF_HUB_OFFLINE": "0",
        "HF_HOME": str(tmp_path / "hf-home"),
        "GGUF_STUDIO_HOME": str(tmp_path / "home"),
    }
    rng = random.Random(22)
    killed_mid_transfer = 0
    for trial in range(TRIALS):
        models = tmp_path / f"models-{trial}"
        target = models / "killorg" / "Kill-GGUF" / FILE
        part = target.with_name(FILE + ".part")
        hub.throttle(600_000)  # ~1.8 s for the whole file over 8 connections; the record is saved every 0.5 s
        fast_link = 0.0 if trial % 2 else FAST_ENOUGH  # 0: runs of pieces from the first request
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, REPO_ID, FILE, str(models), str(fast_link)],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "started"
        time.sleep(rng.uniform(0.2, 2.0))
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()

        if target.exists():  # it finished first: nothing to resume
            assert hashlib.sha256(target.read_bytes()).hexdigest() == SHA
            continue
        on_disk = part.read_bytes() if part.exists() else b""
        done = ranges.load(part, SIZE, Checksum("sha256", SHA))
        if done is None:  # no record: a single-stream part (or a whole one killed just before its rename)
            done = [(0, len(on_disk))] if on_disk else []
        for start, end in done:
            assert on_disk[start:end] == DATA[start:end], f"trial {trial}: the record names bytes not on disk"
        if 0 < ranges.covered(done) < SIZE:
            killed_mid_transfer += 1

        hub.throttle(0)
        hub.clear_requests()
        run_job(REPO_ID, [FILE], "main", models, StopToken(), _Quiet(), replace(RESUME, fast_link=fast_link))
        assert hashlib.sha256(target.read_bytes()).hexdigest() == SHA, f"trial {trial}"
        assert not part.exists() and not ranges.ranges_path(part).exists()
        # The resumed run's ranged GETs, as the Hub saw them before redirecting (the CDN gets no token); a
        # request the child sent just before it died can still be logged after it.
        ranged = [
            r.range.removeprefix("bytes=").split("-")
            for r in hub.requests_for(FILE, method="GET")
            if r.server == "hub" and r.authorized and r.range
        ]
        starts = [int(first) for first, _ in ranged]
        missing = ranges.gaps(done, SIZE)
        for start in starts:
            assert not any(a <= start < b for a, b in done), f"trial {trial}: asked again for bytes on disk"
        for gap_start, _ in missing:
            assert gap_start in starts, f"trial {trial}: the gap at {gap_start} was not resumed from its start"
        asked = sum(int(last) + 1 - int(first) for first, last in ranged)
        assert asked == SIZE - ranges.covered(done), f"trial {trial}: asked for {asked} bytes"
    # The rest land before the first save (nothing recorded yet) or after the last byte: valid trials too.
    assert killed_mid_transfer >= TRIALS // 4, "too few kills landed while segments were arriving"
