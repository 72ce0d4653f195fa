"""Acceptance: every tiny checkpoint converts byte-identically to llama.cpp's own convert_hf_to_gguf.py.

Both converters read the same generated checkpoint; the two GGUF files must hold the same metadata keys and
values and the same tensors (names, order, shapes, types, bytes). The reference runs once per session for all
checkpoints (tests/support/reference_convert.py), its outputs cached on disk across sessions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.convert.converter import convert
from tests.support.reference_convert import ReferenceJob, ReferenceResult, differences, reference_outputs
from tests.support.tiny_hf import (
    BPE_PRE_TOKENIZERS,
    NO_MTP_REFERENCE,
    PRE_TOKENIZER_CASES,
    SAMPLE_TEXTS,
    SPECS,
    granite4_layer_names,
    make_tiny_bpe,
    make_tiny_fp8,
    make_tiny_gemma3n_conditional,
    make_tiny_gemma4_conditional,
    make_tiny_hf,
    make_tiny_llama4_vl,
    make_tiny_mtp,
    make_tiny_mxfp4,
    make_tiny_qwen35_vl,
    nemotron_h_as_published,
)
from tests.support.tiny_vision import make_tiny_gemma3_vision

pytestmark = pytest.mark.slow
pytest.importorskip("torch")
pytest.importorskip("transformers")

# (spec, weight dtype, output type): every family in F32, and half-precision weights into the other outputs
# for a dense model and for merged experts.
# llama.cpp's converter reads Granite hybrid layer types only as Granite 4 spells them (the "granite4" cases).
CASES = [(name, "float32", "f32") for name in sorted(SPECS) if name not in ("granitehybrid", "nemotronh")]
CASES += [
    ("llama3", "bfloat16", "f16"),
    ("qwen3moe", "bfloat16", "q8_0"),
    ("mixtral", "float16", "bf16"),
    ("granitemoe", "bfloat16", "f16"),
    ("gptoss", "mxfp4", "f16"),  # experts repacked from MXFP4 blocks, the rest converted
    ("gptoss", "mxfp4", "q8_0"),
    ("qwen3moe", "sharded", "f16"),  # one layer's experts spread over several shards of an index
    ("qwen3", "fp8", "f16"),  # E4M3 weights with 128x128 block scales, dequantized on the way
    ("deepseekv3", "fp8", "q8_0"),  # ... through merged experts and MLA's split kv_b as well
    ("qwen35moe", "mtp", "f16"),  # a multi-token-prediction layer (merged experts too), kept as llama.cpp does
    ("qwen3next", "mtp", "f32"),
    ("nemotronhmoe", "mtp", "f32"),  # Nemotron 3's two-part MTP head folded into one block, kept
    ("glm4moe", "mtp", "f32"),  # GLM-4.5's MTP layer past num_hidden_layers, kept
    ("deepseekv3", "mtp", "f32"),  # DeepSeek V3's, left out (llama.cpp's converter does not keep it yet)
    ("ernie4_5_moe", "mtp", "f32"),  # ERNIE 4.5's, left out likewise
    ("granitehybrid", "granite4", "f32"),  # layer types as Granite 4 spells them (see granite4_layer_names)
    ("granitehybrid", "granite4", "bf16"),
    ("falconh1", "bfloat16", "f16"),  # multipliers folded into BF16 weights, rounded as llama.cpp's does
    ("falconh1", "float16", "q8_0"),  # ... and into F16 ones (computed in float32, rounded to F16 in between)
    ("qwen35", "conditional", "f16"),  # as published: text_config, model.language_model.*, a vision tower
    ("qwen35moe", "conditional", "f16"),
    ("llama4", "conditional", "f16"),  # Llama4ForConditionalGeneration: language_model.*, a vision model beside
    ("gemma3", "vision", "f32"),  # Gemma3ForConditionalGeneration: the text model beside a SigLIP tower
    ("nemotronh", "published", "f32"),  # config.json as NVIDIA publishes it (see nemotron_h_as_published)
    ("nemotronh", "published", "bf16"),
    ("nemotronhmoe", "bfloat16", "bf16"),  # Nemotron 3's kind: experts stacked, as Transformers 5 saves it
    ("gemma3n", "bfloat16", "f16"),  # E2B's layout at tiny widths (see SPECS), embeddings padded in BF16
    ("gemma3n", "multimodal", "q8_0"),  # as published: model.language_model.*, vision and audio towers beside
    ("gemma4", "bfloat16", "f16"),  # rope_freqs and the 1-element layer scalars stay F32
    ("gemma4", "float16", "q8_0"),
    ("gemma4", "multimodal", "q8_0"),  # Gemma4ForConditionalGeneration: text_config, towers and embedders beside
    ("gemma4moe", "bfloat16", "q8_0"),  # stacked experts quantized, the router kept in F32
]


def _case_id(case: tuple[str, str, str]) -> str:
    return "-".join(case)


@pytest.fixture(scope="session")
def references(
    tmp_path_factory: pytest.TempPathFactory, llama_cpp_sources: Path
) -> dict[tuple[str, str, str], tuple[Path, ReferenceResult]]:
    root = tmp_path_factory.mktemp("tiny-hf-reference")
    folders = {}
    for name, dtype, _ in CASES:
        folder = root / f"{name}-{dtype}"
        if folder.exists():
            pass
        elif dtype == "mxfp4":
            make_tiny_mxfp4(folder, root / f"{name}-mxfp4-dequantized")
        elif dtype == "sharded":
            make_tiny_hf(folder, name, max_shard_size="1MB")
        elif dtype == "granite4":
            granite4_layer_names(make_tiny_hf(folder, name))
        elif dtype == "published":
            nemotron_h_as_published(make_tiny_hf(folder, name))
        elif dtype == "vision":
            make_tiny_gemma3_vision(folder)  # the vision tests convert the same bytes from another folder name
        elif dtype == "conditional" and name == "llama4":
            make_tiny_llama4_vl(folder)
        elif dtype == "conditional":
            make_tiny_qwen35_vl(folder, name=name)
        elif dtype == "multimodal" and name == "gemma4":
            make_tiny_gemma4_conditional(folder, root / f"{name}-text-of-multimodal")
        elif dtype == "multimodal":
            make_tiny_gemma3n_conditional(folder, root / f"{name}-text-of-multimodal")
        elif dtype == "mtp":
            make_tiny_mtp(folder, name)
        elif dtype == "fp8":
            make_tiny_fp8(folder, root / f"{name}-fp8-dequantized", name)
        else:
            make_tiny_hf(folder, name, dtype=dtype)
        folders[(name, dtype)] = folder
    jobs = [
        ReferenceJob(
            folders[(name, dtype)],
            outtype,
            BPE_PRE_TOKENIZERS.get(SPECS[name].tokenizer),
            ("--no-mtp",) if name in NO_MTP_REFERENCE and dtype != "mtp" else (),
        )
        for name, dtype, outtype in CASES
    ]
    results = reference_outputs(jobs, llama_cpp_sources)
    return {case: (folders[case[:2]], result) for case, result in zip(CASES, results, strict=True)}


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_identical_to_llama_cpp_converter(
    references: dict[tuple[str, str, str], tuple[Path, ReferenceResult]], tmp_path: Path, case: tuple[str, str, str]
) -> None:
    folder, reference = references[case]
    assert reference.path is not None, f"llama.cpp's converter failed on {case[0]}: {reference.error}"
    ours = convert(folder, tmp_path / "ours.gguf", case[2]).path
    assert differences(ours, reference.path) == []


# The no-MTP option against llama.cpp's --no-mtp: Qwen3.5 MoE, Nemotron 3 and GLM-4.5 with an MTP layer, and
# GLM-4.5 without one (its converter then still leaves out the nextn_predict_layers key). llama.cpp's converter
# refuses --no-mtp for DeepSeek V3 and ERNIE 4.5, whose MTP layers it always leaves out.
NO_MTP_CASES = [
    ("qwen35moe", "mtp", "f32"),
    ("nemotronhmoe", "mtp", "f32"),
    ("glm4moe", "mtp", "f32"),
    ("glm4moe", "float32", "f32"),
]


@pytest.fixture(scope="session")
def no_mtp_references(
    references: dict[tuple[str, str, str], tuple[Path, ReferenceResult]], llama_cpp_sources: Path
) -> dict[tuple[str, str, str], tuple[Path, ReferenceResult]]:
    """llama.cpp's --no-mtp output for each NO_MTP_CASES checkpoint (one reference run for all of them)."""
    folders = {(n, d): f for (n, d, _), (f, _) in references.items()}
    jobs = [
        ReferenceJob(folders[(name, dtype)], outtype, BPE_PRE_TOKENIZERS.get(SPECS[name].tokenizer), ("--no-mtp",))
        for name, dtype, outtype in NO_MTP_CASES
    ]
    results = reference_outputs(jobs, llama_cpp_sources)
    return {case: (job.folder, result) for case, job, result in zip(NO_MTP_CASES, jobs, results, strict=True)}


@pytest.mark.parametrize("case", NO_MTP_CASES, ids=_case_id)
def test_no_mtp_identical_to_llama_cpp_converter(
    no_mtp_references: dict[tuple[str, str, str], tuple[Path, ReferenceResult]],
    tmp_path: Path,
    case: tuple[str, str, str],
) -> None:
    name, _dtype, outtype = case
    folder, reference = no_mtp_references[case]
    assert reference.path is not None, f"llama.cpp's converter failed on {name} --no-mtp: {reference.error}"
    ours = convert(folder, tmp_path / "ours.gguf", outtype, no_mtp=True).path
    assert differences(ours, reference.path) == []


def test_granite_hybrid_layer_names_of_transformers_5_read_alike(
    references: dict[tuple[str, str, str], tuple[Path, ReferenceResult]], tmp_path: Path
) -> None:
    """Transformers 5 saves Granite 4.0-H layer types as linear_attention / full_attention: the same model."""
    granite4, _ = references[("granitehybrid", "granite4", "f32")]
    transformers_names = make_tiny_hf(tmp_path / granite4.name, "granitehybrid")  # same name, same metadata
    ours = convert(transformers_names, tmp_path / "ours.gguf", "f32").path
    theirs = convert(granite4, tmp_path / "granite4.gguf", "f32").path
    assert differences(ours, theirs) == []


def test_nemotron_h_as_transformers_5_saves_it_reads_alike(
    references: dict[tuple[str, str, str], tuple[Path, ReferenceResult]], tmp_path: Path
) -> None:
    """Transformers 5 saves the layer pattern as a list and adds expert keys to a dense model: the same model."""
    published, _ = references[("nemotronh", "published", "f32")]
    transformers_saved = make_tiny_hf(tmp_path / published.name, "nemotronh")  # same name, same metadata
    ours = convert(transformers_saved, tmp_path / "ours.gguf", "f32").path
    theirs = convert(published, tmp_path / "published.gguf", "f32").path
    assert differences(ours, theirs) == []


# Vocabularies whose llama.cpp pre-tokenizer is an approximation (the warning in the job log), and DeepSeek V3's
# (refused before): still the same GGUF as llama.cpp's converter writes, token types included.
@pytest.mark.parametrize("case", ["tekken", "gpt-4o", "deepseek-llm", "deepseek-v3"])
def test_approximate_pre_tokenizers_identical_to_llama_cpp_converter(
    tmp_path_factory: pytest.TempPathFactory, llama_cpp_sources: Path, tmp_path: Path, case: str
) -> None:
    folder = make_tiny_bpe(tmp_path_factory.mktemp("approximate") / case, case, list(SAMPLE_TEXTS))
    (reference,) = reference_outputs(
        [ReferenceJob(folder, "f32", PRE_TOKENIZER_CASES[case].expected)], llama_cpp_sources
    )
    assert reference.path is not None, f"llama.cpp's converter failed on {case}: {reference.error}"
    ours = convert(folder, tmp_path / "ours.gguf", "f32").path
    assert differences(ours, reference.path) == []
