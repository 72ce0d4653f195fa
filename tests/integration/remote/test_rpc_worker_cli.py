"""`gguf-studio rpc-worker` as a user runs it: loopback by default, a LAN address only with --allow-lan."""

from __future__ import annotations

import re
import signal
import socket
import subprocess

import pytest

from app.remote.ggml_backend import rpc_supported
from app.remote.rpc_probe import probe
from tests.support.cli import app_command, run_cli
from tests.support.models import REPO_ROOT


def test_a_lan_address_needs_allow_lan() -> None:
    result = run_cli("rpc-worker", "--host", "0.0.0.0")
    assert result.returncode == 1
    assert "without any password" in result.stderr and "--allow-lan" in result.stderr


@pytest.mark.skipif(not rpc_supported(), reason="llama.cpp built without GGML_RPC")
def test_the_worker_serves_until_interrupted() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(app_command("rpc-worker", "--port", str(port), "--threads", "1"), cwd=REPO_ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith(f"RPC worker listening on 127.0.0.1:{port}"), line
        assert re.match(r"\s+CPU: .*free of", process.stdout.readline())
        worker = probe(f"127.0.0.1:{port}")
        assert worker.devices and worker.devices[0].total > 0
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=60)
        assert process.returncode == 0
        assert "no authentication and no encryption" in err
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.skipif(not rpc_supported(), reason="llama.cpp built without GGML_RPC")
def test_chat_with_an_unreachable_worker_is_one_clear_line(gemma_model) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run_cli("chat", str(gemma_model), "--rpc", f"127.0.0.1:{port}", "--prompt", "hi", "--max-tokens", "4")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: Cannot reach the RPC worker 127.0.0.1:{port}")
