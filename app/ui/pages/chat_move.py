"""A chat on its own engine moves to the local server's engine: one copy of the model in memory.

When the app's API server starts while the Chat page has a library model loaded in its own engine process,
the chat moves to a sequence of the server's engine (app.server.shared_chat), as if it had loaded the model
after the server started: at a safe moment only (no reply streaming, no load running; a reply in flight
finishes first), the server is asked whether it can have the model before anything is freed, then the
chat's own engine ends and the server loads the model. The memory that engine held when the server measured
what was free counts as the server's for this move (otherwise the model the user chats with could be refused
for want of the very memory the move frees); only then, and only once. The conversation stays as it is:
every reply sends it whole, so the next one prefills it on the server's sequence. When the server refuses
the model (not in its library, over its memory budget, its other models busy), the chat keeps its own engine
and the banner says why; it asks again after each reply, since busy models become idle and files join the
library.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.chat import protocol as p

Request = tuple[str, p.EngineSettings]


class MoveToServer(QObject):
    _answered = Signal(object, object, object)  # (server, load request, MoveAnswer), queued to the GUI thread

    def __init__(self, page: Any) -> None:  # the ChatPage (app.ui.pages.chat), which makes this helper
        super().__init__(page)
        self._page = page
        self._asking = False
        self._wanted: Request | None = None  # the chat's model when the server started: it moves once it can
        self._told: tuple[Any, str] | None = None  # (server, refusal) the banner showed: said once per server
        self._loaded_at = float("inf")  # when the chat's model last finished loading (time.monotonic)
        page.ctx.local_server.changed.connect(self._server_changed)
        page.replyEnded.connect(self.consider)
        page.modelLoaded.connect(self._loaded)
        self._answered.connect(self._on_answered)

    def _loaded(self, _info: object) -> None:
        self._loaded_at = time.monotonic()
        self.consider()

    def _server_changed(self, serving: bool) -> None:
        # A model loaded later, while the server serves, went where the engine bridge sent it; not moved here.
        self._wanted = self._page.load_request if serving else None
        self._told = None
        self.consider()

    def _movable(self) -> tuple[Any, Request] | None:
        page = self._page
        server = page.ctx.local_server.server
        request = page.load_request
        if request is None or request != self._wanted:
            return None
        if server is None or server.loop is None or request is None or request[1].rpc_workers:
            return None  # a chat over RPC workers keeps its own engine, as a load would
        if not page.engine.own_model or page.model_info is None or page.streaming or page.loading:
            return None  # nothing of its own to move, or not now: after the reply or the load
        return server, request

    def consider(self) -> None:
        """Asks the server (off the GUI thread) whether the chat's model can move to it, when it can be moved."""
        movable = self._movable()
        if movable is None or self._asking:
            return
        self._asking = True
        threading.Thread(target=self._ask, args=(*movable, self._loaded_at), name="chat-move", daemon=True).start()

    def _ask(self, server: Any, request: Request, loaded_at: float) -> None:
        from app.core.errors import AppError
        from app.server.shared_chat import MoveAnswer, move_refusal

        try:
            answer = move_refusal(server.state, server.loop, request[0], request[1], loaded_at)
        except AppError as exc:  # the model file cannot be read
            answer = MoveAnswer(str(exc))
        self._answered.emit(server, request, answer)

    def _on_answered(self, server: Any, request: Request, answer: Any) -> None:
        self._asking = False
        page = self._page
        if self._movable() != (server, request):  # a reply or another load began meanwhile: asked again after it
            return
        refusal: str | None = answer.refusal
        if refusal is not None:
            if self._told != (server, refusal):
                self._told = (server, refusal)
                page.banner.show_text(f"This chat stays on its own engine: {refusal[:1].lower() + refusal[1:]}.",
                                      error=False)
            return
        self._wanted = None
        page.engine.hand_over_own(answer.freed)  # its copy goes before the server counts that memory and loads one
        page.load_model(*request)
        page.model_label.setText(f"Moving {Path(request[0]).name} to the local server's engine…")
