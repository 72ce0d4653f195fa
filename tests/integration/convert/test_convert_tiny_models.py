"""Acceptance: every supported architecture converts, loads in llama.cpp and agrees with transformers.

Models are generated (random weights, tokenizers trained on our calibration text). Reference logits come
from transformers on CPU; reference tokenization from the HF tokenizer (tokenizer.json) for BPE models and
from sentencepiece for SentencePiece models (transformers 5 converts tokenizer.model to a fast tokenizer that
itself departs from sentencepiece on runs of spaces).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import llama_cpp
import numpy as np
import pytest
import torch
import transformers

from app.convert.converter import convert
from tests.support.tiny_hf import (
    SAMPLE_TEXTS,
    SPECS,
    make_tiny_fp8,
    make_tiny_gemma3n_conditional,
    make_tiny_gemma4_conditional,
    make_tiny_hf,
    make_tiny_llama4_vl,
    make_tiny_mtp,
    make_tiny_mxfp4,
    make_tiny_qwen35_vl,
)
from tests.support.tiny_vision import make_tiny_gemma3_vision

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiny-hf")


def _model(root: Path, name: str, dtype: str = "float32") -> Path:
    folder = root / f"{name}-{dtype}"
    if not (folder / "config.json").exists():
        make_tiny_hf(folder, name, dtype=dtype)
    return folder


def _reference_encoder(folder: Path) -> Callable[[str], list[int]]:
    if (folder / "tokenizer.model").exists():
        import sentencepiece as spm

        sp = spm.SentencePieceProcessor(model_file=str(folder / "tokenizer.model"))
        return lambda text: [sp.bos_id(), *sp.encode(text)]
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    return lambda text: list(tok(text).input_ids)


def _load(path: Path) -> object:
    return llama_cpp.Llama(str(path), n_ctx=128, logits_all=True, verbose=False, n_threads=1)


def _llama_logits(llm: object, ids: list[int]) -> np.ndarray:
    llm.reset()  # type: ignore[attr-defined]
    llm.eval(ids)  # type: ignore[attr-defined]
    return np.array(llm.scores[: len(ids)])  # type: ignore[attr-defined]


def _hf_logits(folder: Path, ids: list[int]) -> np.ndarray:
    model = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].float().numpy()


@pytest.mark.parametrize("name", sorted(SPECS))
def test_f32_conversion_matches_transformers(tiny_root: Path, tmp_path: Path, name: str) -> None:
    folder = _model(tiny_root, name)
    result = convert(folder, tmp_path / "m.gguf", "f32")
    assert result.path.exists() and not list(tmp_path.glob("m.gguf*.part")) and not list(tmp_path.glob("*.lock"))
    encode = _reference_encoder(folder)
    llm = _load(result.path)
    for text in SAMPLE_TEXTS:
        got = llm.tokenize(text.encode(), add_bos=True, special=False)  # type: ignore[attr-defined]
        assert got == encode(text), f"{name}: tokenization differs for {text!r}"
    ids = encode(SAMPLE_TEXTS[1])
    ref = _hf_logits(folder, ids)
    got = _llama_logits(llm, ids)
    scale = float(np.abs(ref).max())
    assert np.abs(ref - got).max() < 2e-3 * scale + 1e-3, f"{name}: logits differ"


@pytest.mark.parametrize(("name", "dtype", "outtype"), [("llama3", "bfloat16", "bf16"), ("gemma3", "float16", "q8_0")])
def test_half_precision_sources_and_outputs(
    tiny_root: Path, tmp_path: Path, name: str, dtype: str, outtype: str
) -> None:
    folder = _model(tiny_root, name, dtype)
    result = convert(folder, tmp_path / "m.gguf", outtype)
    encode = _reference_encoder(folder)
    ids = encode(SAMPLE_TEXTS[0] + " " + SAMPLE_TEXTS[1])
    ref = _hf_logits(folder, ids)
    got = _llama_logits(_load(result.path), ids)
    assert np.abs(ref - got).max() < 0.05 * float(np.abs(ref).max())
    assert (ref.argmax(-1) == got.argmax(-1)).mean() >= 0.8


def test_mxfp4_experts_run_like_their_dequantized_weights(tiny_root: Path, tmp_path: Path) -> None:
    """gpt-oss as OpenAI ships it: MXFP4 experts repacked bit for bit; Transformers runs the same values as floats."""
    folder = make_tiny_mxfp4(tiny_root / "gptoss-mxfp4", tiny_root / "gptoss-mxfp4-float")
    result = convert(folder, tmp_path / "m.gguf", "f16")
    encode = _reference_encoder(folder)
    ids = encode(SAMPLE_TEXTS[0] + " " + SAMPLE_TEXTS[1])
    ref = _hf_logits(tiny_root / "gptoss-mxfp4-float", ids)
    got = _llama_logits(_load(result.path), ids)
    assert np.abs(ref - got).max() < 0.05 * float(np.abs(ref).max())
    assert (ref.argmax(-1) == got.argmax(-1)).mean() >= 0.8


@pytest.mark.parametrize("name", ["qwen3", "deepseekv3"])
def test_fp8_weights_run_like_their_dequantized_values(tiny_root: Path, tmp_path: Path, name: str) -> None:
    """FP8 checkpoints with block scales (Qwen3 FP8, DeepSeek V3): dequantized on the way, as Transformers
    runs the same values as floats."""
    folder = make_tiny_fp8(tiny_root / f"{name}-fp8", tiny_root / f"{name}-fp8-float", name)
    result = convert(folder, tmp_path / "m.gguf", "f16")
    ids = _reference_encoder(folder)(SAMPLE_TEXTS[0] + " " + SAMPLE_TEXTS[1])
    ref = _hf_logits(tiny_root / f"{name}-fp8-float", ids)
    got = _llama_logits(_load(result.path), ids)
    assert np.abs(ref - got).max() < 0.05 * float(np.abs(ref).max())
    assert (ref.argmax(-1) == got.argmax(-1)).mean() >= 0.8


def _matches_transformers(folder: Path, gguf: Path, logits_of: Callable[[list[int]], np.ndarray]) -> None:
    """Tokenization as the checkpoint's tokenizer; logits of an F32 conversion within the F32 test's tolerance."""
    encode = _reference_encoder(folder)
    llm = _load(gguf)
    for text in SAMPLE_TEXTS:
        assert llm.tokenize(text.encode(), add_bos=True, special=False) == encode(text)  # type: ignore[attr-defined]
    ids = encode(SAMPLE_TEXTS[1])
    ref, got = logits_of(ids), _llama_logits(llm, ids)
    assert np.abs(ref - got).max() < 2e-3 * float(np.abs(ref).max()) + 1e-3


# Multi-token-prediction layers kept in the file (llama.cpp's default): llama.cpp loads the model with them and
# runs the trunk, as Transformers does (it leaves the MTP weights unread). DeepSeek V3's is left out, likewise.
@pytest.mark.parametrize("name", ["qwen35moe", "qwen3next", "nemotronhmoe", "glm4moe", "deepseekv3"])
def test_models_with_mtp_layers_load_and_match_transformers(tiny_root: Path, tmp_path: Path, name: str) -> None:
    folder = make_tiny_mtp(tiny_root / f"{name}-mtp", name)
    result = convert(folder, tmp_path / "m.gguf", "f32")
    _matches_transformers(folder, result.path, lambda ids: _hf_logits(folder, ids))


def _wrapper_logits(folder: Path, ids: list[int]) -> np.ndarray:
    """Logits of the published wrapper class itself (text only), as Transformers runs it."""
    config = transformers.AutoConfig.from_pretrained(folder)
    model = getattr(transformers, config.architectures[0]).from_pretrained(folder, dtype=torch.float32)
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits[0].float().numpy()


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("qwen35", lambda f: make_tiny_qwen35_vl(f, name="qwen35")),
        ("qwen35moe", lambda f: make_tiny_qwen35_vl(f, name="qwen35moe")),
        ("llama4", make_tiny_llama4_vl),
        ("gemma3", make_tiny_gemma3_vision),
    ],
    ids=[
        "Qwen3_5ForConditionalGeneration",
        "Qwen3_5MoeForConditionalGeneration",
        "Llama4ForConditionalGeneration",
        "Gemma3ForConditionalGeneration",
    ],
)
def test_conditional_generation_wrappers_match_transformers(
    tiny_root: Path, tmp_path: Path, name: str, make: Callable[[Path], Path]
) -> None:
    """The text model inside a vision-language wrapper, against that wrapper run by Transformers."""
    folder = make(tiny_root / f"{name}-conditional")
    result = convert(folder, tmp_path / "m.gguf", "f32")
    _matches_transformers(folder, result.path, lambda ids: _wrapper_logits(folder, ids))


@pytest.mark.parametrize(
    ("name", "make"),
    [("gemma3n", make_tiny_gemma3n_conditional), ("gemma4", make_tiny_gemma4_conditional)],
    ids=["Gemma3nForConditionalGeneration", "Gemma4ForConditionalGeneration"],
)
def test_multimodal_wrappers_match_their_text_model(
    tiny_root: Path, tmp_path: Path, name: str, make: Callable[[Path, Path], Path]
) -> None:
    """Gemma 3n / Gemma 4 as published, towers beside the text model: the builders' towers are stand-ins that
    Transformers cannot run (the converters never read them), so the reference is the same text weights run
    by Transformers as the text-only model."""
    text = tiny_root / f"{name}-text-of-wrapper"
    folder = make(tiny_root / f"{name}-wrapper", text)
    result = convert(folder, tmp_path / "m.gguf", "f32")
    _matches_transformers(folder, result.path, lambda ids: _hf_logits(text, ids))
