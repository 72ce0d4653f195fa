"""The projector Discover downloads with a quant: the smallest precise one (F16, BF16, Q8_0), else the smallest."""

from __future__ import annotations

from app.hub.grouping import group_files
from app.hub.models import RepoFile
from app.hub.projector import default_projector


def projectors(*files: tuple[str, int]) -> tuple:
    _quants, mmproj, _imatrix, _other = group_files([RepoFile(name, size, None) for name, size in files])
    return mmproj


def test_the_smallest_precise_projector_is_chosen() -> None:
    found = projectors(("mmproj-model-F32.gguf", 1600), ("mmproj-model-F16.gguf", 800),
                       ("mmproj-model-Q8_0.gguf", 430), ("mmproj-model-Q4_K_M.gguf", 250), ("model-Q4_K_M.gguf", 9))
    chosen = default_projector(found)
    assert chosen is not None and chosen.first.name == "mmproj-model-Q8_0.gguf"


def test_without_a_precise_one_the_smallest_goes_and_none_without_any() -> None:
    found = projectors(("mmproj-model-F32.gguf", 1600), ("mmproj-model-Q4_K_M.gguf", 250))
    chosen = default_projector(found)
    assert chosen is not None and chosen.first.name == "mmproj-model-Q4_K_M.gguf"
    assert default_projector(projectors(("model-Q4_K_M.gguf", 9))) is None
