"""Transfer threads of the app's queue yield the CPU to the GUI thread; the threads they start inherit that."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from app.downloads.priority import background_thread

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux only")


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_a_lowered_thread_and_the_threads_it_starts_run_below_the_rest() -> None:
    base = _nice()
    seen: dict[str, int] = {}

    def child() -> None:
        seen["child"] = _nice()

    def worker() -> None:
        background_thread(3)
        seen["worker"] = _nice()
        inner = threading.Thread(target=child)
        inner.start()
        inner.join()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == {"worker": min(base + 3, 19), "child": min(base + 3, 19)}
    assert _nice() == base  # the calling thread (the GUI's, in the app) keeps its priority
    background_thread(0)
    assert _nice() == base
