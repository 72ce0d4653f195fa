"""`gguf-studio inspect` through the real entry point, and remote reads against a local range server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from app.core.errors import GGUFError, NotFoundError
from app.gguf.remote import RemoteFile, read_header_url
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf

REPO = Path(__file__).resolve().parents[3]


def _inspect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", "inspect", *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_tiny_gguf(tmp_path / "tiny-Q8_0.gguf", TinySpec(tensor_type="Q8_0", n_head_kv=[2, 1]))


def test_inspect_text(tiny: Path) -> None:
    result = _inspect(str(tiny))
    assert result.returncode == 0, result.stderr
    assert "architecture    deci" in result.stdout
    assert "KV heads        2, 1" in result.stdout
    assert "Q8_0" in result.stdout and "total" in result.stdout


def test_inspect_json(tiny: Path) -> None:
    result = _inspect(str(tiny), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["n_head_kv"] == [2, 1]
    assert report["file_type"] == "Q8_0"
    assert report["file_size"] == tiny.stat().st_size
    assert sum(g["count"] for g in report["tensor_types"]) == report["n_tensors"] == 21
    assert {g["type"] for g in report["tensor_types"]} == {"Q8_0", "F32"}
    assert report["metadata"]["tokenizer.ggml.tokens"] == {"array_of": "STRING", "count": 512}


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "missing"])
def test_damaged_file_exits_1_with_one_error_line(tiny: Path, damage: str) -> None:
    data = tiny.read_bytes()
    bad = tiny.with_name("bad.gguf")
    if damage == "truncated":
        bad.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        bad.write_bytes(os.urandom(4096))
    elif damage == "empty":
        bad.write_bytes(b"")
    result = _inspect(str(bad))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


class _RangeServer(BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}
    log: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.log.append(f"{self.path} {self.headers.get('range')}")
        if self.path.startswith("/redirect/"):
            self.send_response(302)
            self.send_header("Location", self.path.removeprefix("/redirect"))
            self.end_headers()
            return
        data = self.files.get(self.path)
        if data is None:
            self.send_response(404)
            self.end_headers()
            return
        first, _, last = self.headers["range"].removeprefix("bytes=").partition("-")
        start, end = int(first), min(int(last), len(data) - 1)
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        self.wfile.write(data[start : end + 1])

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _RangeServer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _RangeServer.log.clear()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_remote_header_over_http_ranges(server: str, tiny: Path) -> None:
    _RangeServer.files["/m/tiny.gguf"] = tiny.read_bytes()
    header = read_header_url(f"{server}/redirect/m/tiny.gguf")
    # one ranged GET, redirected once: the first chunk holds the whole tiny header
    assert _RangeServer.log == ["/redirect/m/tiny.gguf bytes=0-2097151", "/m/tiny.gguf bytes=0-2097151"]
    assert header.tensors == read_header_url(f"{server}/m/tiny.gguf").tensors
    assert header.file_size == tiny.stat().st_size


def test_remote_large_vocabulary_in_at_most_three_requests(server: str, tmp_path: Path) -> None:
    spec = TinySpec(n_vocab=150_000, n_embd=32, n_head=2, n_head_kv=1, n_ff=64, n_layer=1, tensor_type="F16")
    _RangeServer.files["/big.gguf"] = write_tiny_gguf(tmp_path / "big.gguf", spec).read_bytes()
    remote = RemoteFile(f"{server}/big.gguf")
    from app.gguf import read_header_ranged

    header = read_header_ranged(remote.fetch, remote.size)
    assert remote.requests <= 3
    assert header.metadata["tokenizer.ggml.tokens"].count == 150_000  # type: ignore[union-attr]


def test_remote_errors(server: str) -> None:
    with pytest.raises(NotFoundError):
        read_header_url(f"{server}/absent.gguf")
    _RangeServer.files["/junk.gguf"] = b"junk" * 100
    with pytest.raises(GGUFError, match="not a GGUF file"):
        read_header_url(f"{server}/junk.gguf")


def test_inspect_url(server: str, tiny: Path) -> None:
    _RangeServer.files["/tiny.gguf"] = tiny.read_bytes()
    result = _inspect(f"{server}/tiny.gguf", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["n_head_kv"] == [2, 1]


def test_inspect_a_gguf_without_a_model(tmp_path: Path) -> None:
    from app.gguf.values import ValueType
    from tests.unit.gguf.ggufbytes import Gguf, Tensor

    g = Gguf().add("general.type", ValueType.STRING, "imatrix")
    g.tensors = [Tensor("blk.0.ffn_up.weight.in_sum2", (64,), 0)]
    path = tmp_path / "imatrix.gguf"
    path.write_bytes(g.build())
    result = _inspect(str(path))
    assert result.returncode == 0, result.stderr
    assert "no model architecture (general.type: imatrix)" in result.stdout
    report = json.loads(_inspect(str(path), "--json").stdout)
    assert report["architecture"] is None and report["n_tensors"] == 1


def test_inspect_url_of_a_split_model(server: str, tmp_path: Path) -> None:
    first = write_tiny_gguf(tmp_path / "s.gguf", TinySpec(n_layer=3, split=3))
    for number in (1, 2, 3):
        name = f"s-0000{number}-of-00003.gguf"
        _RangeServer.files[f"/repo/resolve/main/{name}"] = (first.parent / name).read_bytes()
    result = _inspect(f"{server}/repo/resolve/main/s-00002-of-00003.gguf", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert len(report["files"]) == 3 and report["n_tensors"] == 30
