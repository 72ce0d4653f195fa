"""A tiny Gemma 3 vision model converted by llama.cpp's converter: the text GGUF with its mmproj beside it,
as a library folder holds them, and a projector made for another model (a different embedding width)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.tiny_vision import VisionGGUFs, tiny_gemma3_vision_ggufs, tiny_qwen25_vl_ggufs, vision_library


@pytest.fixture(scope="session")
def vision_model(tmp_path_factory: pytest.TempPathFactory, llama_cpp_sources: Path) -> VisionGGUFs:
    return vision_library(tmp_path_factory.mktemp("vision"), llama_cpp_sources)


@pytest.fixture(scope="session")
def wrong_projector(tmp_path_factory: pytest.TempPathFactory, llama_cpp_sources: Path) -> Path:
    """The projector of a model whose embeddings are 128 wide (the vision model's are 256)."""
    other = tiny_gemma3_vision_ggufs(tmp_path_factory.mktemp("vision-other"), llama_cpp_sources,
                                     sizes={"hidden_size": 128, "intermediate_size": 256})
    return other.mmproj



@pytest.fixture(scope="session")
def qwen_vl_model(tmp_path_factory: pytest.TempPathFactory, llama_cpp_sources: Path) -> VisionGGUFs:
    """A tiny Qwen2.5-VL (M-RoPE positions, a merger projector) converted by llama.cpp's converter."""
    return tiny_qwen25_vl_ggufs(tmp_path_factory.mktemp("qwen-vl"), llama_cpp_sources)


@pytest.fixture(scope="session")
def audio_model(tmp_path_factory: pytest.TempPathFactory, llama_cpp_sources: Path) -> VisionGGUFs:
    """A tiny Qwen2-Audio (Whisper encoder, llama.cpp's qwen2a projector) converted by llama.cpp's converter."""
    from tests.support.tiny_vision import audio_library

    return audio_library(tmp_path_factory.mktemp("audio"), llama_cpp_sources)
