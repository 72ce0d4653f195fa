"""GGUF v2/v3 header parser: metadata and tensor infos, never tensor data.

One parser reads three sources: a local file, bytes, or a ranged reader for remote
files. Every count, length and offset is checked against the bytes the source can hold before it is
used, so hostile input raises `GGUFError` instead of allocating or looping without bound.

Large arrays (the vocabulary) are skipped, not decoded: fixed-size elements by arithmetic, strings by
their lengths in native code (`app._native`), and left as `ArrayRef`s to decode on demand. The tensor infos
are read by native code too; wherever a native walk stops (more bytes needed, or something wrong), the
Python code here reads that one item and raises the error that names the problem.
"""

from __future__ import annotations

import codecs
import os
import struct
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType

from app._native import gguf_skip_strings, gguf_tensor_infos
from app.core.errors import GGUFError
from app.gguf.types import (
    GGML_MAX_DIMS,
    GGML_MAX_NAME,
    GGUF_DEFAULT_ALIGNMENT,
    INT64_MAX,
    ggml_type_name,
    ggml_types,
)
from app.gguf.values import FIXED, FIXED_STRUCTS, ArrayRef, Loader, Value, ValueType, type_name
from app.gguf.window import BufferWindow, Fetch, FileWindow, RangedWindow, Window

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
LAZY_ARRAY_MIN = 257  # arrays of this many elements or more stay in the file as ArrayRef
MAX_ARRAY_DEPTH = 8  # arrays of arrays nest at most this deep
# Work limits, far above any real file (tens of keys, a few thousand tensors), so hostile headers are refused
# at once instead of parsed entry by entry.
MAX_METADATA_ENTRIES = 65_536
MAX_TENSORS = 65_536
MAX_KEY_BYTES = 65_535  # the GGUF specification's limit
_STRICT_TEXT_FROM = 1 << 16  # strings this long must be valid UTF-8: binary data read as text is refused
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_MIN_KV_BYTES = 8 + 4 + 1  # empty key, type tag, one-byte value
_MIN_TENSOR_BYTES = 8 + 4 + 4 + 8  # empty name, n_dims = 0, type, offset
# A skipped value (a big fixed-size array) that leaves more than this unread: the parser moves on to a window
# that starts after it instead of reading the stretch. A damaged count then costs no walk through the data.
JUMP_MIN = 4 << 20


_Info = tuple[str, tuple[int, ...], int, int, int]
"""A tensor info as stored: name, shape, ggml type, offset relative to the tensor data, bytes."""


@cache
def _type_table() -> array[int]:
    """(elements per block, bytes per block) of every ggml type, flat by type id, (0, 0) where an id has none:
    the native tensor-info walk's view of `ggml_types()`."""
    known = ggml_types()
    table = array("Q", bytes(16 * (max(known) + 1)))
    for t in known.values():
        table[2 * t.id], table[2 * t.id + 1] = t.block_size, t.type_size
    return table


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """One tensor as the header describes it. `shape` is in ggml order (ne0, the row length, first);
    `offset` is absolute in its file; `part` is the index of the file in a split set (0 otherwise)."""

    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int
    n_bytes: int
    part: int = 0

    @property
    def type_name(self) -> str:
        return ggml_type_name(self.ggml_type)

    @property
    def n_elements(self) -> int:
        n = 1
        for dim in self.shape:
            n *= dim
        return n


@dataclass(frozen=True, slots=True)
class GGUFHeader:
    """Everything in a GGUF file before its tensor data.

    `metadata` maps keys to values (see `app.gguf.values.Value`); `value_types` gives each key's type tag
    path, e.g. `(ARRAY, UINT32)`, for code that writes metadata back. `data_offset` is where tensor data
    starts (aligned to `alignment`); `file_size` the size of the whole file.
    """

    version: int
    metadata: Mapping[str, Value]
    tensors: tuple[TensorInfo, ...]
    alignment: int
    data_offset: int
    file_size: int
    path_or_source: str
    value_types: Mapping[str, tuple[int, ...]] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def architecture(self) -> str | None:
        arch = self.metadata.get("general.architecture")
        return arch if isinstance(arch, str) else None

    @property
    def tensor_bytes(self) -> int:
        return sum(t.n_bytes for t in self.tensors)


def read_header(path: str | os.PathLike[str]) -> GGUFHeader:
    """Read the header of a local GGUF file."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            window = FileWindow(f, os.fstat(f.fileno()).st_size)
            return _parse(window, _file_loader(p), str(p))
    except OSError as exc:
        raise GGUFError(f"cannot read {p}: {exc.strerror or exc}") from exc


def read_header_bytes(data: bytes, file_size: int | None = None, source: str = "<bytes>") -> GGUFHeader:
    """Read a header from bytes: a whole file, or only its start when `file_size` gives the full size."""
    data = bytes(data)

    def load(start: int, end: int) -> bytes:
        return data[start:end]

    return _parse(BufferWindow(data, file_size), load, source)


def read_header_ranged(fetch: Fetch, size: int, source: str = "<ranged>") -> GGUFHeader:
    """Read a header through `fetch(start, end_exclusive) -> bytes` over a file of `size` bytes.

    Typically one or two requests (at most three for headers up to 32 MiB). Lazy arrays re-fetch
    their bytes when decoded. Exceptions raised by `fetch` pass through unchanged.
    """
    return _parse(RangedWindow(fetch, size), fetch, source)


def _file_loader(path: Path) -> Loader:
    def load(start: int, end: int) -> bytes:
        try:
            with open(path, "rb") as f:
                f.seek(start)
                return f.read(end - start)
        except OSError as exc:
            raise GGUFError(f"cannot read {path}: {exc.strerror or exc}") from exc

    return load


def _parse(window: Window, loader: Loader, source: str) -> GGUFHeader:
    return _Parser(window, loader).header(source)


class _Parser:
    def __init__(self, window: Window, loader: Loader, decode_all: bool = False, base: int = 0) -> None:
        self.w = window
        self.load = loader
        self.pos = 0
        self.hint = 0  # where the current section probably ends (sizes ranged fetches)
        self.decode_all = decode_all
        self.base = base  # absolute offset of window byte 0 (for errors and ArrayRef offsets)
        # Bytes the entries still to come need at the least: a value must end before them. This keeps the
        # metadata's end ahead of the tensor infos (and those ahead of the data), so a damaged length or count
        # is refused where it is read instead of after a walk through the tensor data.
        self.reserve = 0

    # -- primitives -------------------------------------------------------------------------

    def error(self, message: str, at: int | None = None, hint: str = "") -> GGUFError:
        return GGUFError(message, offset=self.base + (self.pos if at is None else at), hint=hint)

    def left(self) -> int:
        """Bytes the current value may take: up to the file's end, less what the entries after it need."""
        return self.w.size - self.pos - self.reserve

    def room(self) -> str:
        after = " before the entries that follow" if self.reserve else ""
        return f"the {max(self.left(), 0)} bytes left{after}"

    def settle(self) -> None:
        """Between entries: leave the bytes a skip jumped over unread (see JUMP_MIN)."""
        if self.pos - len(self.w.data) > JUMP_MIN:
            self.w = self.w.tail(self.pos)
            self.base += self.pos
            self.pos = 0
            self.hint = 0

    def take(self, n: int) -> int:
        """Reserve n bytes at the cursor; returns their start."""
        start = self.pos
        end = start + n
        if end > len(self.w.data):
            self.w.ensure(end, self.hint)
        self.pos = end
        return start

    def u32(self) -> int:
        at = self.take(4)
        return int(_U32.unpack_from(self.w.data, at)[0])

    def u64(self) -> int:
        at = self.take(8)
        return int(_U64.unpack_from(self.w.data, at)[0])

    def string(self, what: str, limit: int | None = None) -> str:
        length = self.u64()
        if length > self.left():
            raise self.error(f"{what}: string length {length} exceeds {self.room()}", self.pos - 8)
        if limit is not None and length > limit:
            raise self.error(f"{what}: a {length}-byte string is longer than {limit} bytes", self.pos - 8)
        if length >= _STRICT_TEXT_FROM:
            self.text_ahead(what, length)
        at = self.take(length)
        raw = self.w.data[at : at + length]
        if length < _STRICT_TEXT_FROM:
            return str(raw, "utf-8", "replace")
        try:
            return str(raw, "utf-8")
        except UnicodeDecodeError as exc:  # a length read from a damaged header runs into tensor data
            raise self.error(f"{what}: a {length}-byte string that is not UTF-8 text", at + exc.start) from None

    def text_ahead(self, what: str, length: int) -> None:
        """Refuse a long string whose first bytes are not UTF-8 before reading the rest: a length from a damaged
        header points tens of megabytes into tensor data, and those bytes would be read only to be refused."""
        start = self.pos
        end = start + _STRICT_TEXT_FROM
        if end > len(self.w.data):
            self.w.ensure(end, self.hint)
        try:
            codecs.getincrementaldecoder("utf-8")().decode(bytes(self.w.data[start:end]), final=False)
        except UnicodeDecodeError as exc:
            raise self.error(f"{what}: a {length}-byte string that is not UTF-8 text", start + exc.start) from None

    # -- metadata values --------------------------------------------------------------------

    def value(self, vtype: int, what: str, depth: int = 0) -> Value:
        fixed = FIXED_STRUCTS.get(vtype)
        if fixed is not None:
            at = self.take(fixed.size)
            value: int | float | bool = fixed.unpack_from(self.w.data, at)[0]
            return value
        if vtype == ValueType.STRING:
            return self.string(what)
        if vtype == ValueType.ARRAY:
            return self.array(what, depth + 1)
        raise self.error(f"{what}: unknown value type {vtype}", self.pos - 4)

    def array(self, what: str, depth: int) -> Value:
        if depth > MAX_ARRAY_DEPTH:
            raise self.error(f"{what}: arrays nested deeper than {MAX_ARRAY_DEPTH}")
        type_at = self.pos
        etype = self.u32()
        count = self.u64()
        min_size = _min_element_size(etype)
        if min_size == 0:
            raise self.error(f"{what}: unknown array element type {etype}", type_at)
        if count > max(self.left(), 0) // min_size:
            raise self.error(
                f"{what}: array of {count} {type_name(etype)} elements cannot fit in {self.room()}",
                type_at + 4,
            )
        start = self.pos
        lazy = count >= LAZY_ARRAY_MIN and not self.decode_all
        fixed = FIXED.get(etype)
        if fixed is not None:
            n_bytes = count * fixed[1]
            if lazy:
                self.pos += n_bytes  # checked above: within the file
                return ArrayRef(etype, count, self.base + start, n_bytes, self.load, decode_array_bytes)
            at = self.take(n_bytes)
            values = struct.unpack_from(f"<{count}{fixed[0]}", self.w.data, at)
            return values
        if etype == ValueType.STRING:
            if lazy:
                self.skip_strings(count)
                return ArrayRef(etype, count, self.base + start, self.pos - start, self.load, decode_array_bytes)
            return tuple(self.string(what) for _ in range(count))
        if lazy:
            for _ in range(count):
                self.skip_nested(what, depth)
            return ArrayRef(etype, count, self.base + start, self.pos - start, self.load, decode_array_bytes)
        return tuple(self.array(what, depth + 1) for _ in range(count))

    def skip_nested(self, what: str, depth: int) -> None:
        saved, self.decode_all = self.decode_all, False
        try:
            value = self.array(what, depth + 1)
        finally:
            self.decode_all = saved
        del value

    def skip_strings(self, count: int) -> None:
        """Move past `count` length-prefixed strings without a Python step per string.

        The native walk takes every string whose length field is held and whose bytes end within the room
        left. Where it stops, one string is read here: that fetches more of the source (sized by an estimate
        of the array's end) or raises for a length past the room. The window grows geometrically, so the two
        take turns only a few times per array. Work stays linear in the bytes.
        """
        start = self.pos
        done = 0
        while True:
            n, self.pos = gguf_skip_strings(self.w.data, self.pos, count - done, self.w.size - self.reserve)
            done += n
            if done >= count:
                return
            self.hint = self.string_array_estimate(start, done, count)
            length = self.u64()
            if length > self.left():
                raise self.error(f"string {done} of an array: length {length} exceeds {self.room()}", self.pos - 8)
            self.take(length)
            done += 1

    def string_array_estimate(self, start: int, done: int, count: int) -> int:
        """Where a string array (and what usually follows it) probably ends, from what was seen so far."""
        per_string = (self.pos - start) / done if done else 16.0
        return int(start + per_string * count * 1.1) + 8 * count + 256 * 1024

    # -- the header -------------------------------------------------------------------------

    def header(self, source: str) -> GGUFHeader:
        self.hint = 0
        if self.w.size < 4:
            raise self.error("not a GGUF file: too short for the magic number")
        magic_at = self.take(4)
        magic = bytes(self.w.data[magic_at : magic_at + 4])
        if magic != MAGIC:
            raise self.error(f"not a GGUF file: it starts with {_shown(magic)}, not GGUF", 0)
        version = self.u32()
        if version & 0xFFFF == 0 and version:
            raise self.error("big-endian GGUF files are not supported", 4)
        if version not in SUPPORTED_VERSIONS:
            detail = "no longer supported" if version == 1 else "not supported"
            raise self.error(f"GGUF version {version} is {detail} (versions 2 and 3 are)", 4)
        n_tensors = self.u64()
        n_kv = self.u64()
        room = self.left()
        if (
            n_tensors > room // _MIN_TENSOR_BYTES
            or n_kv > room // _MIN_KV_BYTES
            or (n_tensors * _MIN_TENSOR_BYTES + n_kv * _MIN_KV_BYTES > room)
        ):
            raise self.error(
                f"{n_tensors} tensors and {n_kv} metadata entries cannot fit in a {self.w.size}-byte file", 8
            )
        if n_kv > MAX_METADATA_ENTRIES or n_tensors > MAX_TENSORS:
            raise self.error(
                f"{n_tensors} tensors and {n_kv} metadata entries: more than a GGUF file holds "
                f"(at most {MAX_TENSORS} tensors and {MAX_METADATA_ENTRIES} entries)",
                8,
            )
        self.hint = self.pos + n_kv * 64 + n_tensors * 160

        metadata: dict[str, Value] = {}
        types: dict[str, tuple[int, ...]] = {}
        for index in range(n_kv):
            self.reserve = (n_kv - index - 1) * _MIN_KV_BYTES + n_tensors * _MIN_TENSOR_BYTES
            self.settle()
            key_at = self.pos
            key = self.string(f"key of metadata entry {index}", MAX_KEY_BYTES)
            if key in metadata:
                raise self.error(f"duplicate metadata key {_short(key)!r}", key_at)
            vtype = self.u32()
            value_at = self.pos
            metadata[key] = self.value(vtype, f"value of {_short(key)!r}")
            types[key] = self.type_path(vtype, value_at)

        alignment = self.alignment(metadata, types)
        part = metadata.get("split.no", 0)
        part = part if isinstance(part, int) and not isinstance(part, bool) else 0

        self.settle()
        self.hint = self.pos + n_tensors * 160
        infos = self.tensor_infos(n_tensors)
        file_size = self.base + self.w.size  # positions from here on are the file's own
        infos_end = data_offset = self.base + self.pos
        if n_tensors:
            data_offset += -data_offset % alignment
            if data_offset > file_size:
                raise GGUFError("file ends before its tensor data begins", offset=infos_end)
        tensors = self.place_tensors(infos, data_offset, alignment, file_size, part)
        return GGUFHeader(
            version=version,
            metadata=MappingProxyType(metadata),
            tensors=tuple(tensors),
            alignment=alignment,
            data_offset=data_offset,
            file_size=file_size,
            path_or_source=source,
            value_types=MappingProxyType(types),
        )

    def type_path(self, vtype: int, at: int) -> tuple[int, ...]:
        """Type tags of a parsed value: (ARRAY, ARRAY, STRING) for an array of string arrays."""
        path = [vtype]
        while vtype == ValueType.ARRAY and len(path) <= MAX_ARRAY_DEPTH:
            vtype = int(_U32.unpack_from(self.w.data, at)[0])
            count = int(_U64.unpack_from(self.w.data, at + 4)[0])
            path.append(vtype)
            if count == 0:
                break
            at += 12  # the first element, whose element type stands for all of them
        return tuple(path)

    def alignment(self, metadata: Mapping[str, Value], types: Mapping[str, tuple[int, ...]]) -> int:
        if "general.alignment" not in metadata:
            return GGUF_DEFAULT_ALIGNMENT
        value = metadata["general.alignment"]
        if types["general.alignment"] != (ValueType.UINT32,):
            raise self.error(f"general.alignment must be a UINT32, not {type_name(types['general.alignment'][0])}")
        assert isinstance(value, int)
        if value == 0 or value & (value - 1):
            raise self.error(f"general.alignment {value} is not a power of two")
        return value

    def tensor_infos(self, n_tensors: int) -> list[_Info]:
        """The tensor infos as stored: (name, shape, ggml type, offset relative to the data, bytes).

        The native walk reads every info it can prove sound; where it stops, one info is read here, which
        fetches more of the source or raises the error that names what is wrong with it.
        """
        table = _type_table()
        seen: set[str] = set()
        infos: list[_Info] = []
        while len(infos) < n_tensors:
            records, self.pos = gguf_tensor_infos(self.w.data, self.pos, n_tensors - len(infos), self.w.size, table)
            for start, name, shape, type_id, offset, n_bytes in records:
                if name in seen:
                    raise self.error(f"duplicate tensor name {name!r}", start)
                seen.add(name)
                infos.append((name, shape, type_id, offset, n_bytes))
            if len(infos) < n_tensors:
                infos.append(self.tensor_info(len(infos), n_tensors, seen))
        self.reserve = 0
        return infos

    def tensor_info(self, index: int, n_tensors: int, seen: set[str]) -> _Info:
        """One tensor info, field by field, with a message for whatever is wrong in it."""
        self.reserve = (n_tensors - index - 1) * _MIN_TENSOR_BYTES
        name_at = self.pos
        name = self.string(f"name of tensor {index}", GGML_MAX_NAME - 1)
        if len(name.encode()) >= GGML_MAX_NAME:
            raise self.error(f"tensor name {name[:80]!r} is longer than {GGML_MAX_NAME - 1} bytes", name_at)
        if name in seen:
            raise self.error(f"duplicate tensor name {name!r}", name_at)
        seen.add(name)
        dims_at = self.pos
        n_dims = self.u32()
        if n_dims > GGML_MAX_DIMS:
            raise self.error(f"tensor {name!r} has {n_dims} dimensions (at most {GGML_MAX_DIMS})", dims_at)
        at = self.take(8 * n_dims)
        shape = struct.unpack_from(f"<{n_dims}Q", self.w.data, at)
        n_elements = 1
        for dim in shape:
            if dim > INT64_MAX:
                raise self.error(f"tensor {name!r} has a negative dimension in shape {shape}", at)
            n_elements *= dim
        if n_elements > INT64_MAX:
            raise self.error(f"tensor {name!r}: shape {shape} has more elements than int64 can count", at)
        type_at = self.pos
        type_id = self.u32()
        gtype = ggml_types().get(type_id)
        if gtype is None:
            raise self.error(f"tensor {name!r} has unknown ggml type {type_id}", type_at)
        row = shape[0] if shape else 1
        if row % gtype.block_size:
            raise self.error(
                f"tensor {name!r}: row length {row} is not a multiple of the {gtype.name} block size "
                f"{gtype.block_size}",
                type_at,
            )
        offset = self.u64()
        return name, tuple(shape), type_id, offset, n_elements // gtype.block_size * gtype.type_size

    @staticmethod
    def place_tensors(
        infos: list[_Info], data_offset: int, alignment: int, file_size: int, part: int
    ) -> list[TensorInfo]:
        """Check the tensors lie one after another (as llama.cpp requires) within the file; make offsets absolute.
        `data_offset` and `file_size` are the file's own positions."""
        expected = 0
        placed: list[TensorInfo] = []
        for name, shape, type_id, offset, n_bytes in infos:
            if offset != expected:
                raise GGUFError(f"tensor {name!r} has data offset {offset}, expected {expected}", offset=data_offset)
            start = data_offset + offset
            if start + n_bytes > file_size:
                raise GGUFError(
                    f"tensor {name!r} ({n_bytes} bytes at {start}) extends past the end of the {file_size}-byte file",
                    offset=start,
                    hint="the file is truncated or damaged; download it again",
                )
            expected += n_bytes + (-n_bytes % alignment)
            placed.append(TensorInfo(name, shape, type_id, start, n_bytes, part))
        return placed


def _min_element_size(etype: int) -> int:
    """Fewest bytes one array element of this type takes (0 for an unknown type)."""
    fixed = FIXED.get(etype)
    if fixed is not None:
        return fixed[1]
    if etype == ValueType.STRING:
        return 8
    if etype == ValueType.ARRAY:
        return 12
    return 0


def decode_array_bytes(raw: bytes, element_type: int, count: int, offset: int) -> tuple[Value, ...]:
    """Decode the elements of an array stored in `raw` (the bytes after its count)."""
    window = BufferWindow(raw)

    def load(start: int, end: int) -> bytes:
        return raw[start - offset : end - offset]

    parser = _Parser(window, load, decode_all=True, base=offset)
    fixed = FIXED.get(element_type)
    if fixed is not None:
        if count * fixed[1] > len(raw):
            raise parser.error(f"array of {count} elements does not fit in {len(raw)} bytes")
        return struct.unpack_from(f"<{count}{fixed[0]}", raw, 0)
    if element_type == ValueType.STRING:
        return tuple(parser.string("array element") for _ in range(count))
    if element_type == ValueType.ARRAY:
        return tuple(parser.array("array element", 1) for _ in range(count))
    raise parser.error(f"unknown array element type {element_type}")


def _shown(raw: bytes) -> str:
    """A few bytes from the file as a person reads them: quoted text when printable, hex otherwise."""
    text = raw.decode("ascii", "replace")
    return f'"{text}"' if text.isprintable() and text.isascii() else f"bytes {raw.hex(' ')}"


def _short(text: str, most: int = 80) -> str:
    """A name from the file for an error message: a damaged one can be megabytes long."""
    return text if len(text) <= most else f"{text[:most]}…"
