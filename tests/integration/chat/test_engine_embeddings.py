"""The engine's embeddings mode on real llama.cpp: a tiny GGUF whose header declares mean pooling, and the
real Gemma 270M with pooling chosen at load (its header declares none)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.chat import protocol as p
from app.chat.engine_core import Engine
from app.core.errors import EngineError
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf

pytestmark = pytest.mark.slow

EMBED = p.EngineSettings(n_ctx=256, n_threads=2, n_batch=64, embeddings=True)


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_a_pooled_tiny_gguf_embeds(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "emb.gguf", TinySpec(n_vocab=600, extra_metadata=(("llama.pooling_type", 1),)))
    engine = Engine()
    try:
        engine.load(str(path), EMBED)
        vectors, tokens = engine.embed(["hello world", "the model"])
        assert len(vectors) == 2 and {len(v) for v in vectors} == {64} and tokens > 2
        assert all(abs(_dot(v, v) - 1.0) < 1e-4 for v in vectors)  # L2-normalised, as OpenAI's are
        again, _ = engine.embed(["hello world"])
        assert again[0] == vectors[0]  # no state carries over between inputs
    finally:
        engine.close()


def test_gemma_embeds_with_mean_pooling_and_refuses_without(gemma_model: Path) -> None:
    engine = Engine()
    try:
        engine.load(str(gemma_model), p.EngineSettings(n_ctx=256, n_threads=2, n_batch=64, embeddings=True,
                                                       pooling="mean"))
        (cat, kitten, stocks), _ = engine.embed(["The cat sat on the mat.", "A cat is sitting on a mat.",
                                                 "Stock prices fell sharply today."])
        assert _dot(cat, kitten) > _dot(cat, stocks)
        engine.load(str(gemma_model), p.EngineSettings(n_ctx=256, n_threads=2, n_batch=64, embeddings=True))
        with pytest.raises(EngineError, match="pooling type is none"):
            engine.embed(["x"])
        engine.load(str(gemma_model), p.EngineSettings(n_ctx=256, n_threads=2, n_batch=64))
        with pytest.raises(EngineError, match="loaded for chat"):
            engine.embed(["x"])
    finally:
        engine.close()
