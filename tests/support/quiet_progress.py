"""A download progress listener that ignores every event, for tests that only look at the result."""

from __future__ import annotations


class QuietProgress:
    def resolved(self, files: object, done_bytes: int) -> None:
        pass

    def progress(self, done_bytes: int) -> None:
        pass

    def retrying(self, message: str, delay: float) -> None:
        pass

    def file_done(self, filename: str) -> None:
        pass
