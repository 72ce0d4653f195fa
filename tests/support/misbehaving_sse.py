"""A small OpenAI-style server on 127.0.0.1 that misbehaves on purpose; the model name picks how:
`keepalive` (comments between chunks, then [DONE]), `drop` (the connection cut in the middle of a chunked
stream), `eof` (a clean close without finish or [DONE]), `error-frame` (an error object mid-stream),
`e401`, `e403`, `e404`, `e500` (that status before any stream)."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WORDS = ["Hello", " there", ",", " friend"]


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = {"id": "x", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta,
                                                                       "finish_reason": finish}]}
    return f"data: {json.dumps(body)}\n\n".encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        if self.path == "/v1/models":
            self._json(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in
                                                        ("keepalive", "drop", "eof", "error-frame")]})
        else:
            self._json(404, {"error": {"message": "no such path"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        model = json.loads(self.rfile.read(length))["model"]
        if model.startswith("e") and model[1:].isdigit():
            self._json(int(model[1:]), {"error": {"message": f"refused with {model[1:]}", "type": "x"}})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        if model == "eof":
            self.send_header("Connection", "close")
            self.end_headers()
            for word in WORDS[:2]:
                self.wfile.write(_chunk({"content": word}))
            self.wfile.flush()
            self.close_connection = True
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def send(data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        send(b": connected\n\n")
        send(_chunk({"role": "assistant", "content": ""}))
        for i, word in enumerate(WORDS):
            send(_chunk({"content": word}))
            if model == "keepalive":
                send(b": keep-alive\n\n")
            if model == "drop" and i == 1:
                self.wfile.write(b"40\r\ndata: {\"choi")  # half a chunk, then the connection goes
                self.wfile.flush()
                self.close_connection = True
                return
            if model == "error-frame" and i == 2:
                send(b'data: {"error": {"message": "the engine crashed"}}\n\n')
                send(b"")
                return
        send(_chunk({}, "stop"))
        send(b"data: [DONE]\n\n")
        send(b"")

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@contextlib.contextmanager
def misbehaving_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
