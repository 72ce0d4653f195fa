"""The remote client against a server that misbehaves: every failure is a clear RemoteError, and a stream
that breaks keeps the text received so far."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from app.chat import protocol as p
from app.core.errors import (
    RemoteAuthError,
    RemoteModelNotFoundError,
    RemoteServerError,
    RemoteUnreachableError,
    StreamDroppedError,
)
from app.remote.client import RemoteClient
from app.remote.endpoints import Endpoint
from tests.support.misbehaving_sse import WORDS, misbehaving_server

HI = [p.ChatMessage("user", "hi")]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with misbehaving_server() as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[RemoteClient]:
    with RemoteClient(Endpoint("flaky", base_url, "sk-test"), read_timeout=10) as remote:
        yield remote


def _collect(client: RemoteClient, model: str) -> tuple[str, list[p.Token | p.Done]]:
    events: list[p.Token | p.Done] = []
    try:
        for event in client.stream_chat(model, HI):
            events.append(event)
    finally:
        text = "".join(e.text for e in events if isinstance(e, p.Token))
    return text, events


def test_keep_alive_comments_are_skipped(client: RemoteClient) -> None:
    text, events = _collect(client, "keepalive")
    assert text == "".join(WORDS)
    done = events[-1]
    assert isinstance(done, p.Done) and done.text == text and done.finish_reason == "eog"


def test_a_cut_connection_keeps_the_partial_reply(client: RemoteClient) -> None:
    with pytest.raises(StreamDroppedError, match="broke during the reply") as caught:
        _collect(client, "drop")
    assert caught.value.partial == "".join(WORDS[:2])


def test_a_stream_that_ends_without_finishing(client: RemoteClient) -> None:
    with pytest.raises(StreamDroppedError, match="before it was finished") as caught:
        _collect(client, "eof")
    assert caught.value.partial == "".join(WORDS[:2])


def test_an_error_in_the_stream(client: RemoteClient) -> None:
    with pytest.raises(StreamDroppedError, match="the engine crashed") as caught:
        _collect(client, "error-frame")
    assert caught.value.partial == "".join(WORDS[:3])


@pytest.mark.parametrize(("model", "error"), [("e401", RemoteAuthError), ("e403", RemoteAuthError),
                                              ("e404", RemoteModelNotFoundError), ("e500", RemoteServerError)])
def test_statuses_become_clear_errors(client: RemoteClient, model: str, error: type[Exception]) -> None:
    with pytest.raises(error, match=f"refused with {model[1:]}"):
        _collect(client, model)


def test_errors_survive_a_trip_through_a_pipe(client: RemoteClient) -> None:
    import pickle

    with pytest.raises(StreamDroppedError) as caught:
        _collect(client, "drop")
    again = pickle.loads(pickle.dumps(caught.value))
    assert type(again) is StreamDroppedError and again.partial == caught.value.partial


def test_a_server_that_is_not_there() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    with RemoteClient(Endpoint("gone", f"http://127.0.0.1:{port}")) as client, \
            pytest.raises(RemoteUnreachableError, match="Cannot reach gone"):
        client.models()


def test_a_plain_openai_server_is_reported_as_such(client: RemoteClient) -> None:
    report = client.report()
    assert report.kind == "openai-compatible"
    assert [m.id for m in report.models] == ["keepalive", "drop", "eof", "error-frame"]
