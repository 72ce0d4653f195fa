"""The real `anthropic` SDK against the server's Messages API (tiny chat model: it has a template)."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest
from conftest import KEY, TINY_ID

from app.server.runner import ServerThread
from tests.support.api_server import http

pytestmark = pytest.mark.slow

GREEDY = {"temperature": 0}  # not in this SDK's signature any more; the server still reads it
MESSAGES: list[Any] = [{"role": "user", "content": "hello world"}, {"role": "assistant", "content": "the model"},
            {"role": "user", "content": [{"type": "text", "text": "what time"}]}]


@pytest.fixture(scope="module")
def client(server: ServerThread) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.base_url, api_key=KEY, max_retries=0)


def test_whole_message(client: anthropic.Anthropic) -> None:
    message = client.messages.create(model=TINY_ID, max_tokens=6, system="You are terse.", messages=MESSAGES,
                                     extra_body=GREEDY)
    assert message.role == "assistant" and message.model == TINY_ID
    assert message.content[0].type == "text"
    assert message.stop_reason in ("end_turn", "max_tokens")
    usage = message.usage
    assert usage.input_tokens + (usage.cache_read_input_tokens or 0) > 10 and 0 < usage.output_tokens <= 6


def test_streamed_message_matches_the_whole_one(client: anthropic.Anthropic) -> None:
    whole = client.messages.create(model=TINY_ID, max_tokens=6, messages=MESSAGES, extra_body=GREEDY)
    with client.messages.stream(model=TINY_ID, max_tokens=6, messages=MESSAGES, extra_body=GREEDY) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "content_block_start" in kinds and "content_block_stop" in kinds and "message_delta" in kinds
    assert final.content[0].text == whole.content[0].text  # type: ignore[union-attr]
    assert final.stop_reason == whole.stop_reason
    assert final.usage.output_tokens == whole.usage.output_tokens


def test_stop_sequences(client: anthropic.Anthropic) -> None:
    free = client.messages.create(model=TINY_ID, max_tokens=12, messages=MESSAGES, extra_body=GREEDY)
    text = free.content[0].text  # type: ignore[union-attr]
    assert len(text) >= 4, text
    stop = text[2:4]
    stopped = client.messages.create(model=TINY_ID, max_tokens=12, messages=MESSAGES, stop_sequences=[stop],
                                     extra_body=GREEDY)
    assert stopped.stop_reason == "stop_sequence" and stopped.stop_sequence == stop
    assert stopped.content[0].text == text[: text.index(stop)]  # type: ignore[union-attr]


def test_errors_come_in_anthropic_format(server: ServerThread, client: anthropic.Anthropic) -> None:
    bad = anthropic.Anthropic(base_url=server.base_url, api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        bad.messages.create(model=TINY_ID, max_tokens=4, messages=MESSAGES)
    with pytest.raises(anthropic.NotFoundError) as missing:
        client.messages.create(model="nope/missing", max_tokens=4, messages=MESSAGES)
    assert isinstance(missing.value.body, dict) and missing.value.body["error"]["type"] == "not_found_error"
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(model=TINY_ID, max_tokens=4,
                               messages=[{"role": "system", "content": "hi"}])  # type: ignore[misc,list-item,unused-ignore]
    status, body = http("POST", f"{server.base_url}/v1/messages", b'{"model": "tiny/chat-a", "messages": []}',
                        {"x-api-key": KEY})
    assert status == 400 and body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    with pytest.raises(anthropic.APIStatusError) as large:
        client.messages.create(model=TINY_ID, max_tokens=4, messages=[{"role": "user", "content": "x" * 300_000}])
    assert large.value.status_code == 413
