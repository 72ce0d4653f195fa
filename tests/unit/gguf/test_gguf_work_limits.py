"""Hostile headers that used to stall the library (finding 6): each answered without a walk proportional to
a count or a length the file cannot justify. Behaviour is asserted (error class, bytes read, per-item steps),
not time; benchmarks/gguf_read.py keeps the real header read in check."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from app.core.errors import GGUFError
from app.gguf import reader
from app.gguf.reader import MAX_METADATA_ENTRIES, read_header, read_header_ranged
from app.gguf.values import ArrayRef

STRING, ARRAY, BOOL = 8, 9, 7


def _s(raw: bytes) -> bytes:
    return struct.pack("<Q", len(raw)) + raw


def _header(n_tensors: int, entries: list[bytes]) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", 3, n_tensors, len(entries)) + b"".join(entries)


def _string_array(key: bytes, items: list[bytes]) -> bytes:
    return _s(key) + struct.pack("<I", ARRAY) + struct.pack("<IQ", STRING, len(items)) + b"".join(map(_s, items))


class _Steps:
    """Counts the parser's one-value-at-a-time reads (u64 length fields, strings)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.u64 = self.strings = self.walks = 0
        u64, string, walk = reader._Parser.u64, reader._Parser.string, reader.gguf_skip_strings

        def counted_walk(data: object, pos: int, count: int, limit: int) -> tuple[int, int]:
            self.walks += 1  # one native walk per stretch of held bytes: a few per array is the budget
            return walk(data, pos, count, limit)

        def counted_u64(parser: reader._Parser) -> int:
            self.u64 += 1
            return u64(parser)

        def counted_string(parser: reader._Parser, what: str, limit: int | None = None) -> str:
            self.strings += 1
            return string(parser, what, limit)

        monkeypatch.setattr(reader._Parser, "u64", counted_u64)
        monkeypatch.setattr(reader._Parser, "string", counted_string)
        monkeypatch.setattr(reader, "gguf_skip_strings", counted_walk)


def test_five_million_empty_strings_are_skipped_without_a_step_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "empty-strings.gguf"
    path.write_bytes(_header(0, [_string_array(b"tokenizer.ggml.tokens", [b""] * 5_000_000)]))
    steps = _Steps(monkeypatch)
    header = read_header(path)
    tokens = header.metadata["tokenizer.ggml.tokens"]
    assert isinstance(tokens, ArrayRef) and tokens.count == 5_000_000
    assert steps.u64 < 10
    assert steps.walks < 10, "the 40 MiB of strings were not walked in bulk"


@pytest.mark.parametrize("items", [[b"\x00" * 3] * 300_000, [b"", b"ab"] * 150_000, [b"tok"] * 300_000])
def test_string_arrays_with_zero_bytes_or_one_length_are_skipped_in_bulk(
    items: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _header(0, [_string_array(b"a.strings", items)])
    steps = _Steps(monkeypatch)
    header = reader.read_header_bytes(data)
    array = header.metadata["a.strings"]
    assert isinstance(array, ArrayRef) and array.count == len(items)
    assert steps.u64 < 10 and steps.walks < 10
    assert array.decode()[:2] == tuple(i.decode() for i in items[:2])  # decoding on request: one by one


def test_a_million_metadata_entries_are_refused_before_reading_any(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = _s(b"k") + struct.pack("<IB", BOOL, 1)
    data = _header(0, [entry] * 1_000_000)
    steps = _Steps(monkeypatch)
    with pytest.raises(GGUFError, match="metadata entries"):
        reader.read_header_bytes(data)
    assert steps.strings == 0
    assert MAX_METADATA_ENTRIES < 1_000_000


def _ranged(data: bytes) -> tuple[list[int], object]:
    fetched: list[int] = []

    def fetch(start: int, end: int) -> bytes:
        fetched.append(end - start)
        return data[start:end]

    return fetched, fetch


def _flipped_gemma(gemma: Path, edits: list[tuple[int, int]]) -> bytes:
    data = bytearray(gemma.read_bytes())
    for offset, value in edits:
        data[offset] = value
    return bytes(data)


def _key_after_tokens(gemma: Path) -> int:
    tokens = read_header(gemma).metadata["tokenizer.ggml.tokens"]
    assert isinstance(tokens, ArrayRef)
    return tokens.offset + tokens.n_bytes  # where the next key's length field starts


def test_two_flipped_bytes_in_gemma_do_not_walk_into_tensor_data(gemma_model: Path) -> None:
    at = _key_after_tokens(gemma_model)
    # The key length becomes about 84 MB (it was 21): the parser used to read and decode that much.
    data = _flipped_gemma(gemma_model, [(at + 3, 0x05), (at + 1, 0x01)])
    fetched, fetch = _ranged(data)
    with pytest.raises(GGUFError, match="longer than 65535 bytes") as caught:
        read_header_ranged(fetch, len(data))  # type: ignore[arg-type]
    assert sum(fetched) < 16 * 2**20, "walked into the tensor data"
    assert len(str(caught.value)) < 300


def test_a_huge_string_value_of_binary_data_is_refused_with_a_short_message(gemma_model: Path) -> None:
    raw = gemma_model.read_bytes()
    length_at = raw.index(b"general.architecture") + len(b"general.architecture") + 4
    data = _flipped_gemma(gemma_model, [(length_at + 3, 0x05)])  # the value's length: about 84 MB
    with pytest.raises(GGUFError, match="not UTF-8 text") as caught:
        reader.read_header_bytes(data)
    assert len(str(caught.value)) < 300


def test_a_long_string_of_binary_data_is_refused_before_it_is_read(gemma_model: Path) -> None:
    raw = gemma_model.read_bytes()
    length_at = raw.index(b"general.architecture") + len(b"general.architecture") + 4
    data = _flipped_gemma(gemma_model, [(length_at + 3, 0x05)])  # about 84 MB, most of it tensor data
    fetched, fetch = _ranged(data)
    with pytest.raises(GGUFError, match="not UTF-8 text"):
        read_header_ranged(fetch, len(data))  # type: ignore[arg-type]
    assert sum(fetched) < 16 * 2**20, "read the whole string before looking at it"


def test_the_real_header_still_reads(gemma_model: Path) -> None:
    header = read_header(gemma_model)
    assert header.architecture == "gemma3" and len(header.tensors) == 236


def _count_field(gemma: Path, key: str) -> tuple[int, int]:
    """Where the element count of an array value sits, and the bytes from its first element to the file's end."""
    array = read_header(gemma).metadata[key]
    assert isinstance(array, ArrayRef)
    return array.offset - 8, gemma.stat().st_size - array.offset


@pytest.mark.parametrize("slack", [1000, 4])
def test_a_count_that_swallows_the_tensor_infos_is_refused_where_it_is_read(gemma_model: Path, slack: int) -> None:
    """One damaged count makes the scores array end just before the file does: the metadata would end after
    the tensor data, where no tensor infos fit. Refused at the count, not after reading the whole file."""
    at, room = _count_field(gemma_model, "tokenizer.ggml.scores")
    data = bytearray(gemma_model.read_bytes())
    data[at : at + 8] = struct.pack("<Q", (room - slack) // 4)
    fetched, fetch = _ranged(bytes(data))
    with pytest.raises(GGUFError, match="before the entries that follow") as caught:
        read_header_ranged(fetch, len(data))  # type: ignore[arg-type]
    assert sum(fetched) < 16 * 2**20, "walked into the tensor data"
    assert caught.value.offset == at  # the count itself


def test_a_count_that_leaves_just_enough_room_costs_no_walk_either(gemma_model: Path) -> None:
    """The same damage, with the count chosen so the least the remaining entries need still fits: the skipped
    stretch (the whole tensor data) is jumped over, not read; the garbage after it is refused."""
    at, room = _count_field(gemma_model, "tokenizer.ggml.scores")
    header = read_header(gemma_model)
    keys = list(header.metadata)
    after = len(keys) - keys.index("tokenizer.ggml.scores") - 1
    need = after * reader._MIN_KV_BYTES + len(header.tensors) * reader._MIN_TENSOR_BYTES
    data = bytearray(gemma_model.read_bytes())
    data[at : at + 8] = struct.pack("<Q", (room - need) // 4)
    fetched, fetch = _ranged(bytes(data))
    with pytest.raises(GGUFError):
        read_header_ranged(fetch, len(data))  # type: ignore[arg-type]
    assert sum(fetched) < 16 * 2**20, "walked into the tensor data"


def test_a_valid_file_with_a_long_skipped_array_reads_the_same_from_every_source(tmp_path: Path) -> None:
    """A jump over a skipped array (past reader.JUMP_MIN) keeps every later offset right: values, lazy arrays,
    tensor offsets and the data offset are where the writer put them, and the skipped stretch is not fetched."""
    from tests.unit.gguf.ggufbytes import Gguf, Tensor

    UINT32, INT32 = 4, 5
    big = 3 * reader.JUMP_MIN // 4
    g = Gguf().add("general.architecture", STRING, "llama")
    g.kv.append(("big", ARRAY, struct.pack("<IQ", UINT32, big) + np.arange(big, dtype="<u4").tobytes()))
    g.add("after", STRING, "still here").add("after.ints", ARRAY, (INT32, list(range(-150, 150))))
    g.tensors = [Tensor("a", (64, 2), 0), Tensor("b", (32,), 0)]
    raw = g.build()
    path = tmp_path / "jump.gguf"
    path.write_bytes(raw)
    fetched, fetch = _ranged(raw)
    headers = [read_header(path), reader.read_header_bytes(raw), read_header_ranged(fetch, len(raw))]  # type: ignore[arg-type]
    assert sum(fetched) < len(raw) // 2
    head = len(g.header())
    data_offset = head + (-head % g.alignment)
    expected_offsets = [data_offset, data_offset + 64 * 2 * 4]  # two F32 tensors, the first 512 bytes
    for header in headers:
        assert header.metadata["after"] == "still here"
        ints = header.metadata["after.ints"]
        assert isinstance(ints, ArrayRef) and ints.decode() == tuple(range(-150, 150))
        assert header.value_types["after.ints"] == (ARRAY, INT32)
        big_array = header.metadata["big"]
        assert isinstance(big_array, ArrayRef) and big_array.decode()[-3:] == (big - 3, big - 2, big - 1)
        assert [t.offset for t in header.tensors] == expected_offsets
        assert header.data_offset == data_offset and header.file_size == len(raw)
