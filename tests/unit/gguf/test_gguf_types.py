from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from app.core.errors import GGUFError
from app.gguf.types import file_type_label, file_type_labels, ggml_type, ggml_types, ggml_types_by_name, tensor_nbytes

PINNED = Path("/work/src/llama_cpp_python-0.3.36/vendor/llama.cpp")
needs_pinned = pytest.mark.skipif(not PINNED.is_dir(), reason="pinned llama.cpp source not present")


def _pinned_constants() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pinned_gguf_constants", PINNED / "gguf-py/gguf/constants.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_pinned
def test_every_type_of_the_pinned_ggml_is_in_the_table() -> None:
    header = (PINNED / "ggml/include/ggml.h").read_text()
    enum = header[header.index("enum ggml_type {") : header.index("GGML_TYPE_COUNT")]
    pinned = {int(v): n for n, v in re.findall(r"^\s*GGML_TYPE_(\w+)\s*=\s*(\d+),", enum, re.MULTILINE)}
    assert {t.id: t.name for t in ggml_types().values()} == pinned


@needs_pinned
def test_block_sizes_match_the_pinned_gguf_py() -> None:
    pinned = _pinned_constants()
    expected = {int(t): sizes for t, sizes in pinned.GGML_QUANT_SIZES.items()}
    assert {t.id: (t.block_size, t.type_size) for t in ggml_types().values()} == expected


@needs_pinned
def test_file_type_labels_match_the_pinned_llama_ftype() -> None:
    pinned = _pinned_constants()
    expected = {int(m): m.name.removeprefix("MOSTLY_").removeprefix("ALL_") for m in pinned.LlamaFileType}
    expected.pop(1024)  # GUESSED is not a file type
    assert file_type_labels() == expected


def test_well_known_entries() -> None:
    assert file_type_label(15) == "Q4_K_M"
    assert file_type_label(0) == "F32"
    assert file_type_label(1) == "F16"
    assert file_type_label(7) == "Q8_0"
    assert file_type_label(32) == "BF16"
    assert file_type_label(5) is None
    q8 = ggml_types_by_name()["Q8_0"]
    assert (q8.id, q8.block_size, q8.type_size, q8.bits_per_weight, q8.quantized) == (8, 32, 34, 8.5, True)
    assert ggml_type(12).bits_per_weight == 4.5  # Q4_K
    assert ggml_type(0).quantized is False
    with pytest.raises(GGUFError, match="unknown ggml tensor type 4"):
        ggml_type(4)


def test_tensor_nbytes() -> None:
    assert tensor_nbytes((256, 2), 12) == 2 * 144
    assert tensor_nbytes((10, 3, 2), 0) == 240
    assert tensor_nbytes((), 0) == 4
    assert tensor_nbytes((0, 5), 1) == 0
    with pytest.raises(GGUFError, match="not a multiple of its block size 256"):
        tensor_nbytes((100, 2), 12)
    with pytest.raises(GGUFError, match="negative"):
        tensor_nbytes((-1,), 0)
