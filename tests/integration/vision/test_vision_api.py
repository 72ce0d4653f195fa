"""Images through the API server: the real openai and anthropic SDKs, a tiny Gemma 3 vision model whose projector
lies beside it in the library, and a text-only model."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from app.chat.protocol import EngineSettings
from app.server.config import ServerConfig
from app.server.runner import ServerThread
from tests.support.api_server import http, running_server
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf
from tests.support.tiny_vision import VisionGGUFs, image_bytes

KEY = "test-key-vision-0123"
VISION_ID = "tester/tiny-gemma3-vision-gguf/tiny-gemma3-vision-f32"
TEXT_ID = "tester/text-only/chat"
TEMPLATE = "{% for m in messages %}<{{ m['role'] }}>\n{{ m['content'] }}\n{% endfor %}<assistant>\n"


@pytest.fixture(scope="module")
def server(vision_model: VisionGGUFs) -> Iterator[ServerThread]:
    library = vision_model.text.parents[1].parent
    (library / "tester" / "text-only").mkdir(exist_ok=True)
    write_tiny_gguf(library / "tester" / "text-only" / "chat.gguf", TinySpec(chat_template=TEMPLATE, n_vocab=600))
    config = ServerConfig(port=0, api_key=KEY, folders=(library,), models_ttl=0,
                          engine=EngineSettings(n_ctx=512, n_threads=2, n_batch=128))
    with running_server(config) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: ServerThread) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=KEY, max_retries=0)


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def image_message(url: str, text: str = "What colour is this?") -> list[Any]:
    return [{"role": "user", "content": [{"type": "text", "text": text},
                                         {"type": "image_url", "image_url": {"url": url}}]}]


def test_the_model_list_says_which_models_take_images(client: openai.OpenAI) -> None:
    models = {m.id: m for m in client.models.list()}
    assert set(models) == {VISION_ID, TEXT_ID}  # the projector is not listed as a model
    assert models[VISION_ID].model_extra == {"capabilities": ["vision"]} or \
        getattr(models[VISION_ID], "capabilities", None) == ["vision"]
    assert getattr(models[TEXT_ID], "capabilities", None) == []


def test_an_image_as_a_data_url_through_the_openai_sdk(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model=VISION_ID, messages=image_message(data_url(image_bytes())),
                                           max_tokens=4, temperature=0)
    text_only = client.chat.completions.create(
        model=VISION_ID, messages=[{"role": "user", "content": "What colour is this?"}], max_tokens=4, temperature=0)
    assert reply.choices[0].finish_reason in ("stop", "length")
    assert reply.usage is not None and text_only.usage is not None
    # the image's four tokens (mm_tokens_per_image) and the markers around them
    assert reply.usage.prompt_tokens >= text_only.usage.prompt_tokens + 4
    webp = client.chat.completions.create(model=VISION_ID, messages=image_message(
        data_url(image_bytes(fmt="WEBP"), "image/webp")), max_tokens=2, temperature=0)
    assert webp.usage is not None and webp.usage.prompt_tokens == reply.usage.prompt_tokens


def test_a_remote_image_url_is_refused(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="data URL") as caught:
        client.chat.completions.create(model=VISION_ID, messages=image_message("https://example.com/cat.png"),
                                       max_tokens=2)
    assert "not fetched" in str(caught.value)


@pytest.mark.parametrize(("url", "words"), [
    (data_url(b"\x89PNG\r\n\x1a\n" + b"\0" * 64), "cannot be read"),
    ("data:image/png;base64,%%%not-base64", "not valid base64"),
    (data_url(b"just some text"), "not a PNG"),
    (data_url(image_bytes(), "image/tiff"), "not a supported image type"),
])
def test_a_bad_image_is_a_400_and_the_model_goes_on(client: openai.OpenAI, url: str, words: str) -> None:
    with pytest.raises(openai.BadRequestError, match=words):
        client.chat.completions.create(model=VISION_ID, messages=image_message(url), max_tokens=2)
    after = client.chat.completions.create(model=VISION_ID, messages=image_message(data_url(image_bytes())),
                                           max_tokens=2, temperature=0)
    assert after.choices[0].finish_reason in ("stop", "length")


def test_an_image_to_a_text_only_model_is_a_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="without a projector"):
        client.chat.completions.create(model=TEXT_ID, messages=image_message(data_url(image_bytes())),
                                       max_tokens=2)


def test_an_anthropic_image_block(server: ServerThread) -> None:
    client = anthropic.Anthropic(base_url=server.base_url, api_key=KEY, max_retries=0)
    source: Any = {"type": "base64", "media_type": "image/png", "data": base64.b64encode(image_bytes()).decode()}
    reply = client.messages.create(model=VISION_ID, max_tokens=4, messages=[{"role": "user", "content": [
        {"type": "image", "source": source}, {"type": "text", "text": "What colour is this?"}]}])
    assert reply.stop_reason in ("end_turn", "max_tokens")
    assert reply.usage.input_tokens > 4
    url_source: Any = {"type": "url", "url": "https://example.com/cat.png"}
    with pytest.raises(anthropic.BadRequestError, match="not fetched"):
        client.messages.create(model=VISION_ID, max_tokens=4, messages=[{"role": "user", "content": [
            {"type": "image", "source": url_source}]}])


def test_input_audio_to_a_vision_only_model_is_a_400(server: ServerThread) -> None:
    body = {"model": VISION_ID, "max_tokens": 2, "messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": base64.b64encode(b"RIFF\0\0\0\0WAVEfmt ").decode(),
                                                "format": "wav"}}]}]}
    status, reply = http("POST", f"{server.base_url}/v1/chat/completions", json.dumps(body).encode(),
                         {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    assert status == 400
    assert "takes no audio" in reply["error"]["message"]


def test_library_keeps_the_projector_apart(vision_model: VisionGGUFs) -> None:
    from app.chat.projector import projector_for

    assert projector_for(vision_model.text) == str(vision_model.mmproj)
    assert projector_for(Path(vision_model.text).with_name("absent.gguf")) == ""


@pytest.fixture
def image_site(tmp_path: Path) -> Iterator[str]:
    """A plain HTTP server on 127.0.0.1 serving a PNG (and a 404 for anything else)."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    (tmp_path / "red.png").write_bytes(image_bytes())
    (tmp_path / "notes.txt").write_text("not an image")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    site = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{site.server_address[1]}"
    finally:
        site.shutdown()
        thread.join()


def test_remote_images_are_fetched_only_when_the_server_allows_it(vision_model: VisionGGUFs, image_site: str,
                                                                  client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="fetch-remote-images"):
        client.chat.completions.create(model=VISION_ID, messages=image_message(f"{image_site}/red.png"),
                                       max_tokens=2)
    library = vision_model.text.parents[1].parent
    config = ServerConfig(port=0, api_key=KEY, folders=(library,), models_ttl=0, fetch_remote_images=True,
                          engine=EngineSettings(n_ctx=512, n_threads=2, n_batch=128))
    with running_server(config) as fetching:
        remote = openai.OpenAI(base_url=f"{fetching.base_url}/v1", api_key=KEY, max_retries=0)
        fetched = remote.chat.completions.create(model=VISION_ID, messages=image_message(f"{image_site}/red.png"),
                                                 max_tokens=2, temperature=0)
        inline = remote.chat.completions.create(model=VISION_ID, messages=image_message(data_url(image_bytes())),
                                                max_tokens=2, temperature=0)
        assert fetched.usage is not None and inline.usage is not None
        assert fetched.usage.prompt_tokens == inline.usage.prompt_tokens
        assert fetched.choices[0].message.content == inline.choices[0].message.content
        with pytest.raises(openai.BadRequestError, match="HTTP 404"):
            remote.chat.completions.create(model=VISION_ID, messages=image_message(f"{image_site}/gone.png"),
                                           max_tokens=2)
        with pytest.raises(openai.BadRequestError, match="not a PNG"):
            remote.chat.completions.create(model=VISION_ID, messages=image_message(f"{image_site}/notes.txt"),
                                           max_tokens=2)
