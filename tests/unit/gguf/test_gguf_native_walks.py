"""app._native's GGUF walks, on their own: each stops before the first item it cannot prove sound and never reads
past the buffer it is given. Truncated buffers are slices of a longer valid one, so a walk that ignored the end
would read on (and be caught) rather than crash."""

from __future__ import annotations

import struct
from array import array

import pytest

from app._native import gguf_skip_strings, gguf_tensor_infos
from app.gguf.reader import _type_table
from app.gguf.types import ggml_types

U64_MAX = 2**64 - 1
F32, F64, Q4_K = 0, 28, 12


def _strings(*items: bytes) -> bytes:
    return b"".join(struct.pack("<Q", len(item)) + item for item in items)


def _info(name: bytes, shape: tuple[int, ...], type_id: int = F32, offset: int = 0) -> bytes:
    return struct.pack("<Q", len(name)) + name + struct.pack(f"<I{len(shape)}QIQ", len(shape), *shape, type_id, offset)


# -- strings ---------------------------------------------------------------------------------------------------


def test_a_whole_array_is_walked_to_its_end() -> None:
    data = b"pad" + _strings(b"", b"a", b"\x00" * 7, b"x" * 300, "é".encode())
    assert gguf_skip_strings(data, 3, 5, len(data)) == (5, len(data))
    assert gguf_skip_strings(data, 3, 2, len(data)) == (2, 3 + 8 + 9)
    assert gguf_skip_strings(data, 3, 0, len(data)) == (0, 3)


def test_a_length_past_the_limit_stops_before_that_string() -> None:
    data = _strings(b"ab", b"cdef", b"gh")
    second = 10
    assert gguf_skip_strings(data, 0, 3, second + 8 + 3) == (1, second)  # one byte short of the second string
    assert gguf_skip_strings(data, 0, 3, len(data) - 1) == (2, second + 12)


def test_a_limit_before_the_position_walks_nothing() -> None:
    data = _strings(b"", b"")
    assert gguf_skip_strings(data, 8, 2, 4) == (0, 8)


@pytest.mark.parametrize("length", [2**63 - 1, 2**63, U64_MAX, U64_MAX - 7])
def test_huge_lengths_do_not_wrap_around(length: int) -> None:
    data = _strings(b"ok") + struct.pack("<Q", length) + _strings(b"", b"")
    assert gguf_skip_strings(data, 0, 4, len(data)) == (1, 10)


def test_a_length_field_cut_by_the_buffer_end_stops_there() -> None:
    full = _strings(b"abc", b"", b"de")
    cut = memoryview(full)[: 11 + 5]  # the second length field is cut after 5 of its 8 bytes
    assert gguf_skip_strings(cut, 0, 3, len(full)) == (1, 11)


def test_the_last_strings_bytes_may_lie_past_the_buffer_but_not_past_the_limit() -> None:
    full = _strings(b"abc", b"0123456789")
    held = memoryview(full)[:22]  # the second string's length and 3 of its 10 bytes
    assert gguf_skip_strings(held, 0, 2, len(full)) == (2, len(full))
    assert gguf_skip_strings(held, 0, 2, len(full) - 1) == (1, 11)


def test_a_position_past_the_buffer_walks_nothing() -> None:
    full = _strings(b"a") * 4
    assert gguf_skip_strings(memoryview(full)[:5], 9, 2, len(full)) == (0, 9)
    info = _info(b"a", (32,))
    assert gguf_tensor_infos(memoryview(info * 2)[:5], len(info), 1, 2 * len(info), _type_table()) == ([], len(info))


def test_a_huge_count_stops_at_what_is_held() -> None:
    data = _strings(b"", b"x") + b"\x01\x00"
    assert gguf_skip_strings(data, 0, U64_MAX, 10**12) == (2, 17)


def test_a_negative_position_is_refused() -> None:
    with pytest.raises(ValueError, match="negative position"):
        gguf_skip_strings(b"", -1, 1, 0)


# -- tensor infos ----------------------------------------------------------------------------------------------


def _walk(data: bytes | memoryview, count: int, size: int | None = None, pos: int = 0) -> tuple[list[object], int]:
    records, end = gguf_tensor_infos(data, pos, count, len(data) if size is None else size, _type_table())
    return list(records), end


def test_sound_infos_are_read_with_sizes_from_the_type_table() -> None:
    block, type_size = ggml_types()[Q4_K].block_size, ggml_types()[Q4_K].type_size
    first = _info(b"token_embd.weight", (2560, 262144), Q4_K)
    second = _info(b"output_norm.weight", (640,), F32, offset=4096)
    scalar = _info(b"s", (), F32, offset=8192)
    data = b"xx" + first + second + scalar
    records, end = _walk(data, 3, pos=2)
    assert end == len(data)
    assert records == [
        (2, "token_embd.weight", (2560, 262144), Q4_K, 0, 2560 * 262144 // block * type_size),
        (2 + len(first), "output_norm.weight", (640,), F32, 4096, 640 * 4),
        (2 + len(first) + len(second), "s", (), F32, 8192, 4),
    ]


@pytest.mark.parametrize(
    "bad",
    [
        _info(b"n" * 64, (32,)),  # a name of 64 bytes: ggml allows 63
        _info(b"t", (1, 1, 1, 1, 1)),  # five dimensions
        _info(b"t", (2**63, 1)),  # a dimension over INT64_MAX
        _info(b"t", (0, 2**63)),  # the same, hidden by a zero dimension
        _info(b"t", (2**32, 2**31), type_id=Q4_K),  # 2**63 elements: over INT64_MAX (in 2**55 * 144 bytes)
        _info(b"t", (2**40, 2**40)),  # the product wraps 64 bits
        _info(b"t", (32,), type_id=4),  # a removed type: no entry in the table
        _info(b"t", (32,), type_id=10_000),  # an id past the table
        _info(b"t", (100,), type_id=Q4_K),  # a row of 100 is not whole 256-element blocks
        _info(b"t", (2**62,), type_id=F64),  # 2**65 bytes
        _info(b"\xff\xfe", (32,)),  # not UTF-8: left to the Python parser, which decodes with replacement
    ],
)
def test_an_info_that_breaks_a_rule_stops_the_walk_before_it(bad: bytes) -> None:
    good = _info(b"a", (32,))
    data = good + bad + _info(b"b", (32,))
    records, end = _walk(data, 3)
    assert [r[1] for r in records] == ["a"] and end == len(good)  # type: ignore[index]


def test_a_type_past_the_table_stops_the_walk() -> None:
    """The table given is the first two types of a longer one: type 5 lies past it and must not be looked up."""
    longer = array("Q", [1, 4] * 8)
    data = _info(b"a", (32,), type_id=1) + _info(b"b", (32,), type_id=5)
    records, end = gguf_tensor_infos(data, 0, 2, len(data), memoryview(longer)[: 2 * 2])
    assert [r[1] for r in records] == ["a"] and end == len(_info(b"a", (32,)))


def test_a_name_length_beyond_the_buffer_stops_the_walk() -> None:
    data = _info(b"a", (32,)) + struct.pack("<Q", U64_MAX) + bytes(64)
    records, end = _walk(data, 2)
    assert len(records) == 1 and end == len(_info(b"a", (32,)))


@pytest.mark.parametrize("cut", [1, 7, 8, 9, 12, 20, 24, 35])
def test_an_info_cut_by_the_buffer_end_stops_the_walk(cut: int) -> None:
    first = _info(b"a", (32,))
    full = first + _info(b"b", (32, 4)) + bytes(64)
    records, end = _walk(memoryview(full)[: len(first) + cut], 2, size=len(full))
    assert len(records) == 1 and end == len(first)


def test_the_room_every_later_info_needs_is_kept() -> None:
    """Two more infos are announced: each needs at least 24 bytes after this one, or the walk stops."""
    data = _info(b"a", (32,)) + b"\xff" * 47  # no valid info follows: the walk would stop there anyway
    assert _walk(data, 3)[0] == []
    assert len(_walk(data + b"\xff", 3)[0]) == 1


def test_a_huge_count_reads_what_is_there_and_stops() -> None:
    data = _info(b"a", (32,)) + _info(b"b", (32,))
    records, end = _walk(data, 2**40, size=2**62)
    assert len(records) == 2 and end == len(data)
    assert _walk(data, U64_MAX, size=2**62) == ([], 0)  # the room the others need does not fit in 64 bits
    assert _walk(data, 2**61 + 1, size=2**62) == ([], 0)  # nor here, though 2**61 * 24 wraps to exactly 0


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="uint64 pairs"):
        gguf_tensor_infos(b"", 0, 1, 0, b"\x00" * 15)
    with pytest.raises(ValueError, match="negative position"):
        gguf_tensor_infos(b"", -5, 1, 0, array("Q"))
