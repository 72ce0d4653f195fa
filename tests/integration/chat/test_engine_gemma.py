"""The engine core in-process on the real Gemma 3 270M (262k vocabulary, sliding-window layers)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.chat.engine_core import Engine
from app.chat.protocol import EngineSettings, Sampling
from app.core.errors import Cancelled, ContextFullError, EngineError

pytestmark = pytest.mark.slow

SETTINGS = EngineSettings(n_ctx=1024, n_threads=2, n_batch=256)
GREEDY = Sampling(temperature=0, max_tokens=16)


@pytest.fixture(scope="module")
def engine(gemma_model: Path) -> Iterator[Engine]:
    eng = Engine()
    eng.load(str(gemma_model), SETTINGS)
    yield eng
    eng.close()


def prompt(engine: Engine, text: str) -> list[int]:
    return engine.tokenize(text, add_special=True)


def test_model_info(engine: Engine) -> None:
    info = engine.info
    assert info is not None
    assert info.n_ctx == 1024 and info.n_ctx_train == 32768
    assert info.n_layer == 18 and info.n_vocab == 262144
    assert info.n_swa > 0  # Gemma 3 has sliding-window layers
    assert info.chat_template is None  # the base model carries none
    assert info.bos_text == "<bos>" and info.add_bos


def test_stream_pieces_make_the_text(engine: Engine) -> None:
    pieces: list[str] = []
    result = engine.generate(prompt(engine, "The capital of France is"), GREEDY, pieces.append)
    assert result.finish_reason == "length"
    assert "".join(pieces) == result.text and result.text.strip()
    assert result.stats.generated_tokens == 16
    assert result.stats.tokens_per_second > 0 and result.stats.ttft_seconds > 0


def test_greedy_is_deterministic_and_seeded_sampling_repeats(engine: Engine) -> None:
    tokens = prompt(engine, "Once upon a time")
    assert engine.generate(tokens, GREEDY).text == engine.generate(tokens, GREEDY).text
    seeded = Sampling(temperature=1.0, top_k=40, top_p=0.9, min_p=0.0, seed=7, max_tokens=12,
                      repeat_penalty=1.1, frequency_penalty=0.1, presence_penalty=0.1)
    assert engine.generate(tokens, seeded).text == engine.generate(tokens, seeded).text


def test_multi_turn_evaluates_only_new_tokens(engine: Engine) -> None:
    first = prompt(engine, "Question: what is the largest planet?\nAnswer:")
    r1 = engine.generate(first, GREEDY)
    cached = engine.cached_tokens
    follow = engine.tokenize("\nQuestion: and the smallest?\nAnswer:", add_special=False)
    second = first + list(r1.tokens) + follow
    r2 = engine.generate(second, GREEDY)
    assert r2.stats.prompt_tokens == len(second)
    assert r2.stats.prompt_evaluated == len(second) - cached  # only what the cache did not hold
    assert r2.stats.prompt_evaluated <= len(follow) + 1


def test_regenerate_reuses_the_prompt(engine: Engine) -> None:
    tokens = prompt(engine, "Write a list of three fruits:")
    engine.generate(tokens, GREEDY)
    again = engine.generate(tokens, Sampling(temperature=0.9, seed=3, max_tokens=8))
    assert again.stats.prompt_evaluated == 1  # the last prompt token is evaluated again for its logits


def test_cache_reuse_gives_the_same_answer_as_a_fresh_evaluation(engine: Engine) -> None:
    base = prompt(engine, "Alice has three apples. Bob has two. Together they have")
    engine.generate(base + engine.tokenize(" many", add_special=False), GREEDY)
    reused = engine.generate(base, GREEDY)
    assert reused.stats.prompt_evaluated < len(base)
    engine.reset_cache()
    fresh = engine.generate(base, GREEDY)
    assert fresh.stats.prompt_evaluated == len(base)
    assert reused.tokens[:8] == fresh.tokens[:8]


def test_sliding_window_rollback_falls_back_to_full_evaluation(engine: Engine) -> None:
    info = engine.info
    assert info is not None
    long_text = " ".join(["apple", "river", "stone", "cloud"] * 240)
    tokens = prompt(engine, long_text)[:1000]
    engine.generate(tokens, Sampling(temperature=0, max_tokens=4))
    assert engine.cache_pos_min > 0  # the SWA cache has let the oldest positions go
    # Appending is cheap even past the window...
    longer = tokens + engine.tokenize(" more", add_special=False)
    assert engine.generate(longer, Sampling(temperature=0, max_tokens=4)).stats.prompt_evaluated <= 8
    # ...but going back further than the window kept by the SWA cache needs a full evaluation.
    early = tokens[:40]
    result = engine.generate(early, Sampling(temperature=0, max_tokens=4))
    assert result.stats.prompt_evaluated == len(early)


def test_stop_strings_are_cut_and_held_back(engine: Engine) -> None:
    tokens = prompt(engine, "Count: one, two, three,")
    full = engine.generate(tokens, Sampling(temperature=0, max_tokens=24))
    assert len(full.text) > 8
    stop = full.text[4:7]
    pieces: list[str] = []
    cut = engine.generate(tokens, Sampling(temperature=0, max_tokens=24, stop=(stop,)), pieces.append)
    assert cut.finish_reason == "stop_string"
    assert cut.text == full.text[: full.text.index(stop)]
    assert "".join(pieces) == cut.text


def test_stop_event_ends_generation(engine: Engine) -> None:
    tokens = prompt(engine, "Tell me a very long story about dragons.")
    seen = 0

    def on_text(_text: str) -> None:
        nonlocal seen
        seen += 1
        if seen == 3:
            threading.Timer(0.0, engine.stop_event.set).start()

    engine.stop_event.clear()
    result = engine.generate(tokens, Sampling(temperature=0.8, seed=1, max_tokens=400), on_text)
    engine.stop_event.clear()
    assert result.finish_reason == "stopped"
    assert result.stats.generated_tokens < 400


def test_generation_ends_at_a_full_context(engine: Engine) -> None:
    tokens = prompt(engine, " ".join(["word"] * 1000))[: 1024 - 5]
    result = engine.generate(tokens, Sampling(temperature=0, max_tokens=100))
    assert result.finish_reason == "context_full"
    with pytest.raises(ContextFullError):
        engine.generate(prompt(engine, " ".join(["word"] * 1100)), GREEDY)


def test_utf8_output_is_never_broken(engine: Engine) -> None:
    pieces: list[str] = []
    engine.generate(prompt(engine, "日本の首都は"), Sampling(temperature=0, max_tokens=24), pieces.append)
    assert all("\ufffd" not in piece for piece in pieces)


def test_load_errors(tmp_path: Path) -> None:
    eng = Engine()
    with pytest.raises(EngineError, match="not found"):
        eng.load(str(tmp_path / "missing.gguf"), SETTINGS)
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(EngineError):
        eng.load(str(junk), SETTINGS)
    with pytest.raises(EngineError, match="flash attention"):
        eng.load(str(junk), EngineSettings(type_v="q8_0", flash_attn="off"))


def test_load_can_be_cancelled(gemma_model: Path) -> None:
    eng = Engine()
    with pytest.raises(Cancelled):
        eng.load(str(gemma_model), SETTINGS, lambda fraction: eng.stop_event.set())
    assert not eng.loaded


def test_stop_during_prompt_evaluation_keeps_the_cache_consistent(engine: Engine) -> None:
    tokens = prompt(engine, " ".join(["alpha", "beta", "gamma", "delta"] * 240))[:1000]
    engine.reset_cache()
    timer = threading.Timer(0.05, engine.stop_event.set)
    timer.start()
    stopped = engine.generate(tokens, GREEDY)
    timer.join()
    engine.stop_event.clear()
    assert stopped.finish_reason == "stopped" and stopped.tokens == ()
    kept = engine.cached_tokens
    assert kept < len(tokens)
    # What the aborted evaluation left in the cache is reused, and the answer is the one a fresh run gives.
    resumed = engine.generate(tokens, GREEDY)
    assert resumed.stats.prompt_evaluated == len(tokens) - kept
    engine.reset_cache()
    fresh = engine.generate(tokens, GREEDY)
    assert resumed.tokens[:4] == fresh.tokens[:4]
