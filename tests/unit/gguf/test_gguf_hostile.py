"""Malformed and hostile headers: each raises GGUFError naming the problem and the byte offset."""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import pytest

from app.core.errors import GGUFError
from app.gguf import ArrayRef, read_header_bytes, read_header_ranged
from app.gguf.reader import MAX_ARRAY_DEPTH
from app.gguf.values import ValueType as T
from tests.unit.gguf.ggufbytes import Gguf, Tensor, gstr, u32, u64

HUGE = 2**63 + 12345


def _fails(data: bytes, pattern: str) -> GGUFError:
    with pytest.raises(GGUFError, match=pattern) as info:
        read_header_bytes(data)
    assert info.value.offset is not None
    assert f"at byte {info.value.offset}" in str(info.value)
    return info.value


def _valid() -> Gguf:
    g = Gguf().add("general.architecture", T.STRING, "llama").add("x", T.ARRAY, (T.INT32, [1, 2, 3]))
    g.tensors = [Tensor("a", (32, 2), 8), Tensor("b", (8,), 0)]  # b ends exactly at an alignment boundary
    return g


def test_wrong_magic() -> None:
    assert _fails(b"GGML" + bytes(40), "not a GGUF file").offset == 0


@pytest.mark.parametrize(
    ("version", "pattern"),
    [(0, "version 0"), (1, "no longer supported"), (4, "version 4"), (0x03000000, "big-endian")],
)
def test_bad_versions(version: int, pattern: str) -> None:
    _fails(Gguf(version=version).build(), pattern)


def test_counts_larger_than_the_file_could_hold() -> None:
    _fails(Gguf(n_kv=HUGE).build(), "cannot fit")
    _fails(Gguf(n_tensors=2**40).build(), "cannot fit")
    _fails(Gguf(n_kv=10, n_tensors=10).build() + bytes(200), "cannot fit")


def test_huge_string_lengths() -> None:
    key = b"GGUF" + u32(3) + u64(0) + u64(1) + u64(HUGE) + bytes(64)
    _fails(key, "string length")
    value = Gguf().build()[:16] + u64(1) + gstr("k") + u32(T.STRING) + u64(2**40) + bytes(64)
    _fails(value, "string length")
    name = b"GGUF" + u32(3) + u64(1) + u64(0) + u64(10**15) + bytes(64)
    _fails(name, "name of tensor 0: string length")


@pytest.mark.parametrize("etype", [T.UINT8, T.FLOAT64, T.STRING, T.ARRAY])
def test_huge_array_counts(etype: T) -> None:
    data = b"GGUF" + u32(3) + u64(0) + u64(1) + gstr("k") + u32(T.ARRAY) + u32(etype) + u64(HUGE) + bytes(64)
    _fails(data, "cannot fit")


def test_unknown_value_and_element_types() -> None:
    base = b"GGUF" + u32(3) + u64(0) + u64(1) + gstr("k")
    _fails(base + u32(13) + bytes(16), "unknown value type 13")
    _fails(base + u32(T.ARRAY) + u32(99) + u64(1) + bytes(16), "unknown array element type 99")


def test_arrays_nested_too_deep() -> None:
    inner: tuple[int, list[object]] = (T.UINT8, [1])
    for _ in range(MAX_ARRAY_DEPTH + 1):
        inner = (T.ARRAY, [inner])
    _fails(Gguf().add("deep", T.ARRAY, inner).build(), "nested deeper")


def test_too_many_dimensions() -> None:
    g = _valid()
    g.tensors[0] = Tensor("a", (32, 1, 1, 1, 1), 0)
    _fails(g.build(), "5 dimensions")


def test_negative_dimension() -> None:
    data = _valid().header()
    bad = data.replace(u64(32) + u64(2), u64(2**63) + u64(2), 1)
    assert bad != data
    _fails(bad + bytes(1024), "negative dimension")


def test_overflowing_shape_product() -> None:
    data = _valid().header()
    bad = data.replace(u64(32) + u64(2), u64(2**62) + u64(8), 1)
    _fails(bad + bytes(1024), "more elements than int64")


@pytest.mark.parametrize("type_id", [4, 5, 31, 36, 43, 2**31])
def test_unknown_or_removed_ggml_types(type_id: int) -> None:
    g = _valid()
    g.tensors = [Tensor("a", (32, 2), 0)]
    data = g.build().replace(u64(2) + u32(0), u64(2) + u32(type_id), 1)
    _fails(data, f"unknown ggml type {type_id}")


def test_row_not_whole_blocks() -> None:
    data = _valid().build().replace(u64(32) + u64(2) + u32(8), u64(33) + u64(2) + u32(8), 1)
    _fails(data, "not a multiple of the Q8_0 block size 32")


def test_tensor_offsets_out_of_order_or_beyond_the_file() -> None:
    g = _valid()
    g.tensors[1].offset = 4096
    _fails(g.build(), "data offset 4096, expected")
    g = _valid()
    g.tensors[0].offset = 2**64 - 1
    _fails(g.build(), "expected 0")
    g = _valid()
    full = g.build()
    _fails(full[:-8], "extends past the end")


def test_duplicates() -> None:
    _fails(Gguf().add("k", T.UINT8, 1).add("k", T.UINT8, 2).build(), "duplicate metadata key 'k'")
    g = _valid()
    g.tensors = [Tensor("a", (4,)), Tensor("a", (4,))]
    _fails(g.build(), "duplicate tensor name 'a'")


def test_tensor_name_too_long() -> None:
    g = _valid()
    g.tensors = [Tensor("n" * 64, (4,))]
    _fails(g.build(), "longer than 63 bytes")


@pytest.mark.parametrize(
    ("vtype", "value", "pattern"),
    [(T.UINT32, 48, "not a power of two"), (T.UINT32, 0, "not a power of two"), (T.UINT64, 32, "must be a UINT32")],
)
def test_bad_alignment(vtype: T, value: int, pattern: str) -> None:
    _fails(Gguf().add("general.alignment", vtype, value).build(), pattern)


def test_every_truncation_of_a_valid_file_is_a_gguf_error() -> None:
    g = _valid()
    data = g.build()
    read_header_bytes(data)
    for end in range(len(data)):
        with pytest.raises(GGUFError):
            read_header_bytes(data[:end])


def test_ranged_fetch_that_returns_too_little() -> None:
    data = _valid().build()
    with pytest.raises(GGUFError, match="returned 10 bytes"):
        read_header_ranged(lambda s, e: data[s : s + 10], len(data))


def test_ranged_size_larger_than_the_data() -> None:
    data = _valid().build()
    header = read_header_ranged(lambda s, e: (data + bytes(10))[s:e], len(data) + 10)
    assert header.file_size == len(data) + 10


def test_lazy_array_whose_bytes_are_gone() -> None:
    tokens = [f"t{i}" for i in range(600)]
    header = read_header_bytes(Gguf().add("t", T.ARRAY, (T.STRING, tokens)).build())
    ref = header.metadata["t"]
    assert isinstance(ref, ArrayRef)
    broken = dataclasses.replace(ref, _load=lambda s, e: b"")
    with pytest.raises(GGUFError, match="could read only 0"):
        broken.decode()


def test_bool_values_other_than_0_and_1_read_as_true() -> None:
    tag = gstr("b") + u32(T.BOOL)
    data = Gguf().add("b", T.BOOL, True).build().replace(tag + b"\x01", tag + b"\x07")
    assert read_header_bytes(data).metadata["b"] is True


def test_float_nan_survives() -> None:
    data = Gguf().add("f", T.FLOAT32, 1.25).build()
    data = data.replace(struct.pack("<f", 1.25), struct.pack("<f", float("nan")), 1)
    value = read_header_bytes(data).metadata["f"]
    assert value != value


def test_file_that_shrinks_while_read(tmp_path: Path) -> None:
    from app.gguf.reader import _file_loader, _parse
    from app.gguf.window import FileWindow

    path = tmp_path / "m.gguf"
    path.write_bytes(_valid().build())
    with open(path, "rb") as f, pytest.raises(GGUFError, match="changed while it was read"):
        _parse(FileWindow(f, path.stat().st_size + 4096), _file_loader(path), str(path))


def test_directory_instead_of_a_file(tmp_path: Path) -> None:
    from app.gguf import read_header

    with pytest.raises(GGUFError, match="cannot read"):
        read_header(tmp_path)
