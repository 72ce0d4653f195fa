"""Images through the engine: a tiny Gemma 3 vision model with its projector, evaluated by llama.cpp's mtmd."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from app.chat import mtmd, prompting
from app.chat import protocol as p
from app.chat.engine_core import Engine, Generation
from app.core.errors import EngineError, MediaError
from tests.support.tiny_vision import VisionGGUFs, image_bytes

GREEDY = p.Sampling(temperature=0.0, max_tokens=6)


def settings(mmproj: str = "") -> p.EngineSettings:
    return p.EngineSettings(n_ctx=512, n_threads=2, n_batch=128, mmproj=mmproj)


def image(data: bytes) -> p.MediaPart:
    return p.MediaPart("image", data, "image/png")


def ask(engine: Engine, messages: tuple[p.ChatMessage, ...]) -> tuple[Generation, prompting.Prompt]:
    """What the engine process does with a Generate request (app.workers.chat_engine)."""
    assert engine.info is not None
    media = mtmd.tokenizer_for(engine, messages)
    prompt = prompting.build(p.Generate(1, messages, sampling=GREEDY), engine.info,
                             media or (lambda text, add: engine.tokenize(text, add_special=add)))
    try:
        return engine.generate(prompt.tokens, GREEDY, media=media.prompt if media else None), prompt
    finally:
        if media:
            media.close()


@pytest.fixture(scope="module")
def engine(vision_model: VisionGGUFs) -> Iterator[Engine]:
    eng = Engine()
    eng.load(str(vision_model.text), settings(str(vision_model.mmproj)))
    yield eng
    eng.close()


def first_turn(data: bytes) -> tuple[p.ChatMessage, ...]:
    return (p.ChatMessage("user", "What colour is this?", media=(image(data),)),)


def test_image_message_runs_and_counts_the_tokens_mtmd_reports(engine: Engine, vision_model: VisionGGUFs) -> None:
    assert engine.info is not None and engine.info.vision and not engine.info.audio
    config = json.loads((vision_model.checkpoint / "config.json").read_text(encoding="utf-8"))
    messages = first_turn(image_bytes())
    media = mtmd.tokenizer_for(engine, messages)
    assert media is not None
    prompt = prompting.build(p.Generate(1, messages), engine.info, media)
    assert media.prompt is not None
    chunks = media.prompt._chunks
    M = engine.projector.M
    n_image = [M.mtmd_input_chunk_get_n_tokens(M.mtmd_input_chunks_get(chunks, i))
               for i in range(M.mtmd_input_chunks_size(chunks))
               if M.mtmd_input_chunk_get_type(M.mtmd_input_chunks_get(chunks, i)) == M.MTMD_INPUT_CHUNK_TYPE_IMAGE]
    assert n_image == [config["mm_tokens_per_image"]]  # the checkpoint's own count, as mtmd computes it
    assert len(prompt.tokens) == M.mtmd_helper_get_n_tokens(chunks)
    media.close()

    engine.reset_cache()
    result, prompt = ask(engine, messages)
    assert result.stats.media_tokens == config["mm_tokens_per_image"]
    assert result.stats.prompt_tokens == len(prompt.tokens)
    assert result.stats.prompt_evaluated == len(prompt.tokens)
    assert result.finish_reason in ("length", "eog") and result.stats.generated_tokens > 0


def logits_after(engine: Engine, messages: tuple[p.ChatMessage, ...]) -> list[float]:
    """The next-token logits at the end of the prompt (a one-token reply leaves them in the context)."""
    assert engine.info is not None
    media = mtmd.tokenizer_for(engine, messages)
    prompt = prompting.build(p.Generate(1, messages), engine.info,
                             media or (lambda text, add: engine.tokenize(text, add_special=add)))
    one = p.Sampling(temperature=0.0, max_tokens=1)
    engine.generate(prompt.tokens, one, media=media.prompt if media else None)
    row = engine.L.llama_get_logits_ith(engine._ctx, -1)
    return [row[i] for i in range(engine.info.n_vocab)]


def test_the_image_reaches_the_model(engine: Engine) -> None:
    """A different image, otherwise the same prompt: different logits; the same image again: the same."""
    engine.reset_cache()
    red = logits_after(engine, first_turn(image_bytes(color=(250, 0, 0))))
    engine.reset_cache()
    blue = logits_after(engine, first_turn(image_bytes(color=(0, 0, 250))))
    engine.reset_cache()
    again = logits_after(engine, first_turn(image_bytes(color=(250, 0, 0))))
    assert red == again
    assert max(abs(a - b) for a, b in zip(red, blue, strict=True)) > 1e-3


def test_text_after_the_last_image_reuses_the_cached_prefix(engine: Engine) -> None:
    engine.reset_cache()
    first, _ = ask(engine, first_turn(image_bytes()))
    follow = (*first_turn(image_bytes()), p.ChatMessage("assistant", first.text),
              p.ChatMessage("user", "And the shape?"))
    warm, prompt = ask(engine, follow)
    new_text = len(prompt.tokens) - warm.stats.prompt_evaluated
    assert warm.stats.media_tokens == 4
    assert new_text > warm.stats.media_tokens  # the image and the first turn came from the cache
    engine.reset_cache()
    cold, _ = ask(engine, follow)
    assert cold.stats.prompt_evaluated == len(prompt.tokens)
    assert warm.tokens == cold.tokens  # the reused cache answers as a full evaluation does


def test_a_different_image_in_the_same_place_is_evaluated_again(engine: Engine) -> None:
    engine.reset_cache()
    ask(engine, first_turn(image_bytes(color=(10, 200, 10))))
    other, prompt = ask(engine, first_turn(image_bytes(color=(10, 10, 200))))
    assert other.stats.prompt_evaluated >= len(prompt.tokens) - prompt.tokens.index(min(prompt.tokens))


def test_webp_and_a_50_megapixel_photo_are_accepted(engine: Engine) -> None:
    engine.reset_cache()
    webp, _ = ask(engine, first_turn(image_bytes(fmt="WEBP")))
    assert webp.stats.media_tokens == 4
    huge, _ = ask(engine, first_turn(image_bytes(8192, 6144, (90, 90, 90), fmt="JPEG")))  # 50.3 MP
    assert huge.stats.media_tokens == 4


@pytest.mark.parametrize(("data", "words"), [
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "cannot be read"),
    (image_bytes()[:60], "cannot be read"),
    (b"GIF89a" + b"\xff" * 30, "cannot be read"),
    (b"plain text, not an image", "cannot be read"),
])
def test_a_corrupt_image_is_a_clear_error_and_the_conversation_goes_on(engine: Engine, data: bytes,
                                                                      words: str) -> None:
    engine.reset_cache()
    good, _ = ask(engine, first_turn(image_bytes()))
    cached = engine.cached_tokens
    with pytest.raises(MediaError, match=words) as caught:
        ask(engine, (*first_turn(image_bytes()), p.ChatMessage("assistant", good.text),
                     p.ChatMessage("user", "and this?", media=(image(data),))))
    assert caught.value.hint
    assert engine.cached_tokens == cached  # nothing was evaluated
    again, _ = ask(engine, first_turn(image_bytes()))
    assert again.tokens == good.tokens
    assert again.stats.prompt_evaluated == 1  # the whole prompt was still cached


def test_an_absurdly_large_image_is_refused_from_its_header(engine: Engine) -> None:
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0))
    bomb += chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    with pytest.raises(MediaError, match="too large"):
        ask(engine, (p.ChatMessage("user", "look", media=(image(bomb),)),))


def test_audio_to_a_vision_only_projector_is_refused(engine: Engine) -> None:
    with pytest.raises(MediaError, match="takes no audio"):
        ask(engine, (p.ChatMessage("user", "listen", media=(p.MediaPart("audio", b"RIFF....WAVEfmt "),)),))


def test_a_typed_marker_is_text_not_an_image(engine: Engine) -> None:
    engine.reset_cache()
    result, _ = ask(engine, (p.ChatMessage("user", "what is <__media__> here?"),
                                  p.ChatMessage("assistant", "text"),
                                  p.ChatMessage("user", "<__media__> and", media=(image(image_bytes()),))))
    assert result.stats.media_tokens == 4  # one image, though two markers were typed


def test_an_image_to_a_text_only_model_is_refused(vision_model: VisionGGUFs) -> None:
    eng = Engine()
    try:
        info = eng.load(str(vision_model.text), settings())
        assert not info.vision
        with pytest.raises(MediaError, match="without a projector") as caught:
            ask(eng, first_turn(image_bytes()))
        assert "mmproj" in caught.value.hint
        text, _ = ask(eng, (p.ChatMessage("user", "What colour is this?"),))
        assert text.stats.generated_tokens > 0
    finally:
        eng.close()


def test_a_projector_made_for_another_model_is_refused_at_load(vision_model: VisionGGUFs,
                                                               wrong_projector: object) -> None:
    eng = Engine()
    try:
        with pytest.raises(EngineError, match=r"embeddings of 128 values, the model takes 256"):
            eng.load(str(vision_model.text), settings(str(wrong_projector)))
        assert not eng.loaded
        with pytest.raises(EngineError, match="not a multimodal projector"):
            eng.load(str(vision_model.text), settings(str(vision_model.text)))
        info = eng.load(str(vision_model.text), settings(str(vision_model.mmproj)))
        assert info.vision
    finally:
        eng.close()


def test_qwen25_vl_with_m_rope_positions_reuses_its_cache(qwen_vl_model: VisionGGUFs) -> None:
    """M-RoPE: an image takes fewer positions than embeddings; the text after it still comes from the cache."""
    eng = Engine()
    try:
        info = eng.load(str(qwen_vl_model.text), p.EngineSettings(n_ctx=1024, n_threads=2, n_batch=256,
                                                                  mmproj=str(qwen_vl_model.mmproj)))
        assert info.vision
        turn = (p.ChatMessage("user", "what?", media=(image(image_bytes(100, 80)),)),)
        first, _ = ask(eng, turn)
        assert first.stats.media_tokens > 0
        follow = (*turn, p.ChatMessage("assistant", first.text), p.ChatMessage("user", "more?"))
        warm, prompt = ask(eng, follow)
        assert warm.stats.prompt_evaluated < len(prompt.tokens) - warm.stats.media_tokens
        eng.reset_cache()
        cold, _ = ask(eng, follow)
        assert cold.stats.prompt_evaluated == len(prompt.tokens)
        assert warm.tokens == cold.tokens
    finally:
        eng.close()


def test_our_gemma4_projector_runs_images_and_audio_in_mtmd(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Gemma 4's projector with both towers as we convert it (as llama.cpp's converter does, test_vision_convert.py)
    beside the text model we convert: mtmd encodes an image and a clip into the prompt, and the image reaches
    the model."""
    from app.convert.converter import convert
    from app.convert.mmproj import convert_mmproj
    from tests.support.tiny_vision import make_tiny_gemma4_vision, wav_bytes

    root = tmp_path_factory.mktemp("gemma4-mtmd")
    folder = make_tiny_gemma4_vision(root / "hf", root / "text", audio=True)
    text = convert(folder, root / "text-f32.gguf", "f32").path
    projector = convert_mmproj(folder, root / "mmproj-f16.gguf", "f16").path
    eng = Engine()
    try:
        eng.load(str(text), settings(str(projector)))
        assert eng.info is not None and eng.info.vision and eng.info.audio
        clip = (p.ChatMessage("user", "What is this sound?", media=(p.MediaPart("audio", wav_bytes(), "audio/wav"),)),)
        generation, _ = ask(eng, clip)
        # one second at 16 kHz in 10 ms mel frames is 100 frames; two stride-2 convolutions leave 25
        assert generation.stats.media_tokens == 25 and generation.stats.generated_tokens > 0
        eng.reset_cache()
        generation, _ = ask(eng, first_turn(image_bytes(64, 64)))
        assert generation.stats.media_tokens > 0 and generation.stats.generated_tokens > 0
        eng.reset_cache()
        red = logits_after(eng, first_turn(image_bytes(64, 64, color=(250, 0, 0))))
        eng.reset_cache()
        blue = logits_after(eng, first_turn(image_bytes(64, 64, color=(0, 0, 250))))
        assert max(abs(a - b) for a, b in zip(red, blue, strict=True)) > 1e-4
    finally:
        eng.close()
