"""POST /v1/embeddings through the real `openai` SDK: an embedding-type GGUF (its header declares a pooling
type) gives vectors; a chat model asked for embeddings, and an embedding model asked to chat, get a 400."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import openai
import pytest
from conftest import GEMMA_ID, KEY, config

from tests.support.api_server import running_server
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf

pytestmark = pytest.mark.slow

EMBED_ID = "tiny/embed"


@pytest.fixture(scope="module")
def client(gemma_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    root = tmp_path_factory.mktemp("embedding-library")
    (root / "google").mkdir()
    (root / "google" / gemma_model.name).symlink_to(gemma_model)
    (root / "tiny").mkdir()
    write_tiny_gguf(root / "tiny" / "embed.gguf", TinySpec(n_vocab=600, extra_metadata=(("llama.pooling_type", 1),)))
    with running_server(config(root)) as server:
        yield openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=KEY, max_retries=0)


def test_a_chat_model_asked_for_embeddings_is_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model=GEMMA_ID, input="hello")
    body = caught.value.body
    assert isinstance(body, dict) and body["param"] == "model" and "chat model" in body["message"]


def test_an_embedding_model_asked_to_chat_is_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=EMBED_ID, messages=[{"role": "user", "content": "hi"}])
    assert "/v1/embeddings" in str(caught.value)


def test_malformed_embedding_requests_are_400(client: openai.OpenAI) -> None:
    for kwargs in ({"input": []}, {"input": "x", "dimensions": 8}, {"input": [1, 2, 3]}):
        with pytest.raises(openai.BadRequestError):
            client.embeddings.create(model=EMBED_ID, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="nobody/nothing", input="x")


def test_embeddings_from_an_embedding_gguf(client: openai.OpenAI) -> None:
    result = client.embeddings.create(model=EMBED_ID, input=["hello world", "the model"])
    assert [d.index for d in result.data] == [0, 1] and {len(d.embedding) for d in result.data} == {64}
    assert result.usage.prompt_tokens > 2
    # Asked for base64 explicitly, the SDK hands the string over as it came: little-endian float32.
    as_base64 = client.embeddings.create(model=EMBED_ID, input="hello world", encoding_format="base64")
    packed = as_base64.data[0].embedding
    assert isinstance(packed, str)
    decoded = np.frombuffer(base64.b64decode(packed), dtype="<f4").tolist()
    assert decoded == pytest.approx(result.data[0].embedding, abs=1e-6)
