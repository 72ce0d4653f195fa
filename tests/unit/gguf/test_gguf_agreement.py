"""Our reader agrees exactly with gguf-py's GGUFReader on files written by gguf-py's GGUFWriter."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import gguf
import numpy as np
import pytest

from app.gguf import ArrayRef, read_header
from app.gguf.values import Value
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf


def _plain(value: Value) -> Any:
    if isinstance(value, ArrayRef):
        return [_plain(v) for v in value.decode()]
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _same(ours: Any, theirs: Any) -> bool:
    if isinstance(ours, list):
        return isinstance(theirs, list) and len(ours) == len(theirs) and all(map(_same, ours, theirs))
    if isinstance(ours, float):
        return math.isclose(ours, float(theirs), rel_tol=0, abs_tol=0) or (ours != ours and theirs != theirs)
    if isinstance(theirs, np.generic):
        return bool(ours == theirs)
    return bool(ours == theirs) and type(ours) is type(theirs)


def _flat(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [x for v in value for x in _flat(v)]
    return [value]


def assert_agrees(path: Path) -> None:
    ours = read_header(path)
    theirs = gguf.GGUFReader(path)
    fields = {k: f for k, f in theirs.fields.items() if not k.startswith("GGUF.")}
    assert list(ours.metadata) == list(fields)
    for key, field in fields.items():
        assert ours.value_types[key] == tuple(int(t) for t in field.types), key
        mine = _plain(ours.metadata[key])
        if field.types[:2] == [gguf.GGUFValueType.ARRAY, gguf.GGUFValueType.ARRAY]:
            mine = _flat(mine)  # gguf-py's contents() flattens arrays of arrays
        assert _same(mine, field.contents()), key
    assert len(ours.tensors) == len(theirs.tensors)
    for mine, other in zip(ours.tensors, theirs.tensors, strict=True):
        assert mine.name == other.name
        assert mine.shape == tuple(int(d) for d in other.shape)
        assert mine.ggml_type == int(other.tensor_type)
        assert mine.offset == other.data_offset
        assert mine.n_bytes == other.n_bytes
    assert ours.data_offset == theirs.data_offset


@pytest.mark.parametrize(
    "spec",
    [
        TinySpec(),
        TinySpec(tensor_type="F16", chat_template="{{ messages }}", tied_output=True),
        TinySpec(tensor_type="Q8_0", n_layer=3, n_head_kv=[2, 1, 4], n_ff=[64, 96, 128]),
    ],
    ids=["f32", "f16-tied-template", "q8-per-layer"],
)
def test_agrees_on_generated_models(tmp_path: Path, spec: TinySpec) -> None:
    assert_agrees(write_tiny_gguf(tmp_path / "m.gguf", spec))


def test_agrees_on_every_metadata_type_and_nested_arrays(tmp_path: Path) -> None:
    path = tmp_path / "all.gguf"
    w = gguf.GGUFWriter(path, "llama")
    w.add_uint8("u8", 200)
    w.add_int8("i8", -100)
    w.add_uint16("u16", 60000)
    w.add_int16("i16", -30000)
    w.add_uint32("u32", 4_000_000_000)
    w.add_int32("i32", -2_000_000_000)
    w.add_float32("f32", 0.25)
    w.add_uint64("u64", 2**64 - 2)
    w.add_int64("i64", -(2**62))
    w.add_float64("f64", 1e300)
    w.add_bool("b", False)
    w.add_string("s", "ünïcode ✓")
    w.add_array("ints", [1, 2, 3])
    w.add_array("floats", [0.5, 1.5])
    w.add_array("strings", ["a", "", "ccc"])
    w.add_array("bools", [True, False])
    w.add_array("nested", [[1, 2], [3]])
    w.add_array("nested_strings", [["x", "y"], ["z"]])
    w.add_array("big", list(range(5000)))
    w.add_array("big_strings", [f"s{i}" for i in range(3000)])
    w.add_tensor("t", np.arange(64, dtype=np.float32).reshape(2, 32))
    w.add_tensor("h", np.zeros((3, 32), dtype=np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    assert_agrees(path)


@pytest.mark.slow
def test_agrees_on_the_gemma_header(gemma_model: Path, tmp_path: Path) -> None:
    """GGUFReader is slow on a 262k vocabulary; compare on the same file once."""
    assert_agrees(gemma_model)
