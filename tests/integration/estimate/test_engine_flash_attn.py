"""A model llama.cpp cannot run with flash attention (PLM: its graph aborts the process when a ubatch of
more than one token is stored with the flash-attention cache layout) loads and answers in our engine
whatever the flash-attention setting, and the estimate fed the same settings is what the engine allocates.
app.estimate.flash names such architectures; tests/unit/estimate/test_estimate_flash.py covers the rest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.chat import protocol as p
from app.chat.client import EngineClient
from app.core.errors import EngineError
from app.estimate import HardwareSpec
from app.estimate.hardware import probe_spec
from app.estimate.shape import shape_from_header
from app.estimate.view import engine_estimate
from app.gguf import read_model
from app.gguf.synthetic_arch import TRANSFORMER_SPECS, write_arch_gguf
from tests.integration.estimate.llama_log import RelayedLines, logged_engine
from tests.integration.estimate.test_engine_buffers import compare, context_params, engine_log

pytestmark = pytest.mark.slow


@pytest.fixture
def plm_engine() -> Iterator[tuple[EngineClient, RelayedLines]]:
    """Its own engine process: before the fix, each load here killed it."""
    with logged_engine() as engine_and_log:
        yield engine_and_log


@pytest.fixture(scope="module")
def plm_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_arch_gguf(tmp_path_factory.mktemp("plm") / "plm.gguf", TRANSFORMER_SPECS["plm"])


@pytest.mark.parametrize("flash_attn", ["auto", "on"])
def test_plm_loads_answers_and_allocates_the_estimate(
    plm_engine: tuple[EngineClient, RelayedLines], plm_model: Path, flash_attn: str
) -> None:
    settings = p.EngineSettings(n_ctx=2048, n_batch=64, flash_attn=flash_attn)
    log = engine_log(plm_engine, plm_model, settings)
    assert context_params(log)["flash_attn"] == "disabled"
    machine: HardwareSpec = probe_spec()
    compare(log, engine_estimate(shape_from_header(read_model(plm_model)), settings, machine))

    client, _ = plm_engine
    client.load(str(plm_model), settings)
    done = client.generate(prompt="w1 w2 w3 w4 w5 w6 w7 w8", template="raw",
                           sampling=p.Sampling(max_tokens=4, temperature=0.0))
    assert done.stats.prompt_evaluated > 1 and done.stats.generated_tokens > 0


def test_plm_with_a_quantized_v_cache_is_refused_with_the_reason(
    plm_engine: tuple[EngineClient, RelayedLines], plm_model: Path
) -> None:
    client, _ = plm_engine
    settings = p.EngineSettings(n_ctx=2048, type_k="q8_0", type_v="q8_0", flash_attn="auto")
    with pytest.raises(EngineError, match="needs flash attention, which plm models cannot use"):
        client.load(str(plm_model), settings)
    assert client.crashed is None  # refused by the engine, which goes on
