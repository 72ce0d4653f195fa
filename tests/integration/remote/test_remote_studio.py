"""Our own server (app.server, on 127.0.0.1) as the remote endpoint: through the client, and through the
`remote` and `chat --remote` commands as a user runs them."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.chat import protocol as p
from app.core.errors import RemoteAuthError, RemoteModelNotFoundError
from app.remote import endpoints as store
from app.remote.client import RemoteClient
from app.remote.endpoints import Endpoint
from app.server.config import ServerConfig
from app.server.runner import ServerThread
from tests.support.api_server import http, running_server
from tests.support.cli import run_cli
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf

pytestmark = pytest.mark.slow

KEY = "remote-test-key-0123"
MODEL = "tiny/chat"
TEMPLATE = (
    "{% for m in messages %}<{{ m['role'] }}>\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<assistant>\n{% endif %}"
)
GREEDY = p.Sampling(temperature=0.0, max_tokens=8, seed=1)
MESSAGES = [p.ChatMessage("system", "Be brief."), p.ChatMessage("user", "hello world")]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    root = tmp_path_factory.mktemp("remote-library")
    (root / "tiny").mkdir()
    write_tiny_gguf(root / "tiny" / "chat.gguf", TinySpec(chat_template=TEMPLATE, n_vocab=600, seed=3))
    config = ServerConfig(port=0, api_key=KEY, folders=(root,), models_ttl=0,
                          engine=p.EngineSettings(n_ctx=512, n_threads=2, n_batch=128))
    with running_server(config) as running:
        yield running


def _whole_reply(server: ServerThread) -> str:
    body = {"model": MODEL, "messages": [{"role": m.role, "content": m.content} for m in MESSAGES],
            "max_tokens": GREEDY.max_tokens, "temperature": 0, "seed": 1}
    status, reply = http("POST", f"{server.base_url}/v1/chat/completions", json.dumps(body).encode(),
                         {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    assert status == 200, reply
    text: str = reply["choices"][0]["message"]["content"]
    return text


def test_streamed_reply_equals_the_servers_whole_reply(server: ServerThread) -> None:
    with RemoteClient(Endpoint("studio", server.base_url, KEY)) as client:
        report = client.report()
        assert report.kind == "gguf-studio"
        assert [m.id for m in report.models] == [MODEL]
        events = list(client.stream_chat(MODEL, MESSAGES, GREEDY))
    tokens = [e for e in events if isinstance(e, p.Token)]
    done = events[-1]
    assert isinstance(done, p.Done) and tokens
    assert "".join(t.text for t in tokens) == done.text == _whole_reply(server)
    assert 0 < done.stats.generated_tokens <= GREEDY.max_tokens and done.stats.prompt_tokens > 5
    with RemoteClient(Endpoint("studio", server.base_url, KEY)) as client:
        assert dict(client.report().details)["loaded"] == MODEL  # what the server reports about itself


def test_a_wrong_key_and_an_unknown_model(server: ServerThread) -> None:
    with RemoteClient(Endpoint("studio", server.base_url, "wrong-key")) as client, \
            pytest.raises(RemoteAuthError, match=r"refused the request \(401\)"):
        list(client.stream_chat(MODEL, MESSAGES, GREEDY))
    with RemoteClient(Endpoint("studio", server.base_url, KEY)) as client, \
            pytest.raises(RemoteModelNotFoundError, match="has no model 'no/such'"):
        list(client.stream_chat("no/such", MESSAGES, GREEDY))


def test_the_commands_add_test_chat_and_remove(server: ServerThread, tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    added = run_cli("remote", "add", "studio", f"{server.base_url}/v1", "--api-key-file", str(key_file))
    assert added.returncode == 0, added.stderr
    assert "gguf-studio at" in added.stdout and KEY not in added.stdout + added.stderr
    if os.name == "posix":
        assert stat.S_IMODE(store.endpoints_file().stat().st_mode) == 0o600
    listed = run_cli("remote", "list", "--json")
    assert json.loads(listed.stdout) == {"endpoints": [{"name": "studio", "url": server.base_url, "key": True}]}
    tested = run_cli("remote", "test", "studio")
    assert tested.returncode == 0 and MODEL in tested.stdout, tested.stderr

    chat = run_cli("chat", "--remote", "studio", "--model", MODEL, "--system", "Be brief.", "--prompt",
                   "hello world", "--temp", "0", "--seed", "1", "--max-tokens", str(GREEDY.max_tokens), "--json")
    assert chat.returncode == 0, chat.stderr
    assert json.loads(chat.stdout)["text"] == _whole_reply(server)
    unknown = run_cli("chat", "--remote", "studio", "--model", "no/such", "--prompt", "hi")
    assert unknown.returncode == 1 and "has no model 'no/such'" in unknown.stderr

    assert run_cli("remote", "remove", "studio").returncode == 0
    assert store.load_endpoints() == []
    missing = run_cli("remote", "test", "studio")
    assert missing.returncode == 1 and "No remote endpoint is called 'studio'" in missing.stderr
