"""Read safetensors files without torch: parse the header ourselves, memory-map the data.

A tensor is only touched when it is asked for, so converting never holds more than one at a time.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.core.errors import ConvertError

_MAX_HEADER = 100 * 1024 * 1024

# safetensors dtype -> (numpy storage dtype, bytes per element). BF16 stays raw uint16: numpy has no bf16.
DTYPES: dict[str, tuple[str, int]] = {
    "F64": ("<f8", 8),
    "F32": ("<f4", 4),
    "F16": ("<f2", 2),
    "BF16": ("<u2", 2),
    "I64": ("<i8", 8),
    "I32": ("<i4", 4),
    "I16": ("<i2", 2),
    "I8": ("i1", 1),
    "U8": ("u1", 1),
    "BOOL": ("u1", 1),
    "F8_E4M3": ("u1", 1),  # codes; app.convert.fp8 gives their values
}


@dataclass(frozen=True, slots=True)
class TensorRef:
    name: str
    dtype: str
    shape: tuple[int, ...]
    path: Path
    offset: int  # absolute offset of the first byte in the file
    nbytes: int

    @property
    def n_elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


def read_header(path: Path) -> list[TensorRef]:
    """The tensors of one safetensors file, checked against the file's real size."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(8)
            if len(head) != 8:
                raise ConvertError(f"{path.name} is not a safetensors file (too short)")
            (n,) = struct.unpack("<Q", head)
            if n > _MAX_HEADER or n + 8 > size:
                raise ConvertError(f"{path.name} has an invalid safetensors header length ({n})")
            raw = f.read(n)
    except OSError as exc:
        raise ConvertError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        header: dict[str, Any] = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConvertError(f"{path.name} has a corrupt safetensors header") from exc
    if not isinstance(header, dict):
        raise ConvertError(f"{path.name} has a corrupt safetensors header")
    base = 8 + n
    refs = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        refs.append(_parse_entry(path, name, info, base, size))
    return refs


def _parse_entry(path: Path, name: str, info: Any, base: int, size: int) -> TensorRef:
    try:
        dtype = str(info["dtype"])
        shape = tuple(int(d) for d in info["shape"])
        start, end = (int(x) for x in info["data_offsets"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ConvertError(f"{path.name}: tensor {name!r} has a malformed header entry") from exc
    if dtype not in DTYPES:
        raise ConvertError(f"{path.name}: tensor {name!r} has unsupported dtype {dtype}")
    count = 1
    for d in shape:
        if d < 0:
            raise ConvertError(f"{path.name}: tensor {name!r} has a negative dimension")
        count *= d
    nbytes = count * DTYPES[dtype][1]
    if start < 0 or end - start != nbytes or base + end > size:
        raise ConvertError(f"{path.name}: tensor {name!r} lies outside the file or has the wrong size")
    return TensorRef(name=name, dtype=dtype, shape=shape, path=path, offset=base + start, nbytes=nbytes)


class MappedFiles:
    """Keeps one read-only memory map per shard; arrays returned are views into it."""

    def __init__(self) -> None:
        self._maps: dict[Path, mmap.mmap] = {}

    def raw(self, ref: TensorRef) -> np.ndarray:
        """The stored values (BF16 as uint16), shaped, without copying."""
        mm = self._maps.get(ref.path)
        if mm is None:
            with ref.path.open("rb") as f:
                mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            self._maps[ref.path] = mm
        np_dtype = np.dtype(DTYPES[ref.dtype][0])
        arr = np.frombuffer(mm, dtype=np_dtype, count=ref.n_elements, offset=ref.offset)
        return arr.reshape(ref.shape)

    def release(self, ref: TensorRef) -> None:
        """Drop the tensor's pages from this process (they stay in the page cache): keeps RSS near one tensor."""
        mm = self._maps.get(ref.path)
        if mm is None or not hasattr(mmap, "MADV_DONTNEED"):
            return
        page = mmap.PAGESIZE
        start = ref.offset // page * page
        mm.madvise(mmap.MADV_DONTNEED, start, ref.offset + ref.nbytes - start)

    def close(self) -> None:
        for mm in self._maps.values():
            with contextlib.suppress(BufferError):  # a view is still alive; the map goes when it does
                mm.close()
        self._maps.clear()


def read_values(ref: TensorRef) -> np.ndarray:
    """A small tensor's values as float32 (biases, scalars), read straight from the file."""
    try:
        with ref.path.open("rb") as f:
            f.seek(ref.offset)
            raw = f.read(ref.nbytes)
    except OSError as exc:
        raise ConvertError(f"cannot read {ref.path}: {exc.strerror or exc}") from exc
    values = np.frombuffer(raw, dtype=np.dtype(DTYPES[ref.dtype][0])).reshape(ref.shape)
    return bf16_to_f32(values) if ref.dtype == "BF16" else values.astype(np.float32)


def bf16_to_f32(raw: np.ndarray) -> np.ndarray:
    """Exact widening: a bf16 is the top half of an f32."""
    return (raw.astype(np.uint32) << 16).view(np.float32)
