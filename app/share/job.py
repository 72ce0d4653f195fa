"""A publish in its own child process (the app's one process layer), so an upload that hangs or a client
library that crashes never takes the app with it, and cancel can always end it: a cancelled or killed
upload resumes on the next publish, because the Hub's LFS batch skips what it already holds."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.core.errors import AppError, Cancelled, ShareError
from app.process.channel import Channel
from app.process.job import JobFailed, serve_job
from app.process.outcome import Outcome
from app.share.publish import RESUME_HINT, PublishProgress, PublishRequest, PublishResult

log = logging.getLogger("app.share")

ENTRY = "app.workers.publish_job"
PROGRESS_S = 0.1
CANCEL_GRACE_S = 5.0  # for the child to stop between two reads; then it is ended


@dataclass(frozen=True, slots=True)
class Published:
    result: PublishResult


@dataclass(frozen=True, slots=True)
class CancelPublish:
    pass


def serve(channel: Channel, request: PublishRequest) -> None:
    """The child's side: publish, relaying progress; a CancelPublish from the app stops it at the next read."""
    from app.share.publish import publish

    cancel = threading.Event()

    def listen() -> None:
        while True:
            try:
                message = channel.recv()
            except EOFError:
                cancel.set()  # the app is gone: nobody wants this upload any more
                return
            if isinstance(message, CancelPublish):
                cancel.set()
                return

    threading.Thread(target=listen, name="publish-cancel", daemon=True).start()
    last: dict[str, Any] = {"at": 0.0, "stage": ""}

    def relay(event: PublishProgress) -> None:  # one message per read would flood the pipe: 10 a second
        now = time.monotonic()
        if event.stage != last["stage"] or event.done >= event.total or now - last["at"] >= PROGRESS_S:
            last.update(at=now, stage=event.stage)
            channel.send(event)

    serve_job(channel, lambda: Published(publish(request, progress=relay, cancel=cancel)), ShareError, log,
              "publishing")


def run_publish_job(
    request: PublishRequest,
    *,
    progress: Callable[[PublishProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> PublishResult:
    """Publish in a child process and wait for it; progress arrives on this thread."""
    from app.process.supervisor import Supervisor

    events: queue.Queue[Any] = queue.Queue()
    child = Supervisor(ENTRY, (request,), subject="the upload", on_message=events.put, on_exit=events.put)
    child.start()
    cancelled = False
    result: PublishResult | None = None
    error: AppError | None = None
    while True:
        if cancel is not None and cancel.is_set() and not cancelled:
            cancelled = True
            child.stop(ask=CancelPublish(), grace=CANCEL_GRACE_S)  # its Outcome, and any last word, follow
        try:
            item = events.get(timeout=0.1)
        except queue.Empty:
            continue
        if isinstance(item, PublishProgress):
            if progress is not None:
                progress(item)
        elif isinstance(item, Published):
            result = item.result
        elif isinstance(item, JobFailed):
            error = item.error
        elif isinstance(item, Outcome):
            break
    if error is not None:
        raise error
    if result is None:
        if cancelled:
            raise Cancelled("publish cancelled", hint=RESUME_HINT)
        raise ShareError(item.sentence, hint=f"{item.hint}; {RESUME_HINT}" if item.hint else RESUME_HINT)
    return result
