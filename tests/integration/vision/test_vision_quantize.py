"""Quantizing a vision model keeps its images: the projector is written beside the quants, where Chat pairs it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.chat.projector import projector_for, projector_info
from app.quantize import events as ev
from app.quantize.pipeline import QuantizeSpec, run_quantize
from tests.support.tiny_vision import VisionGGUFs

pytestmark = pytest.mark.slow


def _run(spec: QuantizeSpec) -> list[ev.Event]:
    events: list[ev.Event] = []
    run_quantize(spec, events.append)
    return events


def test_a_hugging_face_vision_model_gets_llama_cpps_projector_beside_its_quants(vision_model: VisionGGUFs,
                                                                              tmp_path: Path) -> None:
    source = tmp_path / vision_model.checkpoint.name  # the name goes into the metadata
    shutil.copytree(vision_model.checkpoint, source)
    events = _run(QuantizeSpec(source, ("Q8_0",), tmp_path / "out"))
    quant = tmp_path / "out" / "hf-Q8_0.gguf"
    projector = tmp_path / "out" / "mmproj-hf-F16.gguf"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [quant.name, projector.name]  # F16 text gone
    assert projector.read_bytes() == vision_model.mmproj.read_bytes()  # what llama.cpp's --mmproj writes
    assert projector_for(quant) == str(projector)
    outputs = [e for e in events if isinstance(e, ev.Output)]
    assert [(o.kind, o.path, o.type_name) for o in outputs[-1:]] == [("mmproj", projector, "F16")]
    assert ev.Stage("projector", 3, 3) in events

    again = _run(QuantizeSpec(source, ("Q4_0",), tmp_path / "out", projector="q8_0"))
    q8 = tmp_path / "out" / "mmproj-hf-Q8_0.gguf"
    assert projector_info(q8).file_type == 7
    assert projector_for(tmp_path / "out" / "hf-Q4_0.gguf") == str(projector)  # F16 preferred
    assert any(isinstance(e, ev.Output) and e.path == q8 for e in again)


def test_no_projector_when_asked_for_none(vision_model: VisionGGUFs, tmp_path: Path) -> None:
    source = tmp_path / "tiny-vision"
    shutil.copytree(vision_model.checkpoint, source)
    events = _run(QuantizeSpec(source, ("Q8_0",), tmp_path / "out", projector=""))
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["tiny-vision-Q8_0.gguf"]
    assert not any(isinstance(e, ev.Output) and e.kind == "mmproj" for e in events)


def test_a_gguf_sources_projector_is_copied_to_another_folder_and_kept_when_there(vision_model: VisionGGUFs,
                                                                                  tmp_path: Path) -> None:
    out = tmp_path / "elsewhere"
    _run(QuantizeSpec(vision_model.text, ("Q8_0",), out))
    quant = out / "tiny-gemma3-vision-Q8_0.gguf"
    copy = out / vision_model.mmproj.name
    assert copy.read_bytes() == vision_model.mmproj.read_bytes()
    assert projector_for(quant) == str(copy)

    before = copy.stat().st_mtime_ns  # a second run keeps it, and says so
    events = _run(QuantizeSpec(vision_model.text, ("Q4_0",), out))
    assert copy.stat().st_mtime_ns == before
    assert ev.Log(f"kept the projector {copy.name} already there") in events

    beside = _run(QuantizeSpec(vision_model.text, ("Q4_0",), vision_model.text.parent, variant=7))
    assert not any(isinstance(e, ev.Output) and e.kind == "mmproj" for e in beside)  # paired already
    for made in vision_model.text.parent.glob("*Q4_0-7.gguf"):
        made.unlink()


def test_the_cli_writes_the_projector_type_asked_for(vision_model: VisionGGUFs, tmp_path: Path) -> None:
    from tests.support.cli import run_cli

    source = tmp_path / vision_model.checkpoint.name
    shutil.copytree(vision_model.checkpoint, source)
    out = tmp_path / "out"
    result = run_cli("quantize", str(source), "Q8_0", "--out-dir", str(out), "--mmproj-type", "q8_0", timeout=300)
    assert result.returncode == 0, result.stderr
    projector = out / "mmproj-hf-Q8_0.gguf"
    assert result.stdout.split() == [str(out / "hf-Q8_0.gguf"), str(projector)]
    assert projector_info(projector).file_type == 7 and projector_for(out / "hf-Q8_0.gguf") == str(projector)


def test_a_gguf_sources_f16_projector_is_retyped_to_q8_0_as_a_conversion_types_it(
        vision_model: VisionGGUFs, tmp_path: Path) -> None:
    from app.chat import protocol as p
    from app.chat.engine_core import Engine
    from app.convert.mmproj import convert_mmproj
    from app.gguf.reader import read_header
    from tests.integration.vision.test_vision_engine import first_turn
    from tests.support.tiny_vision import image_bytes

    out = tmp_path / "q8"
    events = _run(QuantizeSpec(vision_model.text, ("Q8_0",), out, projector="q8_0"))
    retyped = out / "mmproj-tiny-gemma3-vision-Q8_0.gguf"
    assert [(o.kind, o.path, o.type_name) for o in events if isinstance(o, ev.Output)][-1:] == [
        ("mmproj", retyped, "Q8_0")]
    assert projector_for(out / "tiny-gemma3-vision-Q8_0.gguf") == str(retyped)
    converted = read_header(convert_mmproj(vision_model.checkpoint, tmp_path / "ref-Q8_0.gguf", "q8_0").path)
    mine = read_header(retyped)
    assert [(t.name, t.ggml_type, t.shape) for t in mine.tensors] == [
        (t.name, t.ggml_type, t.shape) for t in converted.tensors]
    assert dict(mine.metadata) == dict(converted.metadata)

    engine = Engine()
    try:  # llama.cpp's mtmd loads it and an image runs through it
        engine.load(str(vision_model.text), p.EngineSettings(n_ctx=512, n_threads=2, n_batch=128,
                                                             mmproj=str(retyped)))
        from tests.integration.vision.test_vision_engine import ask

        result, _prompt = ask(engine, first_turn(image_bytes()))
        assert result.stats.media_tokens == 4 and result.stats.generated_tokens > 0
    finally:
        engine.close()


def test_a_gguf_sources_gemma4_projector_is_retyped_too_and_runs_in_mtmd(tmp_path: Path) -> None:
    """Gemma 4 (vision and audio towers in one file) follows the same rule as Gemma 3: the F16 projector beside
    the GGUF becomes a Q8_0 one typed as a Q8_0 conversion types it (test_vision_convert.py: byte for byte from
    F32), and mtmd turns an image and a clip into as many tokens as with the F16 projector."""
    from app.chat import protocol as p
    from app.chat.engine_core import Engine
    from app.convert.converter import convert
    from app.convert.mmproj import convert_mmproj
    from app.gguf.reader import read_header
    from tests.integration.vision.test_vision_engine import ask, first_turn
    from tests.support.tiny_vision import image_bytes, make_tiny_gemma4_vision, wav_bytes

    checkpoint = make_tiny_gemma4_vision(tmp_path / "hf", tmp_path / "text", audio=True)
    library = tmp_path / "library"
    library.mkdir()
    text = convert(checkpoint, library / "tiny-gemma4-F32.gguf", "f32").path
    f16 = convert_mmproj(checkpoint, library / "mmproj-tiny-gemma4-F16.gguf", "f16").path

    events = _run(QuantizeSpec(text, ("Q8_0",), tmp_path / "q8", projector="q8_0"))
    retyped = tmp_path / "q8" / "mmproj-tiny-gemma4-Q8_0.gguf"
    assert [(o.kind, o.path, o.type_name) for o in events if isinstance(o, ev.Output)][-1:] == [
        ("mmproj", retyped, "Q8_0")]
    converted = read_header(convert_mmproj(checkpoint, tmp_path / "converted-Q8_0.gguf", "q8_0").path)
    mine = read_header(retyped)
    assert [(t.name, t.ggml_type, t.shape) for t in mine.tensors] == [
        (t.name, t.ggml_type, t.shape) for t in converted.tensors]
    assert dict(mine.metadata) == dict(converted.metadata)

    clip = (p.ChatMessage("user", "What is this sound?", media=(p.MediaPart("audio", wav_bytes(), "audio/wav"),)),)
    counts = {}
    for projector in (f16, retyped):
        engine = Engine()
        try:
            engine.load(str(text), p.EngineSettings(n_ctx=512, n_threads=2, n_batch=128, mmproj=str(projector)))
            seen, _prompt = ask(engine, first_turn(image_bytes(64, 64)))
            engine.reset_cache()
            heard, _prompt = ask(engine, clip)
            counts[projector.name] = (seen.stats.media_tokens, heard.stats.media_tokens)
            assert seen.stats.generated_tokens > 0 and heard.stats.generated_tokens > 0
        finally:
            engine.close()
    assert counts[retyped.name] == counts[f16.name]
    assert counts[f16.name][0] > 0 and counts[f16.name][1] == 25  # one second of audio: 25 tokens
