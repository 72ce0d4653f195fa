from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.chat.protocol import EngineSettings
from app.server.config import ServerConfig
from app.server.runner import ServerThread
from tests.support.api_server import running_server
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf

KEY = "test-key-0123456789"
GEMMA_ID = "google/gemma-3-270m-q4_k_m"
TINY_ID = "tiny/chat-a"
TEMPLATE = (
    "{% for m in messages %}<{{ m['role'] }}>\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<assistant>\n{% endif %}"
)
ENGINE = EngineSettings(n_ctx=1024, n_threads=2, n_batch=128)
BODY_LIMIT = 256 * 1024


@pytest.fixture(scope="session")
def library(gemma_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A library folder: the real Gemma 270M (a base model, no chat template) and tiny models with one."""
    root = tmp_path_factory.mktemp("served-library")
    (root / "google").mkdir()
    (root / "google" / gemma_model.name).symlink_to(gemma_model)
    (root / "tiny").mkdir()
    for name, seed in (("chat-a", 1), ("chat-b", 2)):
        write_tiny_gguf(root / "tiny" / f"{name}.gguf", TinySpec(chat_template=TEMPLATE, n_vocab=600, seed=seed))
    return root


def config(library: Path, **changes: object) -> ServerConfig:
    base: dict[str, object] = dict(port=0, api_key=KEY, folders=(library,), engine=ENGINE, models_ttl=0,
                                   max_body_bytes=BODY_LIMIT)
    return ServerConfig(**{**base, **changes})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def server(library: Path) -> Iterator[ServerThread]:
    with running_server(config(library)) as running:
        yield running
