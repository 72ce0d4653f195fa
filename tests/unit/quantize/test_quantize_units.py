"""Pure-Python parts of quantization: type table, names, size prediction, imatrix files, sources."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.core.errors import QuantizeError
from app.quantize.imatrix_file import Imatrix, ImatrixEntry, load_imatrix, save_imatrix
from app.quantize.predict import TensorShape, predict_size
from app.quantize.quantizer import quantize_file
from app.quantize.source import hf_files
from app.quantize.types import QUANT_TYPES, output_name, parse_types, quant_type


def test_every_llama_quantize_type_is_listed_once() -> None:
    names = [t.name for t in QUANT_TYPES]
    assert len(names) == len(set(names))
    for expected in ("Q4_K_M", "Q6_K", "Q8_0", "IQ2_XS", "IQ1_S", "Q2_K_S", "IQ4_XS", "TQ2_0", "MXFP4_MOE", "BF16"):
        assert expected in names
    assert {t.name for t in QUANT_TYPES if t.needs_imatrix} == {
        "IQ1_S",
        "IQ1_M",
        "IQ2_XXS",
        "IQ2_XS",
        "IQ2_S",
        "IQ2_M",
        "Q2_K_S",
    }


def test_parse_types_accepts_aliases_case_and_dedupes() -> None:
    assert [t.name for t in parse_types("q4_k, Q8_0,Q4_K_M")] == ["Q4_K_M", "Q8_0"]
    with pytest.raises(QuantizeError, match="Q4_K_M"):
        quant_type("Q4_X")
    with pytest.raises(QuantizeError):
        parse_types(" , ")


def test_output_names() -> None:
    q = quant_type("Q4_K_M")
    assert output_name("Llama-3.2-1B-F16", q) == "Llama-3.2-1B-Q4_K_M.gguf"
    assert output_name("gemma-3-270m", q) == "gemma-3-270m-Q4_K_M.gguf"


def test_prediction_follows_llama_cpp_type_rules() -> None:
    tensors = [
        TensorShape("token_embd.weight", (256, 1000), "F16"),
        TensorShape("output.weight", (256, 1000), "F16"),
        TensorShape("blk.0.attn_norm.weight", (256,), "F32"),
        TensorShape("blk.0.attn_q.weight", (256, 256), "F16"),
        TensorShape("blk.0.ffn_down.weight", (640, 256), "F16"),  # rows not whole K-quant blocks
    ]
    q8 = predict_size(tensors, quant_type("Q8_0"))
    assert q8 == 2 * 1000 * 8 * 34 + 256 * 4 + 256 * 8 * 34 + 256 * 20 * 34
    q4 = predict_size(tensors, quant_type("Q4_K_S"))
    # output.weight gets Q6_K; the 640-wide tensor falls back to Q5_0 (22 bytes per 32)
    # Each tensor's data starts 32-byte aligned, as in the file: 210,000 bytes of Q6_K take 210,016.
    assert q4 == 1000 * 144 + (1000 * 210 + 16) + 256 * 4 + 256 * 144 + 256 * 20 * 22
    pure = predict_size(tensors, quant_type("Q4_K_S"), pure=True)
    assert pure < q4


def test_imatrix_file_round_trip(tmp_path: Path) -> None:
    entries = {
        "blk.0.attn_q.weight": ImatrixEntry(np.arange(8, dtype=np.float32).reshape(1, 8), np.array([4])),
        "blk.0.ffn_down_exps.weight": ImatrixEntry(np.ones((2, 4), np.float32), np.array([3, 0])),
    }
    path = tmp_path / "m.imatrix.gguf"
    save_imatrix(path, Imatrix(entries, ("calib.txt",), chunk_count=2, chunk_size=512))
    back = load_imatrix(path)
    assert back.datasets == ("calib.txt",) and back.chunk_count == 2 and back.chunk_size == 512
    assert np.array_equal(back.entries["blk.0.attn_q.weight"].sums, entries["blk.0.attn_q.weight"].sums)
    assert list(back.entries["blk.0.ffn_down_exps.weight"].counts) == [3, 0]
    # what llama-quantize uses: sums / count, and 1 for experts that saw no token
    assert list(back.entries["blk.0.attn_q.weight"].importance()) == [i / 4 for i in range(8)]
    assert list(back.entries["blk.0.ffn_down_exps.weight"].importance()) == [1 / 3] * 4 + [1.0] * 4
    import gguf

    fields = gguf.GGUFReader(path).fields
    assert fields["general.type"].contents() == "imatrix"
    assert "general.architecture" not in fields


def test_non_imatrix_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.gguf"
    path.write_bytes(b"GGUF nonsense")
    with pytest.raises(QuantizeError):
        load_imatrix(path)


def test_low_bit_types_demand_an_imatrix_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(QuantizeError, match="importance matrix"):
        quantize_file(tmp_path / "missing.gguf", tmp_path / "out.gguf", quant_type("IQ2_XS"))
    assert not list(tmp_path.iterdir())


def test_hub_file_selection_skips_pickles_and_subfolders() -> None:
    files = [
        "config.json",
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
        "pytorch_model.bin",
        "tokenizer.json",
        "onnx/model.onnx",
        "README.md",
        "model.safetensors.index.json",
    ]
    assert hf_files(files) == [
        "README.md",
        "config.json",
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
        "model.safetensors.index.json",
        "tokenizer.json",
    ]
    with pytest.raises(QuantizeError, match="safetensors"):
        hf_files(["config.json", "pytorch_model.bin"])
