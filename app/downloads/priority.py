"""Transfer threads yield the CPU to the app's GUI thread: on a busy machine the window must stay responsive
while a download runs (the event-loop stall of #22), and a download that gives up some CPU loses a little speed.

Linux lets each thread have its own nice value (setpriority on the thread id); raising it needs no privilege,
and threads started by a thread inherit it, so lowering an item's worker thread covers its connections and
hashing threads too. Elsewhere, or when refused, threads keep the process's priority. The GUI's queue asks for
it (DownloadConfig.nice); the CLI, with no window to keep responsive, does not.

Measured with the Downloads page open and 8 connections on the shared 2-core VM, interleaved: longest
event-loop stall at load 6-8 median 43 ms (24-58) at nice 5 against 59 ms (22-100) at 0, p99 27 against 35 ms;
nice 10 was no better (59-94 ms at load 9-11: a starved thread holds the GIL). The download took ~10% longer.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading

NICE = 5  # each step is about 1.25× less CPU share against a thread at the process's own value


def background_thread(nice: int | None = None) -> None:
    """Lower the calling thread's CPU priority by `nice` steps (default NICE; best effort)."""
    nice = NICE if nice is None else nice
    if not sys.platform.startswith("linux") or nice <= 0:
        return
    tid = threading.get_native_id()
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + nice)
