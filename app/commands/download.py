"""`gguf-studio download REPO [FILE | --quant TYPE]`: a verified model file, resuming what is on disk."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser(
        "download",
        help="download a GGUF model from the Hugging Face Hub (resumes, verifies sha256)",
        description="Download a model into <models>/<publisher>/<repo>/. A split model downloads all its parts. "
        "An interrupted download resumes from the bytes on disk. Exit status 0 only for verified files.",
    )
    p.add_argument("repo", help="model repo id, e.g. unsloth/gemma-3-270m-it-GGUF")
    what = p.add_mutually_exclusive_group()
    what.add_argument("file", nargs="?", help="file in the repo (any part of a split model)")
    what.add_argument("--quant", metavar="TYPE", help="pick the model file of this quantization, e.g. Q4_K_M")
    p.add_argument("--dir", metavar="D", help="models folder (default: the one in Settings)")
    p.add_argument("--revision", default="main", help="branch, tag or commit (default main)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app.downloads.job import DownloadConfig, run_job
    from app.downloads.select import choose_quant, expand_split
    from app.downloads.transfer import StopToken

    if args.file is not None and args.quant is None:
        filenames = expand_split(args.file)
    else:
        from app.hub.detail import repo_detail

        filenames = choose_quant(repo_detail(args.repo, args.revision), args.quant)
    models_dir = Path(args.dir).expanduser() if args.dir else _models_dir()
    listener = _Printer(sys.stderr)
    config = DownloadConfig(segments=_segments())
    paths = run_job(args.repo, filenames, args.revision, models_dir, StopToken(), listener, config)
    listener.finish()
    for path in paths:
        print(path)
    return 0


def _segments() -> int:
    from app.core.settings import Settings

    return Settings().values.download_segments


def _models_dir() -> Any:
    from app.core.settings import Settings

    return Settings().models_path()


class _Printer:
    """Progress on stderr: one updating line on a terminal, a line every few seconds otherwise."""

    def __init__(self, stream: TextIO) -> None:
        from app.downloads.speed import SpeedMeter

        self._stream = stream
        self._tty = stream.isatty()
        self._interval = 0.2 if self._tty else 2.0
        self._meter = SpeedMeter()
        self._total = 0
        self._last = 0.0
        self._done = 0

    def resolved(self, files: Sequence[Any], done_bytes: int) -> None:
        from app.core.units import format_bytes

        self._total = sum(f.size for f in files)
        self._meter.reset(done_bytes)
        self._done = done_bytes
        names = ", ".join(f.filename for f in files)
        resumed = f", resuming at {format_bytes(done_bytes)}" if done_bytes else ""
        self._line(f"downloading {names} ({format_bytes(self._total)}{resumed})", final=True)

    def progress(self, done_bytes: int) -> None:
        self._done = done_bytes
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            self._show()

    def retrying(self, message: str, delay: float) -> None:
        self._line(f"retrying in {delay:.0f} s: {message}", final=True)

    def file_done(self, filename: str) -> None:
        self._show()
        self._line(f"verified {filename}", final=True)

    def finish(self) -> None:
        if self._tty:
            self._stream.write("\n")
            self._stream.flush()

    def _show(self) -> None:
        from app.core.units import format_bytes, format_duration, format_rate
        from app.downloads.speed import eta_seconds

        speed = self._meter.sample(self._done)
        percent = 100.0 * self._done / self._total if self._total else 0.0
        eta = eta_seconds(self._done, self._total, speed)
        eta_text = f", {format_duration(eta)} left" if eta is not None else ""
        self._line(
            f"{percent:5.1f}%  {format_bytes(self._done)} of {format_bytes(self._total)}  "
            f"{format_rate(speed)}{eta_text}"
        )

    def _line(self, text: str, final: bool = False) -> None:
        if self._tty:
            self._stream.write("\r\x1b[K" + text + ("\n" if final else ""))
        else:
            self._stream.write(text + "\n")
        self._stream.flush()
