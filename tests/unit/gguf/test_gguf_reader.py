from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.errors import GGUFError
from app.gguf import ArrayRef, as_sequence, read_header, read_header_bytes, read_header_ranged
from app.gguf.reader import LAZY_ARRAY_MIN
from app.gguf.values import ValueType as T
from tests.unit.gguf.ggufbytes import Gguf, Tensor

SCALARS = [
    (T.UINT8, 255),
    (T.INT8, -128),
    (T.UINT16, 65535),
    (T.INT16, -32768),
    (T.UINT32, 4_000_000_000),
    (T.INT32, -2_000_000_000),
    (T.FLOAT32, 1.5),
    (T.BOOL, True),
    (T.UINT64, 2**64 - 1),
    (T.INT64, -(2**63)),
    (T.FLOAT64, math.pi),
    (T.STRING, "héllo ✓"),
]


@pytest.mark.parametrize(("vtype", "value"), SCALARS, ids=[t.name for t, _ in SCALARS])
def test_every_scalar_type(vtype: T, value: object) -> None:
    h = read_header_bytes(Gguf().add("k", vtype, value).build())
    assert h.metadata["k"] == value
    assert type(h.metadata["k"]) is type(value)
    assert h.value_types["k"] == (vtype,)


@pytest.mark.parametrize(("vtype", "value"), SCALARS, ids=[t.name for t, _ in SCALARS])
def test_small_arrays_of_every_type_decode_to_tuples(vtype: T, value: object) -> None:
    values = [value, value, value]
    h = read_header_bytes(Gguf().add("a", T.ARRAY, (vtype, values)).build())
    assert h.metadata["a"] == tuple(values)
    assert h.value_types["a"] == (T.ARRAY, vtype)


def test_nested_arrays() -> None:
    nested = [(T.INT32, [1, 2]), (T.INT32, []), (T.INT32, [3])]
    strings = [(T.STRING, ["a", "bc"]), (T.STRING, ["d"])]
    deep = [(T.ARRAY, [(T.UINT8, [7, 8])])]
    g = Gguf().add("n", T.ARRAY, (T.ARRAY, nested)).add("s", T.ARRAY, (T.ARRAY, strings))
    g.add("d", T.ARRAY, (T.ARRAY, deep)).add("e", T.ARRAY, (T.ARRAY, []))
    h = read_header_bytes(g.build())
    assert h.metadata["n"] == ((1, 2), (), (3,))
    assert h.metadata["s"] == (("a", "bc"), ("d",))
    assert h.metadata["d"] == (((7, 8),),)
    assert h.metadata["e"] == ()
    assert h.value_types["n"] == (T.ARRAY, T.ARRAY, T.INT32)
    assert h.value_types["d"] == (T.ARRAY, T.ARRAY, T.ARRAY, T.UINT8)


@pytest.mark.parametrize("version", [2, 3])
def test_versions_2_and_3(version: int) -> None:
    g = Gguf(version=version).add("general.architecture", T.STRING, "llama")
    g.tensors = [Tensor("w", (32, 2))]
    h = read_header_bytes(g.build())
    assert h.version == version
    assert h.tensors[0].name == "w"


def test_tensor_infos_offsets_and_sizes() -> None:
    g = Gguf().add("general.alignment", T.UINT32, 64)
    g.alignment = 64
    g.tensors = [Tensor("a", (32, 3), 8), Tensor("b", (5,), 0), Tensor("c", (256, 2, 2), 12)]  # Q8_0, F32, Q4_K
    data = g.build()
    h = read_header_bytes(data)
    a, b, c = h.tensors
    assert h.alignment == 64
    assert h.data_offset % 64 == 0
    assert (a.shape, a.type_name, a.n_bytes, a.offset) == ((32, 3), "Q8_0", 3 * 34, h.data_offset)
    assert (b.n_bytes, b.offset) == (20, h.data_offset + 128)
    assert (c.type_name, c.n_bytes, c.offset) == ("Q4_K", 4 * 144, h.data_offset + 192)
    assert c.n_elements == 1024
    assert h.file_size == len(data)


def test_large_arrays_stay_lazy_and_decode_on_demand() -> None:
    n = LAZY_ARRAY_MIN + 10
    tokens = [f"tok{i}" for i in range(n)]
    scores = [float(i) / 2 for i in range(n)]
    g = Gguf().add("tokens", T.ARRAY, (T.STRING, tokens)).add("scores", T.ARRAY, (T.FLOAT32, scores))
    g.add("flags", T.ARRAY, (T.BOOL, [i % 2 == 0 for i in range(n)])).add("after", T.UINT32, 7)
    h = read_header_bytes(g.build())
    ref = h.metadata["tokens"]
    assert isinstance(ref, ArrayRef)
    assert (ref.count, ref.element_type) == (n, T.STRING)
    assert ref.decode() == tuple(tokens)
    sref = h.metadata["scores"]
    assert isinstance(sref, ArrayRef)
    assert sref.n_bytes == 4 * n
    assert sref.to_numpy().tolist() == scores
    flags = h.metadata["flags"]
    assert isinstance(flags, ArrayRef)
    assert flags.to_numpy().dtype == np.bool_
    assert as_sequence(flags)[:3] == (True, False, True)
    assert h.metadata["after"] == 7


def test_long_strings_inside_a_lazy_string_array() -> None:
    """Strings of 256+ bytes leave the fast scan's pattern; the scan must still be exact."""
    tokens = ["x" * (i % 700) for i in range(3000)]
    g = Gguf().add("t", T.ARRAY, (T.STRING, tokens)).add("end", T.STRING, "ok")
    h = read_header_bytes(g.build())
    assert h.metadata["end"] == "ok"
    ref = h.metadata["t"]
    assert isinstance(ref, ArrayRef)
    assert ref.decode() == tuple(tokens)


def test_lazy_arrays_from_a_file_reread_the_file(tmp_path: Path) -> None:
    tokens = [f"t{i}" for i in range(1000)]
    path = tmp_path / "m.gguf"
    path.write_bytes(Gguf().add("t", T.ARRAY, (T.STRING, tokens)).build())
    h = read_header(path)
    ref = h.metadata["t"]
    assert isinstance(ref, ArrayRef)
    assert ref.decode() == tuple(tokens)
    assert h.path_or_source == str(path)


def test_the_three_sources_agree(tmp_path: Path) -> None:
    g = Gguf().add("general.architecture", T.STRING, "llama").add("t", T.ARRAY, (T.STRING, ["a"] * 600))
    g.tensors = [Tensor("w", (64, 4), 1)]
    data = g.build()
    path = tmp_path / "m.gguf"
    path.write_bytes(data)
    a = read_header(path)
    b = read_header_bytes(data)
    c = read_header_ranged(lambda s, e: data[s:e], len(data))
    for other in (b, c):
        assert dict(other.metadata) == dict(a.metadata)
        assert other.tensors == a.tensors
        assert (other.data_offset, other.file_size, other.alignment) == (a.data_offset, a.file_size, a.alignment)


def test_header_prefix_with_declared_file_size() -> None:
    g = Gguf().add("general.architecture", T.STRING, "llama")
    g.tensors = [Tensor("w", (64, 64), 0)]
    data = g.build()
    head = data[: len(g.header()) + 32]
    h = read_header_bytes(head, file_size=len(data))
    assert h.tensors[0].n_bytes == 64 * 64 * 4
    with pytest.raises(GGUFError, match="extends past the end"):
        read_header_bytes(head)


def test_zero_tensors_and_empty_metadata() -> None:
    h = read_header_bytes(Gguf().build())
    assert h.tensors == ()
    assert dict(h.metadata) == {}
    assert h.data_offset == 24


def test_split_no_marks_the_part_of_each_tensor() -> None:
    g = Gguf().add("split.no", T.UINT16, 2).add("split.count", T.UINT16, 3)
    g.tensors = [Tensor("w", (4,), 0)]
    assert read_header_bytes(g.build()).tensors[0].part == 2


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    g = Gguf().add("k", T.STRING, b"ab\xffcd")
    assert read_header_bytes(g.build()).metadata["k"] == "ab\ufffdcd"


def test_missing_file_is_a_gguf_error(tmp_path: Path) -> None:
    with pytest.raises(GGUFError, match="cannot read"):
        read_header(tmp_path / "absent.gguf")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "e.gguf").write_bytes(b"")
    with pytest.raises(GGUFError, match="too short"):
        read_header(tmp_path / "e.gguf")


_token = st.one_of(
    st.binary(max_size=12),
    st.binary(min_size=250, max_size=300),
    st.sampled_from(
        [b"", b"\x00", b"\x00" * 7, b"\x00" * 8, b"a\x00\x00\x00\x00\x00\x00\x00\x00b", b"\x07" + b"\x00" * 7]
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(motifs=st.lists(_token, min_size=1, max_size=40), n=st.integers(LAZY_ARRAY_MIN, 3000))
def test_string_array_scan_is_exact_for_any_content(motifs: list[bytes], n: int) -> None:
    """Zero bytes inside strings, empty strings and 256+ byte strings all defeat the fast scanners'
    assumptions; the result must still be exact."""
    tokens = (motifs * (n // len(motifs) + 1))[:n]
    data = Gguf().add("t", T.ARRAY, (T.STRING, tokens)).add("end", T.STRING, "ok").build()
    for header in (read_header_bytes(data), read_header_ranged(lambda s, e: data[s:e], len(data))):
        assert header.metadata["end"] == "ok"
        ref = header.metadata["t"]
        assert isinstance(ref, ArrayRef)
        assert ref.n_bytes == sum(8 + len(t) for t in tokens)
        assert ref.decode() == tuple(t.decode("utf-8", "replace") for t in tokens)
