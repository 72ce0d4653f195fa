"""The projector's memory (app.estimate.projector) against what llama.cpp's mtmd logs when it loads the projector:
weights exact to the log's 0.01 MiB, the compute buffer for one image likewise with flash attention, within 2%
without it. Towers of three sizes, converted by our converter from tiny Gemma 3 checkpoints."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.convert.mmproj import convert_mmproj
from app.estimate.projector import projector_memory
from app.gguf.reader import read_header
from tests.support.cli import run_cli
from tests.support.tiny_vision import VisionGGUFs, make_tiny_gemma3_vision

MIB = 1024 * 1024
TOWERS = {  # image size, patch, width, FFN, heads, layers; tokens per image
    "tiny": ({"image_size": 64, "patch_size": 16}, 4),
    "siglip-224": ({"hidden_size": 128, "intermediate_size": 512, "num_attention_heads": 4, "image_size": 224,
                    "patch_size": 16}, 49),
    "siglip-448": ({"hidden_size": 256, "intermediate_size": 1024, "num_attention_heads": 4, "image_size": 448,
                    "patch_size": 14}, 64),
}
_LOAD = """
import sys
import llama_cpp
from llama_cpp import mtmd_cpp as M
llama_cpp.llama_backend_init()
params = M.mtmd_context_params_default()
params.use_gpu = False
params.n_threads = 1
params.flash_attn_type = int(sys.argv[2])
ctx = M.mtmd_init_from_file(sys.argv[1].encode(), None, params)
assert ctx, "mtmd could not load the projector"
M.mtmd_free(ctx)
"""


@pytest.fixture(scope="module")
def towers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("towers")
    out = {}
    for name, (vision, tokens) in TOWERS.items():
        folder = make_tiny_gemma3_vision(root / name, vision=vision, tokens_per_image=tokens)
        out[name] = convert_mmproj(folder, root / f"{name}.gguf").path
    return out


def logged(path: Path, flash_attn: bool) -> tuple[float, float]:
    """(weights, compute buffer) in MiB, as llama.cpp's log prints them when mtmd loads the projector."""
    weights, buffers = logged_buffers(path, flash_attn)
    return weights, buffers[0]


def logged_buffers(path: Path, flash_attn: bool) -> tuple[float, list[float]]:
    """The weights and every compute buffer (vision, then audio for a projector with both towers) in MiB."""
    run = subprocess.run([sys.executable, "-c", _LOAD, str(path), "1" if flash_attn else "0"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    weights = re.search(r"model size:\s+([\d.]+) MiB", run.stderr)
    buffers = re.findall(r"CPU compute buffer size =\s+([\d.]+) MiB", run.stderr)
    assert weights and buffers, run.stderr[-2000:]
    return float(weights.group(1)), [float(b) for b in buffers]


@pytest.mark.parametrize("name", list(TOWERS))
@pytest.mark.parametrize("flash_attn", [True, False])
def test_projector_memory_matches_llama_cpps_log(towers: dict[str, Path], name: str, flash_attn: bool) -> None:
    memory = projector_memory(read_header(towers[name]), flash_attn=flash_attn)
    weights, compute = logged(towers[name], flash_attn)
    assert round(memory.weights / MIB, 2) == weights
    if flash_attn:
        assert round(memory.compute / MIB, 2) == compute
    else:
        assert memory.compute / MIB == pytest.approx(compute, rel=0.02, abs=0.01)
    assert memory.exact_compute  # Gemma 3's tower sees one image of a fixed size


def test_estimate_counts_the_projector(vision_model: VisionGGUFs) -> None:
    plain = run_cli("estimate", str(vision_model.text), "--ctx", "512", "--ngl", "0", "--json")
    both = run_cli("estimate", str(vision_model.text), "--ctx", "512", "--ngl", "0", "--json",
                   "--mmproj", str(vision_model.mmproj))
    assert plain.returncode == 0 and both.returncode == 0, both.stderr
    without, with_projector = json.loads(plain.stdout), json.loads(both.stdout)
    memory = projector_memory(read_header(vision_model.mmproj))
    assert with_projector["projector"]["weights_bytes"] == memory.weights
    assert with_projector["projector"]["device"] == "cpu"
    assert with_projector["ram_bytes"] == without["ram_bytes"] + memory.total
    assert [p["label"] for p in with_projector["breakdown"]][-2:] == ["projector weights", "projector compute"]


def test_a_text_model_is_not_a_projector(vision_model: VisionGGUFs) -> None:
    result = run_cli("estimate", str(vision_model.text), "--mmproj", str(vision_model.text))
    assert result.returncode != 0
    assert "not a multimodal projector" in result.stderr


def test_the_load_panels_verdict_counts_the_projector(vision_model: VisionGGUFs) -> None:
    from app.chat.protocol import EngineSettings
    from app.estimate.hardware import HardwareSpec
    from app.estimate.view import memory_view, read_model_file

    model = read_model_file(vision_model.text)
    plain_settings = EngineSettings(n_ctx=512, n_gpu_layers=0)
    roomy = HardwareSpec(ram_total=2**34, ram_available=2**33)
    need = memory_view(model, plain_settings, roomy).ram_bytes
    projector = projector_memory(read_header(vision_model.mmproj)).total
    tight = HardwareSpec(ram_total=2**34, ram_available=need + projector // 2)
    assert memory_view(model, plain_settings, tight).ok  # the model alone fits
    with_images = memory_view(model, EngineSettings(n_ctx=512, n_gpu_layers=0, mmproj=str(vision_model.mmproj)),
                              tight)
    assert with_images.ram_bytes == need + projector
    assert not with_images.ok and with_images.verdict == "Won't fit"


def test_estimates_verdict_counts_the_projector(vision_model: VisionGGUFs, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """`estimate --mmproj` on a machine with room for the model alone: the verdict says it won't fit."""
    from app.cli import build_parser
    from app.commands import estimate as command
    from app.estimate.hardware import HardwareSpec

    def run(*extra: str, ram: int) -> dict[str, object]:
        monkeypatch.setattr(command, "_hardware", lambda: (HardwareSpec(2**34, ram), "test"))
        args = build_parser("estimate").parse_args(["estimate", str(vision_model.text), "--ctx", "512", "--json",
                                                    *extra])
        assert command.run(args) == 0
        return dict(json.loads(capsys.readouterr().out))

    plain = run(ram=2**33)
    need = int(str(plain["ram_need_bytes"]))
    projector = projector_memory(read_header(vision_model.mmproj)).total
    assert run(ram=need + projector // 2)["verdict"] == "cpu_only"
    tight = run("--mmproj", str(vision_model.mmproj), ram=need + projector // 2)
    assert tight["verdict"] == "wont_fit" and tight["ram_need_bytes"] == need + projector
    assert run("--mmproj", str(vision_model.mmproj), ram=need + projector)["verdict"] == "cpu_only"


GEMMA4_TOWERS = {  # vision tower overrides of tests/support/tiny_vision.py's GEMMA4_VISION (two layers)
    "tiny": {},  # the attention's n × d tensors: one fits the raw image's freed block
    "wide": {"hidden_size": 128, "num_attention_heads": 2, "num_key_value_heads": 2, "head_dim": 64},  # none fits
    "ffn": {"hidden_size": 64, "intermediate_size": 256, "num_attention_heads": 2, "num_key_value_heads": 2,
            "head_dim": 32},  # the FFN's stage is the largest
    "narrow-ffn": {"hidden_size": 128, "intermediate_size": 128, "num_attention_heads": 2,
                   "num_key_value_heads": 2, "head_dim": 64},  # an n × ff tensor reuses the freed n × d block
    "patch-8": {"patch_size": 8, "hidden_size": 192, "intermediate_size": 768, "num_attention_heads": 4,
                "num_key_value_heads": 4, "head_dim": 48},  # d = 3·p², as the published tower's 768 and 16
    "patch-16": {"patch_size": 16, "hidden_size": 96, "intermediate_size": 384, "num_attention_heads": 4,
                 "num_key_value_heads": 4, "head_dim": 24},  # an n × ff tensor in the freed block too
}


@pytest.fixture(scope="module")
def gemma4_towers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from tests.support.tiny_vision import make_tiny_gemma4_vision

    root = tmp_path_factory.mktemp("gemma4-towers")
    return {name: convert_mmproj(make_tiny_gemma4_vision(root / name / "hf", root / name / "text", vision=vision),
                                 root / f"{name}.gguf").path
            for name, vision in GEMMA4_TOWERS.items()}


@pytest.mark.parametrize("name", list(GEMMA4_TOWERS))
@pytest.mark.parametrize("flash_attn", [True, False])
def test_gemma4_projector_memory_matches_llama_cpps_log(gemma4_towers: dict[str, Path], name: str,
                                                        flash_attn: bool) -> None:
    """Gemma 4's tower is reserved for its 16 × 16-token warm-up image (768 pixels a side for 16-pixel patches),
    not the unused image_size; its stages pack into the raw image's freed block as app.estimate.projector
    models: exact to the log's 0.01 MiB."""
    memory = projector_memory(read_header(gemma4_towers[name]), flash_attn=flash_attn)
    weights, compute = logged(gemma4_towers[name], flash_attn)
    assert round(memory.weights / MIB, 2) == weights
    assert round(memory.compute / MIB, 2) == compute
    assert memory.exact_compute and memory.projector_type == "gemma4v"


GEMMA4_AUDIO_TOWERS = {"tiny": {}, "wide": {"hidden_size": 512, "num_hidden_layers": 1, "num_attention_heads": 8}}


@pytest.mark.parametrize("name", list(GEMMA4_AUDIO_TOWERS))
@pytest.mark.parametrize("flash_attn", [True, False])
def test_gemma4_audio_tower_memory_matches_llama_cpps_log(tmp_path: Path, name: str, flash_attn: bool) -> None:
    """Gemma 4's audio tower has its own compute buffer, set by its subsampling convolutions over the warm-up
    clip (the published 128 mel bins and 128 first channels): exact to the log's 0.01 MiB, whatever the
    conformer's width; the vision tower's buffer beside it likewise."""
    from tests.support.tiny_vision import make_tiny_gemma4_vision

    folder = make_tiny_gemma4_vision(tmp_path / "hf", tmp_path / "text", audio=True,
                                     audio_sizes=GEMMA4_AUDIO_TOWERS[name])
    path = convert_mmproj(folder, tmp_path / "mmproj.gguf").path
    memory = projector_memory(read_header(path), flash_attn=flash_attn)
    weights, (vision, audio) = logged_buffers(path, flash_attn)
    assert round(memory.weights / MIB, 2) == weights
    assert round(memory.audio_compute / MIB, 2) == audio
    assert round((memory.compute - memory.audio_compute) / MIB, 2) == vision
    assert memory.exact_compute
