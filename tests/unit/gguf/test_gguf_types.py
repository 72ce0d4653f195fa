"""The type table against the pinned llama.cpp as installed: the wheel's ggml.h and llama.h enums and the block
sizes its libggml-base reports (the `gguf` package the table starts from may trail it)."""

from __future__ import annotations

import ctypes
import re
from functools import cache

import pytest

from app.core.errors import GGUFError
from app.gguf.types import file_type_label, file_type_labels, ggml_type, ggml_types, ggml_types_by_name, tensor_nbytes
from tests.support.llama_sources import installed_include, installed_library


def _enum(header: str, opening: str, prefix: str) -> dict[int, str]:
    """The live members of a C enum (commented-out, removed values excluded)."""
    text = (installed_include() / header).read_text()
    body = text[text.index(opening) :]
    body = body[: body.index("};")]
    return {int(v): n for n, v in re.findall(rf"^\s*{prefix}(\w+)\s*=\s*(\d+)\s*,", body, re.MULTILINE)}


@cache
def _ggml_base() -> ctypes.CDLL:
    lib = ctypes.CDLL(str(installed_library("ggml-base")))
    lib.ggml_blck_size.restype = ctypes.c_int64
    lib.ggml_blck_size.argtypes = [ctypes.c_int]
    lib.ggml_type_size.restype = ctypes.c_size_t
    lib.ggml_type_size.argtypes = [ctypes.c_int]
    return lib


def test_every_type_of_the_pinned_ggml_is_in_the_table() -> None:
    pinned = {v: n for v, n in _enum("ggml.h", "enum ggml_type {", "GGML_TYPE_").items() if n != "COUNT"}
    assert {t.id: t.name for t in ggml_types().values()} == pinned


def test_block_sizes_match_the_pinned_ggml() -> None:
    lib = _ggml_base()
    expected = {t: (lib.ggml_blck_size(t), lib.ggml_type_size(t)) for t in ggml_types()}
    assert {t.id: (t.block_size, t.type_size) for t in ggml_types().values()} == expected


def test_file_type_labels_match_the_pinned_llama_ftype() -> None:
    pinned = _enum("llama.h", "enum llama_ftype {", "LLAMA_FTYPE_")
    expected = {v: n.removeprefix("MOSTLY_").removeprefix("ALL_") for v, n in pinned.items() if n != "GUESSED"}
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
