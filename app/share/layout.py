"""A GGUF file's header as raw bytes: each metadata entry exactly as stored, so a rewritten header keeps
every value bit for bit (types, strings that are not valid UTF-8, nested arrays) without re-encoding it.

The header is first read and checked by app.gguf.reader; this module only finds where each entry lies
(large arrays are skipped by the reader's own `ArrayRef` extents) and writes new headers from the pieces.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from app.core.errors import GGUFError
from app.gguf.reader import MAGIC, GGUFHeader, TensorInfo, read_header
from app.gguf.types import GGUF_DEFAULT_ALIGNMENT
from app.gguf.values import FIXED, ArrayRef, ValueType

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_HEADER_START = 4 + 4 + 8 + 8  # magic, version, tensor count, metadata count


@dataclass(frozen=True, slots=True)
class RawEntry:
    key: str
    data: bytes  # the whole entry: key, type tag, value


@dataclass(frozen=True, slots=True)
class RawHeader:
    header: GGUFHeader
    entries: tuple[RawEntry, ...]

    @property
    def path(self) -> Path:
        return Path(self.header.path_or_source)

    def spans(self) -> list[tuple[TensorInfo, int]]:
        """Each tensor with the bytes it owns in the file: its data and the padding up to the next tensor
        (the last one: up to the end of the file, so trailing bytes survive a round trip)."""
        tensors = self.header.tensors
        ends = [t.offset for t in tensors[1:]] + [self.header.file_size]
        return [(t, end - t.offset) for t, end in zip(tensors, ends, strict=True)]


def read_raw_header(path: Path) -> RawHeader:
    header = read_header(path)
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        entries: list[RawEntry] = []
        pos = _HEADER_START
        for key in header.metadata:
            start = pos
            length = _U64.unpack_from(data, pos)[0]
            pos += 8 + length
            vtype = _U32.unpack_from(data, pos)[0]
            pos += 4
            value = header.metadata[key]
            pos = value.offset + value.n_bytes if isinstance(value, ArrayRef) else _skip_value(data, pos, vtype)
            entries.append(RawEntry(key, bytes(data[start:pos])))
    return RawHeader(header, tuple(entries))


def _skip_value(data: mmap.mmap, pos: int, vtype: int) -> int:
    fixed = FIXED.get(vtype)
    if fixed is not None:
        return pos + fixed[1]
    if vtype == ValueType.STRING:
        return pos + 8 + int(_U64.unpack_from(data, pos)[0])
    if vtype == ValueType.ARRAY:
        etype = _U32.unpack_from(data, pos)[0]
        count = _U64.unpack_from(data, pos + 4)[0]
        pos += 12
        element = FIXED.get(etype)
        if element is not None:
            return pos + count * element[1]
        for _ in range(count):
            pos = _skip_value(data, pos, etype)
        return pos
    raise GGUFError(f"unknown value type {vtype}", offset=pos)  # the reader accepted it: cannot happen


def _string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return _U64.pack(len(raw)) + raw


def entry_u16(key: str, value: int) -> RawEntry:
    return RawEntry(key, _string(key) + _U32.pack(ValueType.UINT16) + struct.pack("<H", value))


def entry_u32(key: str, value: int) -> RawEntry:
    return RawEntry(key, _string(key) + _U32.pack(ValueType.UINT32) + struct.pack("<I", value))


def entry_i32(key: str, value: int) -> RawEntry:
    return RawEntry(key, _string(key) + _U32.pack(ValueType.INT32) + struct.pack("<i", value))


def padded(n: int, alignment: int) -> int:
    return n + (-n % alignment)


def encode_header(
    version: int, entries: list[RawEntry], tensors: list[TensorInfo], alignment: int = GGUF_DEFAULT_ALIGNMENT
) -> bytes:
    """Magic to the start of tensor data: tensors are laid out one after another, each padded to `alignment`."""
    out = bytearray(MAGIC)
    out += _U32.pack(version) + _U64.pack(len(tensors)) + _U64.pack(len(entries))
    for entry in entries:
        out += entry.data
    offset = 0
    for t in tensors:
        out += _string(t.name) + _U32.pack(len(t.shape))
        out += struct.pack(f"<{len(t.shape)}Q", *t.shape)
        out += _U32.pack(t.ggml_type) + _U64.pack(offset)
        offset = padded(offset + t.n_bytes, alignment)
    out += bytes(-len(out) % alignment)
    return bytes(out)


def copy_range(src: BinaryIO, dst: BinaryIO, start: int, length: int, buffer: bytearray) -> int:
    """Copy up to `length` bytes of `src` from `start` to `dst`'s position in pieces; returns how many there were."""
    view = memoryview(buffer)
    src.seek(start)
    done = 0
    while done < length:
        n = src.readinto(view[: min(len(buffer), length - done)])  # type: ignore[attr-defined]
        if not n:
            break
        dst.write(view[:n])
        done += n
    return done
