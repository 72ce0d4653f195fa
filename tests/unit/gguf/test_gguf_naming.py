from __future__ import annotations

import pytest

from app.gguf.naming import SplitName, is_imatrix, is_mmproj, is_model_file, parse_split, quant_label, split_file_name


def test_parse_split() -> None:
    assert parse_split("Qwen3-30B-Q4_K_M-00002-of-00005.gguf") == SplitName("Qwen3-30B-Q4_K_M", 2, 5)
    assert parse_split("dir/x-00001-of-00001.gguf") == SplitName("x", 1, 1)
    assert parse_split("x-00006-of-00005.gguf") is None
    assert parse_split("x-00000-of-00005.gguf") is None
    assert parse_split("x-1-of-5.gguf") is None
    assert parse_split("model.gguf") is None
    assert split_file_name("m", 3, 12) == "m-00003-of-00012.gguf"
    assert SplitName("m", 1, 2).part_name(2) == "m-00002-of-00002.gguf"


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("Llama-3.2-1B-Instruct-Q4_K_M.gguf", "Q4_K_M"),
        ("qwen2.5-7b-instruct-q4_k_m-00001-of-00002.gguf", "Q4_K_M"),
        ("gemma-3-270m-it-IQ2_XS.gguf", "IQ2_XS"),
        ("model.IQ4_NL.gguf", "IQ4_NL"),
        ("model-bf16.gguf", "BF16"),
        ("model-f16.gguf", "F16"),
        ("model-F32.gguf", "F32"),
        ("model-Q8_0.gguf", "Q8_0"),
        ("gpt-oss-20b-MXFP4.gguf", "MXFP4"),
        ("gpt-oss-20b-mxfp4_moe.gguf", "MXFP4"),
        ("Qwen3-UD-Q4_K_XL.gguf", "Q4_K_XL"),
        ("Llama-F16-Q3_K_S.gguf", "Q3_K_S"),
        ("model-IQ1_M.gguf", "IQ1_M"),
        ("model-TQ1_0.gguf", "TQ1_0"),
        ("model.gguf", None),
        ("model-Q9_K.gguf", None),
        ("model-Q4_K.gguf", "Q4_K"),
    ],
)
def test_quant_label(name: str, label: str | None) -> None:
    assert quant_label(name) == label


def test_projector_and_imatrix_files() -> None:
    assert is_mmproj("mmproj-model-f16.gguf")
    assert is_mmproj("gemma-3-4b-it-mmproj-BF16.gguf")
    assert not is_mmproj("model-Q4_K_M.gguf")
    assert is_imatrix("imatrix.dat")
    assert is_imatrix("Qwen3.imatrix.gguf")
    assert is_imatrix("imatrix_unsloth.gguf")
    assert not is_imatrix("model-Q4_K_M.gguf")
    assert is_model_file("a/b/model-Q4_K_M-00001-of-00002.gguf")
    assert not is_model_file("mmproj-f16.gguf")
    assert not is_model_file("imatrix.gguf")
    assert not is_model_file("README.md")
