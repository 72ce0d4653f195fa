"""Quantized K caches of Qwen4-Exp against the real engine. Its sparse-attention indexer keeps one key per
cell in a cache of the K type (llama_memory_hybrid_idx), with or without flash attention; llama_init_from_model
checks only the attention heads, so an indexer key that is not a whole number of blocks makes ggml abort the
engine process. The estimate refuses that combination with the reason, the engine refuses it before llama.cpp
is asked, and both allow (and the estimate sizes exactly) the one that works."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.chat import protocol as p
from app.chat.client import EngineClient
from app.core.errors import EngineError, EstimateError
from app.estimate.shape import shape_from_header
from app.estimate.view import engine_estimate
from app.gguf import read_model
from app.gguf.synthetic_arch import DEFAULT_SPECS, write_arch_gguf
from tests.integration.estimate.llama_log import (
    RelayedLines,
    expected_kv,
    logged_engine,
    mib_float32,
    parse,
)

pytestmark = pytest.mark.slow

QUANTIZED_K = [
    p.EngineSettings(n_ctx=1024, n_batch=64, type_k="q8_0", type_v="q8_0"),
    p.EngineSettings(n_ctx=1024, n_batch=64, type_k="q4_0", type_v="f16", flash_attn="off"),
]


@pytest.fixture
def engine() -> Iterator[tuple[EngineClient, RelayedLines]]:
    with logged_engine() as engine_and_log:
        yield engine_and_log


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """Attention heads of 32 values (a whole q8_0/q4_0 block), indexer keys of 48 or 64 values."""
    root = tmp_path_factory.mktemp("qwen4exp-idx")
    spec = DEFAULT_SPECS["qwen4exp"].with_(head_dim=32)
    return {n: write_arch_gguf(root / f"idx{n}.gguf", spec.with_(indexer_head=n)) for n in (48, 64)}


@pytest.mark.parametrize("settings", QUANTIZED_K, ids=["q8_0-auto", "q4_0-fa-off"])
def test_an_indexer_key_of_partial_blocks_is_refused_as_llama_cpp_fails_it(
    engine: tuple[EngineClient, RelayedLines], models: dict[int, Path], settings: p.EngineSettings
) -> None:
    shape = shape_from_header(read_model(models[48]))
    with pytest.raises(EstimateError, match="indexer keys of a multiple of 32 values; this model's are 48") as caught:
        engine_estimate(shape, settings, None)
    assert caught.value.hint == "choose an f16 K cache for this model"

    client, _ = engine  # llama.cpp itself would abort the engine process (GGML_ASSERT in ggml_view)
    with pytest.raises(EngineError, match="indexer keys of a multiple of 32 values; this model's are 48"):
        client.load(str(models[48]), settings)
    assert client.crashed is None  # refused before llama.cpp is asked: the engine goes on
    client.load(str(models[64]), settings)


@pytest.mark.parametrize("settings", QUANTIZED_K, ids=["q8_0-auto", "q4_0-fa-off"])
def test_whole_blocks_load_answer_and_allocate_the_estimate(
    engine: tuple[EngineClient, RelayedLines], models: dict[int, Path], settings: p.EngineSettings
) -> None:
    client, handler = engine
    handler.lines.clear()
    client.load(str(models[64]), settings)
    log = parse("\n".join(handler.lines) + "\n")
    shape = shape_from_header(read_model(models[64]))
    caches = expected_kv(engine_estimate(shape, settings, None), shape.has_swa)  # attention, then indexer
    assert len(caches) == 2 and caches[1][2] > 0
    assert [(x.cells, x.layers) for x in log.kv] == [(cells, n) for cells, n, _, _ in caches]
    for logged, (_, _, k, v) in zip(log.kv, caches, strict=True):
        assert (logged.k_mib, logged.v_mib, logged.size_mib) == (mib_float32(k), mib_float32(v), mib_float32(k + v))
    done = client.generate(prompt="w1 w2 w3 w4 w5 w6", template="raw", sampling=p.Sampling(max_tokens=3))
    assert done.stats.prompt_evaluated > 1 and done.stats.generated_tokens > 0
