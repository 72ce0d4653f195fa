"""Split a GGUF into llama.cpp's split format and merge a split set back, streaming and atomically.

The format is llama.cpp's (tools/gguf-split and the model loader): parts named `STEM-0000K-of-0000N.gguf`;
every part carries `split.no` (u16, 0-based), `split.count` (u16) and `split.tensors.count` (i32, the
whole model's); the first part also carries all of the model's metadata, the others nothing else. Each
part's tensors are laid out one after another from its data start, padded to the alignment.

A round trip is byte-identical: the first part keeps the source's metadata entries as stored with the
split keys appended, and every tensor takes its padding bytes (for the last one, whatever follows it to
the end of the file) along; merging drops the split keys again and copies the same bytes back.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from app.core.atomic import fsync_dir, temp_name
from app.core.claim import claimed
from app.core.errors import Cancelled, DiskFullError, GGUFError
from app.core.units import format_bytes
from app.gguf.naming import parse_split, split_file_name
from app.gguf.reader import TensorInfo
from app.gguf.split import KEY_COUNT, KEY_NO, KEY_TENSORS, read_model, split_count
from app.share.layout import (
    RawEntry,
    RawHeader,
    copy_range,
    encode_header,
    entry_i32,
    entry_u16,
    padded,
    read_raw_header,
)

SPLIT_KEYS = (KEY_NO, KEY_COUNT, KEY_TENSORS)
KEY_ALIGNMENT = "general.alignment"
MAX_PARTS = 99_999  # five digits in the part names
_BUFFER = 8 << 20

Progress = Callable[[int, int], None]
"""`progress(bytes_done, bytes_total)`."""


@dataclass(frozen=True, slots=True)
class PartPlan:
    path: Path
    first: int  # index of its first tensor in the source
    count: int  # how many tensors it holds
    size: int  # bytes of the part file


@dataclass(frozen=True, slots=True)
class SplitPlan:
    source: Path
    parts: tuple[PartPlan, ...]

    @property
    def paths(self) -> tuple[Path, ...]:
        return tuple(p.path for p in self.parts)


def parse_size(text: str) -> int:
    """"50G", "49.5GB", "800M", "1.5GiB", "123456" (bytes) -> bytes; decimal units as llama-gguf-split's."""
    units = {"": 1, "B": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
             "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
    raw = text.strip().upper()
    number = raw.rstrip("KMGTIB")
    unit = raw[len(number):]
    unit = unit[:-1] if unit.endswith("B") and unit not in ("B",) and not unit.endswith("IB") else unit
    try:
        value = float(number) * units[unit]
    except (ValueError, KeyError):
        raise GGUFError(f"cannot read the size {text!r}", hint="write it like 2G, 500M or 49.5GB") from None
    if value < 1:
        raise GGUFError(f"size {text!r} must be positive")
    return int(value)


# -- split ------------------------------------------------------------------------------------------


def _split_entries(raw: RawHeader, part: int, count: int) -> list[RawEntry]:
    keys = [entry_u16(KEY_NO, part), entry_u16(KEY_COUNT, count), entry_i32(KEY_TENSORS, len(raw.header.tensors))]
    if part == 0:
        by_key = {e.key: e for e in keys}
        entries = [by_key.pop(e.key, e) for e in raw.entries]  # an existing split key is replaced where it stands
        return entries + list(by_key.values())
    # The alignment applies to every part's data, so a part without it would be laid out differently.
    return [e for e in raw.entries if e.key == KEY_ALIGNMENT] + keys


def _header_size(entries: Sequence[RawEntry], tensors: Sequence[TensorInfo], alignment: int) -> int:
    size = 24 + sum(len(e.data) for e in entries)
    size += sum(8 + len(t.name.encode()) + 4 + 8 * len(t.shape) + 4 + 8 for t in tensors)
    return padded(size, alignment)


def _data_sizes(raw: RawHeader) -> list[int]:
    """Bytes each tensor takes in a part: data and padding; the model's last keeps its trailing bytes."""
    alignment = raw.header.alignment
    spans = raw.spans()
    sizes = [padded(t.n_bytes, alignment) for t, _ in spans]
    if spans:
        sizes[-1] = max(spans[-1][1], spans[-1][0].n_bytes)
    return sizes


def plan_split(
    source: Path, *, max_size: int | None = None, max_tensors: int | None = None, out_dir: Path | None = None
) -> SplitPlan:
    """Which tensors go in which part: greedily as many as fit under `max_size` bytes per file (header
    included) or `max_tensors` per part. Exactly one of the two limits must be given."""
    if (max_size is None) == (max_tensors is None):
        raise GGUFError("give either a maximum size or a maximum tensor count per part")
    raw = read_raw_header(source)
    return _plan(raw, source, max_size, max_tensors, out_dir)


def _plan(
    raw: RawHeader, source: Path, max_size: int | None, max_tensors: int | None, out_dir: Path | None
) -> SplitPlan:
    header = raw.header
    if split_count(header) > 1:
        raise GGUFError(f"{source.name} is already part of a split model", hint="merge it first, then split again")
    tensors = header.tensors
    if not tensors:
        raise GGUFError(f"{source.name} holds no tensors to split")
    if max_tensors is not None and max_tensors < 1:
        raise GGUFError("the tensor count per part must be at least 1")
    sizes = _data_sizes(raw)
    alignment = header.alignment
    groups: list[tuple[int, int]] = []  # (first, count)
    first = 0
    for index in range(len(tensors)):
        if index == first:
            continue
        if max_tensors is not None:
            full = index - first >= max_tensors
        else:
            assert max_size is not None
            entries = _split_entries(raw, len(groups), 2)
            size = _header_size(entries, tensors[first : index + 1], alignment) + sum(sizes[first : index + 1])
            full = size > max_size
        if full:
            groups.append((first, index - first))
            first = index
    groups.append((first, len(tensors) - first))
    count = len(groups)
    if count > MAX_PARTS:
        raise GGUFError(f"that would make {count} parts; llama.cpp names at most {MAX_PARTS}")
    stem = source.name[: -len(".gguf")] if source.name.lower().endswith(".gguf") else source.name
    folder = out_dir if out_dir is not None else source.parent
    parts = []
    for number, (start, n) in enumerate(groups):
        entries = _split_entries(raw, number, count)
        size = _header_size(entries, tensors[start : start + n], alignment) + sum(sizes[start : start + n])
        if max_size is not None and size > max_size:
            big = max(range(start, start + n), key=lambda i: sizes[i])
            raise GGUFError(
                f"tensor {tensors[big].name} alone makes a {format_bytes(size)} part, over the "
                f"{format_bytes(max_size)} limit",
                hint="choose a larger maximum size",
            )
        parts.append(PartPlan(folder / split_file_name(stem, number + 1, count), start, n, size))
    return SplitPlan(source, tuple(parts))


def split_gguf(
    source: Path,
    *,
    max_size: int | None = None,
    max_tensors: int | None = None,
    out_dir: Path | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> SplitPlan:
    """Write the parts of `source`; every part appears at its name only once all of them are written."""
    if (max_size is None) == (max_tensors is None):
        raise GGUFError("give either a maximum size or a maximum tensor count per part")
    raw = read_raw_header(source)
    plan = _plan(raw, source, max_size, max_tensors, out_dir)
    count = len(plan.parts)
    tensors = raw.header.tensors
    spans = raw.spans()

    def write_part(number: int, out: BinaryIO, src: BinaryIO, step: Callable[[int], None]) -> None:
        part = plan.parts[number]
        chosen = list(tensors[part.first : part.first + part.count])
        out.write(encode_header(raw.header.version, _split_entries(raw, number, count), chosen, raw.header.alignment))
        for index in range(part.first, part.first + part.count):
            _copy_tensor(src, out, spans[index], raw.header.alignment, index == len(tensors) - 1, step)

    _write_outputs(source, [p.path for p in plan.parts], [p.size for p in plan.parts], write_part,
                   overwrite=overwrite, progress=progress, cancel=cancel)
    return plan


# -- merge ------------------------------------------------------------------------------------------


def merged_name(first: Path) -> Path:
    name = parse_split(first.name)
    if name is None:
        raise GGUFError(
            f"{first.name} is not named like a part of a split model",
            hint="give the first part, NAME-00001-of-0000N.gguf",
        )
    return first.with_name(f"{name.stem}.gguf")


def merge_gguf(
    first: Path,
    *,
    output: Path | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> Path:
    """Merge every part of the split model `first` belongs to into one file (default: `STEM.gguf` beside it)."""
    target = output if output is not None else merged_name(first)
    model = read_model(first)  # checks that every part is there and that they belong together
    if len(model.parts) < 2:
        raise GGUFError(f"{first.name} is not split: there is nothing to merge")
    raws = [read_raw_header(Path(p.path_or_source)) for p in model.parts]
    head = raws[0].header
    entries = [e for e in raws[0].entries if e.key not in SPLIT_KEYS]
    header = encode_header(head.version, entries, list(model.tensors), head.alignment)
    pieces = [(raw, span) for raw in raws for span in raw.spans()]
    sizes = [padded(t.n_bytes, head.alignment) for _, (t, _) in pieces]
    sizes[-1] = max(pieces[-1][1][1], pieces[-1][1][0].n_bytes)
    total = len(header) + sum(sizes)

    def write_all(_: int, out: BinaryIO, src: BinaryIO, step: Callable[[int], None]) -> None:
        out.write(header)
        for raw in raws:
            with open(raw.path, "rb") as part:
                spans = raw.spans()
                for index, span in enumerate(spans):
                    last = raw is raws[-1] and index == len(spans) - 1
                    _copy_tensor(part, out, span, head.alignment, last, step)

    _write_outputs(first, [target], [total], write_all, overwrite=overwrite, progress=progress, cancel=cancel)
    return target


# -- shared -----------------------------------------------------------------------------------------


def _copy_tensor(
    src: BinaryIO, out: BinaryIO, span: tuple[TensorInfo, int], alignment: int, last: bool, step: Callable[[int], None]
) -> None:
    """A tensor's data and padding; the padding is the source's own bytes (zeros where it had fewer)."""
    tensor, available = span
    want = max(available, tensor.n_bytes) if last else padded(tensor.n_bytes, alignment)
    buffer = _buffer()
    copied = 0
    while copied < want:
        piece = min(want - copied, _BUFFER, max(available - copied, 0))
        if piece <= 0:
            break
        got = copy_range(src, out, tensor.offset + copied, piece, buffer)
        if got < piece and copied + got < tensor.n_bytes:
            raise GGUFError(f"{tensor.name}: the file ends inside its data", hint="the file is truncated")
        copied += got
        step(got)
        if got < piece:
            break
    if copied < want:
        out.write(bytes(want - copied))
        step(want - copied)


_local = threading.local()


def _buffer() -> bytearray:
    buffer: bytearray | None = getattr(_local, "buffer", None)
    if buffer is None:
        buffer = _local.buffer = bytearray(_BUFFER)
    return buffer


def _write_outputs(
    source: Path,
    paths: list[Path],
    sizes: list[int],
    write: Callable[[int, BinaryIO, BinaryIO, Callable[[int], None]], None],
    *,
    overwrite: bool,
    progress: Progress | None,
    cancel: threading.Event | None,
) -> None:
    """Write every output to a temporary sibling, fsync, then rename them all into place."""
    from app.downloads.disk import ensure_free_space, is_disk_full

    existing = [p for p in paths if p.exists()]
    if existing and not overwrite:
        raise GGUFError(
            f"{existing[0].name} already exists", hint="remove it, choose another folder, or allow overwriting"
        )
    folder = paths[0].parent
    folder.mkdir(parents=True, exist_ok=True)
    total = sum(sizes)
    ensure_free_space(folder, total)
    done = 0

    def step(n: int) -> None:
        nonlocal done
        done += n
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        if progress is not None:
            progress(done, total)

    temps: list[Path] = []
    with claimed(paths), _cleanup(temps):
        with open(source, "rb") as src:
            for number, path in enumerate(paths):
                temp = temp_name(path)
                temps.append(temp)
                try:
                    with open(temp, "xb") as out:
                        write(number, out, src, step)
                        out.flush()
                        os.fsync(out.fileno())
                except OSError as exc:
                    if is_disk_full(exc):
                        raise DiskFullError(f"The disk filled up while writing {path.name}",
                                            hint="free some space and try again; nothing was left behind") from exc
                    raise
        for temp, path in zip(temps, paths, strict=True):
            os.replace(temp, path)
        temps.clear()
        fsync_dir(folder)


@contextlib.contextmanager
def _cleanup(temps: list[Path]) -> Iterator[None]:
    try:
        yield
    finally:
        for temp in temps:
            with contextlib.suppress(OSError):
                temp.unlink()
