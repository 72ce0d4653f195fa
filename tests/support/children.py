"""Child entry points for tests of app.process (each runs as `main(channel, *args)` in a spawned child)."""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from app.core.atomic import temp_name
from app.core.errors import GatedRepoError
from app.process.channel import Channel
from app.quantize.runner import serve

ABORT_LINE = "/src/ggml/src/ggml.c:1234: GGML_ASSERT(a == b) failed"


@dataclass(frozen=True, slots=True)
class NoOutputs:
    out: Path | None = None

    def planned_outputs(self) -> list[Path]:
        return [self.out] if self.out is not None else []

    def scratch_outputs(self) -> list[Path]:
        return []


def raising_job(channel: Channel, spec: NoOutputs) -> None:
    def work(emit: object) -> tuple[()]:
        raise GatedRepoError("You must accept the license", repo_id="org/gated", hint="accept it on the Hub")

    serve(channel, work)


def native_abort(channel: Channel) -> None:
    """What ggml does on a failed assertion: its line on fd 2, then abort(); plus noise on both fds."""
    print("python print on stdout", flush=True)
    os.write(1, b"native text on fd 1\n")
    os.write(2, (ABORT_LINE + "\n").encode())
    sys.stderr.flush()
    os.abort()


def sleeper(channel: Channel) -> None:
    logging.getLogger("app.test.child").warning("child says hello")
    channel.send("ready")
    time.sleep(600)


def partial_writer(channel: Channel, spec: NoOutputs) -> None:
    assert spec.out is not None
    temp_name(spec.out).write_bytes(b"half")  # as the real writers name theirs: `<out>.<pid>-<random>.part`
    channel.send("ready")
    time.sleep(600)


def niceness(channel: Channel) -> None:
    """Sends the nice value of this child's main thread and of a thread it starts afterwards (as
    llama.cpp's compute threads are)."""
    import threading

    seen: list[int] = []
    worker = threading.Thread(target=lambda: seen.append(os.getpriority(os.PRIO_PROCESS, 0)))
    worker.start()
    worker.join()
    channel.send((os.getpriority(os.PRIO_PROCESS, 0), seen[0]))
