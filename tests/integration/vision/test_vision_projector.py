"""Which projector goes with a model: the mmproj beside it whose embeddings fit, F16 first, then Q8_0."""

from __future__ import annotations

import shutil
from pathlib import Path

from app.chat.projector import projector_for, projectors_beside
from app.convert.mmproj import convert_mmproj
from tests.support.tiny_vision import VisionGGUFs


def test_the_fitting_projector_beside_the_model_is_chosen(vision_model: VisionGGUFs, wrong_projector: Path,
                                                          tmp_path: Path) -> None:
    folder = tmp_path / "repo"
    folder.mkdir()
    model = folder / "model-Q8_0.gguf"
    shutil.copyfile(vision_model.text, model)
    shutil.copyfile(wrong_projector, folder / "mmproj-other-model-F16.gguf")
    assert projector_for(model) == ""  # made for a 128-wide model: never paired

    q8 = convert_mmproj(vision_model.checkpoint, folder / "mmproj-model-Q8_0.gguf", "q8_0").path
    assert projector_for(model) == str(q8)
    f16 = folder / "mmproj-model-F16.gguf"
    shutil.copyfile(vision_model.mmproj, f16)
    f32 = convert_mmproj(vision_model.checkpoint, folder / "mmproj-model-F32.gguf", "f32").path
    assert [Path(p.path).name for p in projectors_beside(model)] == [f16.name, q8.name, f32.name]
    assert projector_for(model) == str(f16)
    (folder / "mmproj-broken.gguf").write_bytes(b"GGUF broken")
    assert projector_for(model) == str(f16)  # an unreadable file is passed over
