"""`gguf-studio serve` as the user runs it."""

from __future__ import annotations

import signal
import socket
import subprocess
from pathlib import Path

import pytest

from tests.support.api_server import http, wait_until
from tests.support.cli import app_command, run_cli
from tests.support.models import REPO_ROOT


def test_serving_beyond_this_machine_needs_a_key() -> None:
    result = run_cli("serve", "--host", "0.0.0.0")
    assert result.returncode == 1
    assert "needs a key" in result.stderr and "--api-key" in result.stderr


def test_a_missing_key_file_is_an_error(tmp_path: Path) -> None:
    result = run_cli("serve", "--api-key-file", str(tmp_path / "nope"))
    assert result.returncode == 1 and "Cannot read the API key file" in result.stderr


@pytest.mark.slow
def test_serve_answers_with_the_key_from_a_file(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("file-key-42\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(app_command("serve", "--port", str(port), "--api-key-file", str(key_file),
                                           "--parallel", "3"),
                               cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return http("GET", f"{base}/health", timeout=2)[0] == 200
            except OSError:
                return process.poll() is not None

        wait_until(up, "the server listens")
        assert process.poll() is None
        assert http("GET", f"{base}/v1/models")[0] == 401
        status, body = http("GET", f"{base}/v1/models", headers={"Authorization": "Bearer file-key-42"})
        assert status == 200 and body == {"object": "list", "data": []}  # the test's library is empty
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "file-key-42" not in out + err
    assert "3 requests at once per model" in out


def test_parallel_out_of_range_is_an_error() -> None:
    result = run_cli("serve", "--parallel", "0")
    assert result.returncode == 1 and "parallel requests" in result.stderr
