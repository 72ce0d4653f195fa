"""The prefix hash of a segmented part: bytes at the front are hashed as they arrive, the rest read back."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

from app.downloads.prefix_hash import PrefixHasher

MIB = 1 << 20


def test_bytes_offered_at_the_front_are_hashed_without_reading_them_back(tmp_path: Path) -> None:
    arrived = bytes(range(256)) * (MIB // 256)  # what a connection received and wrote at offset 0
    path = tmp_path / "f.part"
    path.write_bytes(b"\0" * MIB + b"\1" * MIB)  # on disk the front reads as zeros: a re-read would show
    frontier = [0]
    wake = threading.Condition()
    hasher = PrefixHasher(path, hashlib.sha256(), 2 * MIB, lambda: frontier[0], wake)
    hasher.offer(MIB, memoryview(b"\2" * 10))  # not the next bytes the hash needs: ignored
    hasher.offer(0, memoryview(arrived))  # hashed on the hasher's thread, from the copy it was handed
    deadline = time.monotonic() + 30
    while hasher.hashed < MIB and time.monotonic() < deadline:
        time.sleep(0.005)
    assert hasher.hashed == MIB  # with the frontier at 0 nothing could be read from disk
    frontier[0] = 2 * MIB  # the rest landed behind a hole and is read back from disk
    with wake:
        wake.notify_all()
    assert hasher.finish() == hashlib.sha256(arrived + b"\1" * MIB).hexdigest()
