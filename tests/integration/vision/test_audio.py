"""Audio end to end (#19 items 1 and 4): a tiny Qwen2-Audio (Whisper encoder, llama.cpp's qwen2a projector)
converted by llama.cpp's converter, loaded with its projector; a WAV clip through the engine and through the
OpenAI SDK's input_audio parts; an image to this audio-only model is a clear error and the next turn goes on."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from app.chat import mtmd, prompting
from app.chat import protocol as p
from app.chat.engine_core import Engine
from app.chat.projector import projector_for, projector_info
from app.core.errors import MediaError
from app.server.config import ServerConfig
from app.server.runner import ServerThread
from tests.support.api_server import running_server
from tests.support.tiny_vision import VisionGGUFs, image_bytes, wav_bytes

GREEDY = p.Sampling(temperature=0.0, max_tokens=4)
KEY = "test-key-audio-0123"
AUDIO_ID = "tester/tiny-qwen2-audio-gguf/tiny-qwen2-audio-f32"


def expected_audio_tokens() -> int:
    """What Transformers' own Qwen2-Audio makes of one clip: its processor pads to a 30 s window (3000 mel
    frames), the encoder's strided convolution halves that and its pooling halves it again."""
    import torch
    from transformers.models.qwen2_audio.modeling_qwen2_audio import Qwen2AudioEncoder

    _, tokens = Qwen2AudioEncoder._get_feat_extract_output_lengths(None, torch.tensor(3000))  # type: ignore[arg-type]
    return int(tokens)


@pytest.fixture(scope="module")
def engine(audio_model: VisionGGUFs) -> Iterator[Engine]:
    eng = Engine()
    eng.load(str(audio_model.text), p.EngineSettings(n_ctx=2048, n_threads=2, n_batch=256,
                                                     mmproj=str(audio_model.mmproj)))
    yield eng
    eng.close()


def ask(engine: Engine, messages: tuple[p.ChatMessage, ...]) -> tuple[int, p.Stats]:
    assert engine.info is not None
    media = mtmd.tokenizer_for(engine, messages)
    assert media is not None
    try:
        prompt = prompting.build(p.Generate(1, messages, sampling=GREEDY), engine.info, media)
        result = engine.generate(prompt.tokens, GREEDY, media=media.prompt)
    finally:
        media.close()
    return len(prompt.tokens), result.stats


def clip_message(text: str = "What is this sound?") -> tuple[p.ChatMessage, ...]:
    return (p.ChatMessage("user", text, media=(p.MediaPart("audio", wav_bytes(), "audio/wav"),)),)


def test_the_audio_projector_pairs_with_its_model(audio_model: VisionGGUFs) -> None:
    info = projector_info(audio_model.mmproj)
    assert info.audio and not info.vision and info.projector_type == "qwen2a"
    assert projector_for(audio_model.text) == str(audio_model.mmproj)


def test_a_clip_runs_and_counts_the_tokens_transformers_makes(engine: Engine) -> None:
    assert engine.info is not None and engine.info.audio and not engine.info.vision
    n_prompt, stats = ask(engine, clip_message())
    assert stats.media_tokens == expected_audio_tokens() == 750
    assert stats.prompt_tokens == n_prompt and stats.generated_tokens > 0


def test_an_image_to_an_audio_model_is_refused_and_the_next_turn_goes_on(engine: Engine) -> None:
    engine.reset_cache()
    first, _ = ask(engine, clip_message())
    picture = (p.ChatMessage("user", "And this?", media=(p.MediaPart("image", image_bytes(), "image/png"),)),)
    with pytest.raises(MediaError, match="takes no images"):
        ask(engine, picture)
    again_tokens, again = ask(engine, clip_message())
    assert again_tokens == first and again.prompt_evaluated < again.prompt_tokens  # the cache was kept


@pytest.fixture(scope="module")
def server(audio_model: VisionGGUFs) -> Iterator[ServerThread]:
    library = audio_model.text.parents[2]  # <library>/tester/tiny-qwen2-audio-GGUF/…
    config = ServerConfig(port=0, api_key=KEY, folders=(library,), models_ttl=0,
                          engine=p.EngineSettings(n_ctx=2048, n_threads=2, n_batch=256))
    with running_server(config) as running:
        yield running


def test_input_audio_through_the_openai_sdk(server: ServerThread) -> None:
    client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=KEY, max_retries=0)
    models = {m.id: m for m in client.models.list()}
    assert set(models) == {AUDIO_ID}  # the projector is no model
    assert getattr(models[AUDIO_ID], "capabilities", None) == ["audio"]
    clip = base64.b64encode(wav_bytes()).decode()
    reply = client.chat.completions.create(model=AUDIO_ID, max_tokens=2, temperature=0, messages=[
        {"role": "user", "content": [{"type": "text", "text": "What is this sound?"},
                                     {"type": "input_audio", "input_audio": {"data": clip, "format": "wav"}}]}])
    text_only = client.chat.completions.create(model=AUDIO_ID, max_tokens=2, temperature=0, messages=[
        {"role": "user", "content": "What is this sound?"}])
    assert reply.usage is not None and text_only.usage is not None
    assert reply.usage.prompt_tokens >= text_only.usage.prompt_tokens + expected_audio_tokens()


AUDIO_TOWERS = {  # which of the mel input, a layer's FFN and its attention is the largest differs among them
    "tiny": {},
    "wide": {"d_model": 256, "encoder_ffn_dim": 1024, "encoder_attention_heads": 4},
    "square": {"d_model": 128, "encoder_ffn_dim": 128},
    "long-ffn": {"encoder_ffn_dim": 512},
}


@pytest.fixture(scope="module")
def audio_towers(tmp_path_factory: pytest.TempPathFactory, llama_cpp_sources: Path) -> dict[str, Path]:
    """Qwen2-Audio projectors of two widths, by llama.cpp's converter (ours converts vision towers only)."""
    from tests.support.reference_convert import ReferenceJob, reference_outputs
    from tests.support.tiny_vision import make_tiny_qwen2_audio

    root = tmp_path_factory.mktemp("audio-towers")
    folders = {name: make_tiny_qwen2_audio(root / name, audio=audio) for name, audio in AUDIO_TOWERS.items()}
    made = reference_outputs([ReferenceJob(f, "f16", None, ("--mmproj",)) for f in folders.values()],
                             llama_cpp_sources)
    assert all(m.path is not None for m in made), [m.error for m in made]
    return {name: m.path for name, m in zip(folders, made, strict=True) if m.path is not None}


@pytest.mark.parametrize("name", list(AUDIO_TOWERS))
@pytest.mark.parametrize("flash_attn", [True, False])
def test_audio_projector_memory_matches_llama_cpps_log(audio_towers: dict[str, Path], name: str,
                                                       flash_attn: bool) -> None:
    from app.estimate.projector import projector_memory
    from app.gguf.reader import read_header
    from tests.integration.vision.test_vision_memory import MIB, logged

    memory = projector_memory(read_header(audio_towers[name]), flash_attn=flash_attn)
    weights, compute = logged(audio_towers[name], flash_attn)
    assert round(memory.weights / MIB, 2) == weights
    assert round(memory.compute / MIB, 2) == compute
    assert memory.exact_compute and memory.projector_type == "qwen2a"
