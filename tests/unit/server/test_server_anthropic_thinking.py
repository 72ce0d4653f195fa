"""Anthropic extended thinking: a reply's <think> reasoning streams as a thinking block before the text block
when the request enables thinking, and is left out otherwise; whole replies likewise."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from app.chat import protocol as p
from app.server.anthropic_api import _frames
from app.server.schemas import parse_messages

STATS = p.Stats(5, 5, 0.1, 6, 0.1, 0.05, 11, 512)


def request(thinking: bool) -> object:
    body: dict[str, object] = {"model": "m", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
    if thinking:
        body["thinking"] = {"type": "enabled", "budget_tokens": 1024}
    return parse_messages(body)


def frames(thinking: bool, pieces: list[str]) -> list[dict[str, object]]:
    async def events() -> AsyncIterator[p.Token | p.Done]:
        for piece in pieces:
            yield p.Token(1, piece)
        yield p.Done(1, "".join(pieces), "eog", STATS)

    async def run() -> list[bytes]:
        return [frame async for frame in _frames("msg_1", request(thinking), None, events())]  # type: ignore[arg-type]

    out = []
    for frame in asyncio.run(run()):
        data = next(line for line in frame.decode().splitlines() if line.startswith("data:"))
        out.append(json.loads(data[5:]))
    return out


PIECES = ["<think>", "Two and two", " make four.", "</think>", "It is ", "four."]


def test_thinking_streams_as_its_own_block_first() -> None:
    events = frames(True, PIECES)
    starts = [e["content_block"]["type"] for e in events if e["type"] == "content_block_start"]  # type: ignore[index]
    assert starts == ["thinking", "text"]
    deltas = [e["delta"] for e in events if e["type"] == "content_block_delta"]
    thought = "".join(d.get("thinking", "") for d in deltas)  # type: ignore[union-attr]
    text = "".join(d.get("text", "") for d in deltas)  # type: ignore[union-attr]
    assert thought.strip() == "Two and two make four." and text == "It is four."
    assert any(d["type"] == "signature_delta" for d in deltas)  # type: ignore[index]
    stops = [e["index"] for e in events if e["type"] == "content_block_stop"]
    assert stops == [0, 1] and events[-1]["type"] == "message_stop"


def test_without_thinking_the_reasoning_is_left_out() -> None:
    events = frames(False, PIECES)
    starts = [e["content_block"]["type"] for e in events if e["type"] == "content_block_start"]  # type: ignore[index]
    assert starts == ["text"]
    text = "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta")  # type: ignore[union-attr]
    assert text == "It is four."


def test_thinking_sent_back_in_a_later_turn_is_accepted() -> None:
    parsed = parse_messages({"model": "m", "max_tokens": 5, "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "hmm", "signature": ""},
                                          {"type": "text", "text": "Hello."}]},
        {"role": "user", "content": "again"},
    ]})
    assert [m.content for m in parsed.messages] == ["hi", "Hello.", "again"]
