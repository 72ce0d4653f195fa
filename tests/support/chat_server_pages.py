"""The Chat and Server pages of one app, with Gemma 3 270M in the server's library: for the tests of a chat on
the local server's engine. Real pages, real engine processes."""

from __future__ import annotations

import dataclasses
import multiprocessing
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.core.settings import Settings
from app.ui.context import AppContext
from app.ui.pages.chat import ChatPage
from app.ui.pages.server import ServerPage
from tests.support.rpc_workers import free_port


@dataclasses.dataclass
class ChatAndServer:
    server: ServerPage  # not started; its port free and two parallel requests
    chat: ChatPage  # greedy, seed 1
    model: Path  # Gemma, in the server's models folder


@contextmanager
def chat_and_server(qtbot: Any, folder: Path, gemma_model: Path, max_tokens: int) -> Iterator[ChatAndServer]:
    models = folder / "models"
    (models / "gemma").mkdir(parents=True)
    model = models / "gemma" / gemma_model.name
    model.symlink_to(gemma_model)
    settings = Settings()
    settings.update(models_dir=str(models), threads=2, default_context=1024)
    ctx = AppContext.create(settings)
    server = ServerPage(ctx)
    chat = ChatPage(ctx)
    chat.prefs = dataclasses.replace(chat.prefs, max_tokens=max_tokens, seed=1)
    chat.preset.setCurrentText("Greedy")
    for widget in (server, chat):
        qtbot.addWidget(widget)
    chat.resize(1100, 750)
    chat.show()
    server.port.setValue(free_port())
    server.parallel.setValue(2)
    try:
        yield ChatAndServer(server, chat, model)
    finally:
        chat.shutdown()
        server.shutdown()
        ctx.shutdown()


def engine_processes() -> list[int]:
    """Process ids of this process's live children: the engines, in these tests."""
    return sorted(child.pid for child in multiprocessing.active_children() if child.pid is not None)
