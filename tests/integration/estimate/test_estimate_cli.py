"""`gguf-studio estimate` through the real entry point, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.chat.protocol import EngineSettings
from app.estimate.hardware import probe_spec
from app.estimate.shape import shape_from_header
from app.estimate.view import engine_estimate
from app.gguf import read_model
from tests.fakehub.catalogue import GEMMA_REPO
from tests.fakehub.server import FakeHub

REPO_ROOT = Path(__file__).resolve().parents[3]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", "estimate", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=os.environ.copy(),
        timeout=120,
    )


@pytest.mark.slow
def test_json_report(gemma_model: Path) -> None:
    result = cli(str(gemma_model), "--ctx", "2048", "--ngl", "0", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    # the default is what the app's engine allocates on this machine (CPU features decide the repacking)
    shape = shape_from_header(read_model(gemma_model))
    expected = engine_estimate(shape, EngineSettings(n_ctx=2048, n_gpu_layers=0), probe_spec())
    assert data["kv_bytes"] == expected.kv_bytes == 21 * 1024 * 1024
    plain, repacked = expected.host_weight_buffers
    assert data["weights"] == {"gpu": 0, "cpu": plain, "cpu_repacked": repacked}
    assert data["compute"] == {"gpu": 0, "cpu": expected.compute.cpu}
    assert data["n_gpu_layers"] == 0 and data["verdict"] in ("cpu_only", "wont_fit")
    assert data["ram_bytes"] == expected.ram_bytes and data["vram_bytes"] == 0
    assert data["load_settings"]["n_outputs_max"] == 1 and data["as"] == "engine"
    assert data["kv"]["cells_swa"] == 1024


@pytest.mark.slow
def test_text_report_with_auto_layers(gemma_model: Path) -> None:
    result = cli(str(gemma_model), "--ctx", "8192", "--kv-type", "q8_0", "--flash-attn")
    assert result.returncode == 0, result.stderr
    assert "KV cache" in result.stdout and "verdict" in result.stdout and "RAM" in result.stdout


def test_quantized_v_without_flash_attention_is_refused(gemma_model: Path) -> None:
    result = cli(str(gemma_model), "--kv-type", "q4_0", "--flash-attn", "off")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: a quantized V cache (q4_0) needs flash attention "
        "(turn flash attention on (or auto), or use an f16 V cache)"
    ]


def test_garbage_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf file at all")
    result = cli(str(bad))
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: ")


@pytest.mark.slow
def test_remote_header(fake_hub_gemma: FakeHub, gemma_model: Path) -> None:
    url = f"{fake_hub_gemma.url}/{GEMMA_REPO}/resolve/main/{gemma_model.name}"
    result = cli(url, "--ctx", "4096", "--ngl", "0", "--json")
    assert result.returncode == 0, result.stderr
    local = cli(str(gemma_model), "--ctx", "4096", "--ngl", "0", "--json")
    remote_data, local_data = json.loads(result.stdout), json.loads(local.stdout)
    for key in ("kv_bytes", "weights", "compute", "n_gpu_layers"):
        assert remote_data[key] == local_data[key]
