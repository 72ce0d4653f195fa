"""Mutated real headers: the reader either parses them or raises GGUFError, and every case is quick.

Mutations aim at the structure (counts, lengths, type tags, dimensions, offsets) as well as random bytes.
"""

from __future__ import annotations

import contextlib
import struct
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.errors import GGUFError
from app.gguf import ArrayRef, read_header, read_header_bytes, read_header_ranged
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf

GEMMA_PREFIX = 7 * 1024 * 1024  # the whole Gemma 3 270M header (about 6.5 MB) and a little data
EXTREME_U64 = [0, 1, 7, 255, 256, 2**31, 2**32 - 1, 2**32, 2**40, 2**62, 2**63 - 1, 2**63, 2**64 - 1]
EXTREME_U32 = [0, 1, 3, 4, 8, 9, 12, 13, 31, 42, 43, 255, 2**31, 2**32 - 1]

FUZZ = settings(
    deadline=1000,
    max_examples=150,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


class Seed:
    def __init__(self, data: bytes, file_size: int, hot: list[int]) -> None:
        self.data = data
        self.file_size = file_size
        self.hot = hot  # offsets of structural fields worth hitting


def _structure_offsets(data: bytes, file_size: int) -> list[int]:
    """Offsets of counts, type tags, lengths, dims and tensor offsets (approximate: every 4-byte step
    through the metadata before the first big array, and through the tensor infos)."""
    header = read_header_bytes(data, file_size=file_size)
    first_lazy = min((v.offset for v in header.metadata.values() if isinstance(v, ArrayRef)), default=None)
    kv_end = first_lazy if first_lazy is not None else header.data_offset
    first_name = header.tensors[0].name.encode() if header.tensors else b""
    infos_at = data.rfind(struct.pack("<Q", len(first_name)) + first_name, 0, header.data_offset)
    hot = list(range(4, min(kv_end, 4096), 1))
    if infos_at > 0:
        hot += list(range(infos_at, header.data_offset))
    return hot


@cache
def _tiny_seed(directory: str) -> Seed:
    path = write_tiny_gguf(
        Path(directory) / "fuzz-seed.gguf",
        TinySpec(n_vocab=600, tensor_type="Q8_0", n_head_kv=[2, 1], chat_template="{{x}}"),
    )
    data = path.read_bytes()
    return Seed(data, len(data), _structure_offsets(data, len(data)))


@cache
def _gemma_seed(path: str) -> Seed:
    size = Path(path).stat().st_size
    with open(path, "rb") as f:
        data = f.read(GEMMA_PREFIX)
    return Seed(data, size, _structure_offsets(data, size))


mutation = st.one_of(
    st.tuples(st.just("u64"), st.integers(0, 10**9), st.sampled_from(EXTREME_U64)),
    st.tuples(st.just("u32"), st.integers(0, 10**9), st.sampled_from(EXTREME_U32)),
    st.tuples(st.just("bytes"), st.integers(0, 10**9), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("truncate"), st.integers(0, 10**9), st.none()),
)


def _mutate(seed: Seed, ops: list[tuple[str, int, object]], anywhere: bool) -> bytes:
    data = bytearray(seed.data)
    for kind, where, value in ops:
        pos = where % len(data) if anywhere else seed.hot[where % len(seed.hot)]
        if kind == "u64":
            data[pos : pos + 8] = struct.pack("<Q", value)
        elif kind == "u32":
            data[pos : pos + 4] = struct.pack("<I", value)
        elif kind == "bytes":
            assert isinstance(value, bytes)
            data[pos : pos + len(value)] = value
        else:
            del data[pos:]
        if not data:
            break
    return bytes(data)


def _check(data: bytes, file_size: int | None, decode: bool) -> None:
    try:
        header = read_header_bytes(data, file_size=None if file_size is None else max(file_size, len(data)))
    except GGUFError:
        return
    if decode:
        for value in header.metadata.values():
            if isinstance(value, ArrayRef):
                with contextlib.suppress(GGUFError):
                    value.decode()


@FUZZ
@given(ops=st.lists(mutation, min_size=1, max_size=4), anywhere=st.booleans())
def test_mutated_generated_model(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, int, object]], anywhere: bool
) -> None:
    seed = _tiny_seed(str(tmp_path_factory.getbasetemp()))
    data = _mutate(seed, ops, anywhere)
    _check(data, None, decode=True)
    with contextlib.suppress(GGUFError):
        read_header_ranged(lambda s, e: data[s:e], len(data))


@pytest.mark.slow
@FUZZ
@given(ops=st.lists(mutation, min_size=1, max_size=3), anywhere=st.booleans())
def test_mutated_gemma_header(gemma_model: Path, ops: list[tuple[str, int, object]], anywhere: bool) -> None:
    seed = _gemma_seed(str(gemma_model))
    _check(_mutate(seed, ops, anywhere), seed.file_size, decode=False)


def test_the_seeds_themselves_parse(tmp_path_factory: pytest.TempPathFactory, gemma_model: Path) -> None:
    tiny = _tiny_seed(str(tmp_path_factory.getbasetemp()))
    assert read_header_bytes(tiny.data).tensors
    gemma = _gemma_seed(str(gemma_model))
    assert read_header_bytes(gemma.data, file_size=gemma.file_size).tensors == read_header(gemma_model).tensors
    assert len(gemma.hot) > 1000
