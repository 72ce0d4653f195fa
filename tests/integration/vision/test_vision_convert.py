"""Our `--mmproj` conversion of a tiny Gemma 3 vision checkpoint equals llama.cpp's converter's, byte for byte,
for every output type; a checkpoint without a vision tower is a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.convert.mmproj import convert_mmproj
from app.core.errors import ConvertError
from tests.support.reference_convert import ReferenceJob, differences, read_gguf, reference_outputs
from tests.support.tiny_hf import make_tiny_hf
from tests.support.tiny_vision import VisionGGUFs, make_tiny_gemma4_vision

OUT_TYPES = ("f16", "f32", "q8_0", "bf16")


@pytest.fixture(scope="module")
def references(vision_model: VisionGGUFs, llama_cpp_sources: Path) -> dict[str, Path]:
    jobs = [ReferenceJob(vision_model.checkpoint, outtype, None, ("--mmproj",)) for outtype in OUT_TYPES]
    results = reference_outputs(jobs, llama_cpp_sources)
    paths = {}
    for outtype, result in zip(OUT_TYPES, results, strict=True):
        assert result.path is not None, result.error
        paths[outtype] = result.path
    return paths


@pytest.mark.parametrize("outtype", OUT_TYPES)
def test_our_projector_equals_llama_cpps(vision_model: VisionGGUFs, references: dict[str, Path], tmp_path: Path,
                                         outtype: str) -> None:
    ours = convert_mmproj(vision_model.checkpoint, tmp_path / f"mmproj-{outtype}.gguf", outtype)
    assert differences(ours.path, references[outtype]) == []
    assert ours.path.read_bytes() == references[outtype].read_bytes()


def test_the_projector_keeps_its_sensitive_tensors_in_float(vision_model: VisionGGUFs, tmp_path: Path) -> None:
    ours = convert_mmproj(vision_model.checkpoint, tmp_path / "q8.gguf", "q8_0")
    types = {name: kind for name, _shape, kind, _data in read_gguf(ours.path).tensors}
    assert types["mm.input_projection.weight"] == "F16"
    assert types["v.patch_embd.weight"] == types["v.position_embd.weight"] == "F32"
    assert types["v.blk.0.attn_q.weight"] == "Q8_0"


def test_a_text_only_checkpoint_has_no_projector(tmp_path: Path) -> None:
    folder = make_tiny_hf(tmp_path / "llama", "llama3")
    with pytest.raises(ConvertError, match="no vision projector") as caught:
        convert_mmproj(folder)
    assert "Gemma3ForConditionalGeneration" in caught.value.hint


def test_convert_mmproj_on_the_command_line(vision_model: VisionGGUFs, references: dict[str, Path],
                                            tmp_path: Path) -> None:
    from tests.support.cli import run_cli

    out = tmp_path / "cli-mmproj.gguf"
    result = run_cli("convert", str(vision_model.checkpoint), "--mmproj", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    assert out.read_bytes() == references["f16"].read_bytes()


@pytest.mark.parametrize("outtype", ["f16", "q8_0", "f32"])
def test_our_qwen25_vl_projector_equals_llama_cpps(qwen_vl_model: VisionGGUFs, llama_cpp_sources: Path,
                                                   tmp_path: Path, outtype: str) -> None:
    """Qwen2.5-VL: the fused QKV split in three, the two-frame patch kernel in two, the window pattern."""
    (reference,) = reference_outputs([ReferenceJob(qwen_vl_model.checkpoint, outtype, None, ("--mmproj",))],
                                     llama_cpp_sources)
    assert reference.path is not None, reference.error
    ours = convert_mmproj(qwen_vl_model.checkpoint, tmp_path / f"qwen-{outtype}.gguf", outtype)
    assert differences(ours.path, reference.path) == []
    assert ours.path.read_bytes() == reference.path.read_bytes()


@pytest.mark.parametrize("family", ["qwen2-vl", "qwen3-vl"])
def test_our_qwen2_and_qwen3_vl_projectors_equal_llama_cpps(llama_cpp_sources: Path, tmp_path: Path,
                                                             family: str) -> None:
    """Qwen2-VL (embed_dim naming); Qwen3-VL (DeepStack mergers renamed by the layer they read, the merger as
    mm.0/mm.2, a learned position table)."""
    from tests.support.tiny_vision import make_tiny_qwen2_vl, make_tiny_qwen3_vl

    make = make_tiny_qwen2_vl if family == "qwen2-vl" else make_tiny_qwen3_vl
    folder = make(tmp_path / family)
    (reference,) = reference_outputs([ReferenceJob(folder, "f16", None, ("--mmproj",))], llama_cpp_sources)
    assert reference.path is not None, reference.error
    ours = convert_mmproj(folder, tmp_path / f"{family}-mmproj.gguf")
    assert differences(ours.path, reference.path) == []
    assert ours.path.read_bytes() == reference.path.read_bytes()
    if family == "qwen3-vl":
        assert read_gguf(ours.path).metadata["clip.vision.is_deepstack_layers"] == [False, True, True, False]


@pytest.fixture(scope="module")
def gemma4_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("gemma4-vision")
    return {kind: make_tiny_gemma4_vision(root / kind / "hf", root / kind / "text", audio=kind == "vision+audio")
            for kind in ("vision", "vision+audio")}


@pytest.mark.parametrize("kind", ["vision", "vision+audio"])
@pytest.mark.parametrize("outtype", ["f16", "q8_0", "f32"])
def test_our_gemma4_projector_equals_llama_cpps(gemma4_checkpoints: dict[str, Path], llama_cpp_sources: Path,
                                                tmp_path: Path, outtype: str, kind: str) -> None:
    """Gemma 4: the encoder renamed, the flattened patch kernel folded back to 3 × p × p, the 2-D position
    table kept in F32, the projector type under clip.vision; with the audio tower, the conformer renamed, its
    per-dimension scales through softplus, its depthwise kernels flattened, its clipped linears' bounds as
    one-value tensors and its convolutions in F32, both towers in one file."""
    folder = gemma4_checkpoints[kind]
    (reference,) = reference_outputs([ReferenceJob(folder, outtype, None, ("--mmproj",))], llama_cpp_sources)
    assert reference.path is not None, reference.error
    ours = convert_mmproj(folder, tmp_path / f"gemma4-{outtype}.gguf", outtype)
    assert differences(ours.path, reference.path) == []  # the softplus scales: within one unit in the last place
    if kind == "vision":
        assert ours.path.read_bytes() == reference.path.read_bytes()


def test_a_retyped_projector_equals_llama_cpps_q8_0_byte_for_byte(vision_model: VisionGGUFs,
                                                                   references: dict[str, Path],
                                                                   tmp_path: Path) -> None:
    """Re-typing (what Quantize does to a projector beside a GGUF) types each tensor as a conversion would and
    keeps the keys in a conversion's order: from the F32 projector the Q8_0 one is the reference's own."""
    from app.convert.mmproj import retype_mmproj

    retyped = retype_mmproj(references["f32"], tmp_path / "retyped-q8_0.gguf", "q8_0").path
    assert retyped.read_bytes() == references["q8_0"].read_bytes()


@pytest.mark.parametrize("kind", ["vision", "vision+audio"])
def test_a_retyped_gemma4_projector_equals_llama_cpps_q8_0(gemma4_checkpoints: dict[str, Path],
                                                           llama_cpp_sources: Path, tmp_path: Path,
                                                           kind: str) -> None:
    """Gemma 4 follows the same rule, both towers: the audio convolutions, the subsampler's input projection and
    the position table stay F32, the matrices become Q8_0. From the reference's F32 file the result is its
    Q8_0 file byte for byte; from its F16 file only the Q8_0 blocks differ (they quantize F16-rounded values)."""
    from app.convert.mmproj import retype_mmproj

    folder = gemma4_checkpoints[kind]
    f32, f16, q8 = reference_outputs([ReferenceJob(folder, outtype, None, ("--mmproj",))
                                      for outtype in ("f32", "f16", "q8_0")], llama_cpp_sources)
    assert f32.path is not None and f16.path is not None and q8.path is not None, f32.error or f16.error or q8.error
    retyped = retype_mmproj(f32.path, tmp_path / "from-f32.gguf", "q8_0").path
    assert retyped.read_bytes() == q8.path.read_bytes()

    from_f16 = read_gguf(retype_mmproj(f16.path, tmp_path / "from-f16.gguf", "q8_0").path)
    reference = read_gguf(q8.path)
    assert from_f16.metadata == reference.metadata
    assert [t[:3] for t in from_f16.tensors] == [t[:3] for t in reference.tensors]
    types = {name: kind for name, _shape, kind, _data in reference.tensors}
    assert types["v.position_embd.weight"] == types["v.patch_embd.weight"] == "F32"
    if kind == "vision+audio":
        assert types["a.conv1d.0.weight"] == types["a.input_projection.weight"] == "F32"
        assert types["a.blk.0.conv_dw.weight"] == "F32" and types["a.blk.0.attn_q.weight"] == "Q8_0"


def test_a_projector_whose_type_rules_we_do_not_know_is_not_retyped(audio_model: VisionGGUFs,
                                                                   tmp_path: Path) -> None:
    from app.convert.mmproj import can_retype, retype_mmproj

    assert can_retype("gemma4v", audio=True) and can_retype("gemma3", audio=False)
    assert not can_retype("gemma3", audio=True) and not can_retype("qwen2a", audio=True)
    with pytest.raises(ConvertError, match="cannot be re-typed"):
        retype_mmproj(audio_model.mmproj, tmp_path / "audio-q8_0.gguf", "q8_0")


def test_a_tower_we_cannot_convert_is_refused(vision_model: VisionGGUFs, tmp_path: Path) -> None:
    """llama.cpp's converter would write an audio tower into the same projector: a vision-only file would differ."""
    import json
    import shutil

    folder = Path(shutil.copytree(vision_model.checkpoint, tmp_path / "hf"))
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    (folder / "config.json").write_text(json.dumps({**config, "audio_config": {"hidden_size": 32}}), encoding="utf-8")
    with pytest.raises(ConvertError, match="has an audio tower"):
        convert_mmproj(folder)
