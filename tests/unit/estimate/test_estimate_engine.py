"""The one mapping from the engine's settings to the memory model's load settings."""

from __future__ import annotations

import dataclasses

from app.chat.protocol import EngineSettings
from app.core.settings import Preferences
from app.estimate import FlashAttn, LoadSettings
from app.estimate.engine import OUTPUTS_MAX, engine_load_settings, engine_settings, llama_server_load_settings


def test_engine_settings_map_to_what_the_engine_gives_llama_cpp() -> None:
    engine = EngineSettings(
        n_ctx=8192, n_gpu_layers=7, type_k="q8_0", type_v="q8_0", flash_attn="on", n_batch=256, use_mmap=False
    )
    load = engine_load_settings(engine)
    assert load == LoadSettings(
        n_ctx=8192,
        n_gpu_layers=7,
        type_k="q8_0",
        type_v="q8_0",
        flash_attn=FlashAttn.ON,
        n_batch=256,
        n_ubatch=256,
        swa_full=False,
        mmap=False,
        n_seq_max=1,
        kv_unified=False,
        offload_kqv=True,
        n_outputs_max=1,
    )
    assert OUTPUTS_MAX == 1


def test_threads_do_not_change_the_load_settings() -> None:
    assert engine_load_settings(EngineSettings(n_threads=3)) == engine_load_settings(EngineSettings(n_threads=9))


def test_llama_server_keeps_its_own_defaults() -> None:
    engine = EngineSettings(n_ctx=4096, type_k="q8_0", type_v="q8_0")
    server = llama_server_load_settings(engine)
    assert (server.n_batch, server.n_ubatch, server.n_outputs_max) == (2048, 512, 0)
    assert (server.n_seq_max, server.kv_unified) == (4, True)
    assert dataclasses.replace(server, n_batch=512, n_ubatch=512, n_outputs_max=1, n_seq_max=1, kv_unified=False) == (
        engine_load_settings(engine)
    )


def test_threads_and_default_context_come_from_the_settings_store() -> None:
    prefs = Preferences(threads=6, default_context=16384)
    settings = engine_settings(prefs, type_k="q8_0")
    assert (settings.n_threads, settings.n_ctx, settings.type_k) == (6, 16384, "q8_0")
    assert engine_settings(prefs, n_ctx=2048).n_ctx == 2048
    assert engine_settings().n_ctx == Preferences().default_context
