"""Predicted quant sizes of a Hugging Face folder match the files a job writes (issue 16, item 7: a tiny
folder was predicted at 1.1 MiB per quant, with "0M parameters", for files of 124-200 KiB)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.convert.converter import convert
from app.quantize.plan import plan_source
from app.quantize.quantizer import quantize_file
from app.quantize.types import quant_type
from tests.support.tiny_hf import make_tiny_hf, make_tiny_mtp

# Q8_0 and F16 follow from the shapes alone; the K-quants' per-tensor mixes are the gist of llama.cpp's rules.
EXACT = ("F16", "Q8_0")
CLOSE = ("Q6_K", "Q4_K_M", "Q4_0", "Q3_K_M", "Q2_K")


@pytest.mark.parametrize("family", ["qwen2", "llama3"])
def test_hf_folder_predictions_match_the_written_quants(family: str, tmp_path: Path) -> None:
    folder = make_tiny_hf(tmp_path / family, family)
    plan = plan_source(folder, None)
    f16 = convert(folder, tmp_path / "model-F16.gguf", "f16").path
    assert plan.sizes["F16"] == f16.stat().st_size  # the header (vocabulary, metadata) is counted exactly
    for name in EXACT + CLOSE:
        if name == "F16":
            continue
        out = tmp_path / f"model-{name}.gguf"
        quantize_file(f16, out, quant_type(name))
        real, predicted = out.stat().st_size, plan.sizes[name]
        if name in EXACT:
            assert predicted == real, name
        else:
            assert abs(predicted - real) <= 0.1 * real, (name, predicted, real)


def test_a_small_parameter_count_keeps_its_digits(tmp_path: Path) -> None:
    plan = plan_source(make_tiny_hf(tmp_path / "gemma3", "gemma3"), None)
    assert plan.summary == "Hugging Face folder: 28 tensors, 1.3M parameters"  # not rounded to "1M" (or "0M")


@pytest.mark.parametrize("family", ["qwen3next", "nemotronhmoe", "glm4moe"])
def test_predictions_follow_the_no_mtp_option(family: str, tmp_path: Path) -> None:
    folder = make_tiny_mtp(tmp_path / family, family)
    kept, left_out = plan_source(folder, None), plan_source(folder, None, no_mtp=True)
    assert not kept.no_mtp and left_out.no_mtp
    real = {}
    for no_mtp in (False, True):
        f16 = convert(folder, tmp_path / f"no-mtp-{no_mtp}-F16.gguf", "f16", no_mtp=no_mtp).path
        quantize_file(f16, tmp_path / f"no-mtp-{no_mtp}-Q8_0.gguf", quant_type("Q8_0"))
        real[no_mtp] = (tmp_path / f"no-mtp-{no_mtp}-Q8_0.gguf").stat().st_size
    assert (kept.sizes["Q8_0"], left_out.sizes["Q8_0"]) == (real[False], real[True])
    assert real[True] < real[False]
    assert all(left_out.sizes[name] < kept.sizes[name] for name in kept.sizes)
    assert left_out.summary != kept.summary  # fewer tensors and parameters


def test_no_mtp_leaves_a_gguf_source_as_it_is(tmp_path: Path) -> None:
    source = convert(make_tiny_mtp(tmp_path / "qwen35moe", "qwen35moe"), tmp_path / "mtp.gguf", "f16").path
    plan = plan_source(source, None, no_mtp=True)
    assert not plan.no_mtp and plan.sizes == plan_source(source, None).sizes
