"""An architecture we cannot convert is refused from config.json alone: no weight is ever requested.

The real huggingface_hub client talks to the fake Hub; its request log shows what was fetched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.errors import ConvertError
from app.quantize.source import convertible_files, fetch_repo
from tests.fakehub.repo import FakeRepo
from tests.fakehub.server import FakeHub
from tests.support.models import REPO_ROOT
from tests.support.quiet_progress import QuietProgress


def _repo(hub: FakeHub, repo_id: str, architecture: str, **extra: object) -> FakeRepo:
    repo = hub.add_repo(FakeRepo(repo_id))
    config = {"architectures": [architecture], "model_type": "x", "num_hidden_layers": 2, "hidden_size": 64, **extra}
    repo.add_file("config.json", json.dumps(config).encode())
    repo.add_file("tokenizer.json", b"{}")
    repo.add_file("model-00001-of-00002.safetensors", b"\0" * 4096, lfs=True)
    repo.add_file("model-00002-of-00002.safetensors", b"\0" * 4096, lfs=True)
    return repo


def _weights_requested(hub: FakeHub) -> list[str]:
    return [r.path for r in hub.requests if ".safetensors" in r.path]


def test_unsupported_architecture_is_refused_before_any_weight(fake_hub_empty: FakeHub, tmp_path: Path) -> None:
    _repo(fake_hub_empty, "tiny-org/hybrid", "BloomForCausalLM")
    with pytest.raises(ConvertError) as caught:
        fetch_repo("tiny-org/hybrid", tmp_path / "models", QuietProgress())
    assert "BloomForCausalLM is not supported" in str(caught.value)
    hint = caught.value.hint or ""
    assert "Qwen3 MoE (Qwen3MoeForCausalLM)" in hint and "convert_hf_to_gguf.py" in hint
    assert fake_hub_empty.requests_for("config.json"), "config.json is what the verdict is drawn from"
    assert _weights_requested(fake_hub_empty) == []
    assert not any((tmp_path / "models").rglob("*.safetensors"))


def test_supported_architecture_lists_its_files_without_fetching_weights(fake_hub_empty: FakeHub) -> None:
    _repo(fake_hub_empty, "tiny-org/moe", "Qwen3MoeForCausalLM")
    names = convertible_files("tiny-org/moe")
    assert "config.json" in names and "model-00002-of-00002.safetensors" in names
    assert _weights_requested(fake_hub_empty) == []


def test_cli_refuses_with_the_way_out(fake_hub_empty: FakeHub) -> None:
    _repo(fake_hub_empty, "tiny-org/hybrid", "BloomForCausalLM")
    result = subprocess.run(
        [sys.executable, "-m", "app", "convert", "tiny-org/hybrid"],
        cwd=REPO_ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "BloomForCausalLM is not supported" in result.stderr
    assert "convert_hf_to_gguf.py" in result.stderr
    assert _weights_requested(fake_hub_empty) == []


def test_a_family_variant_we_do_not_convert_is_refused_from_its_config(
    fake_hub_empty: FakeHub, tmp_path: Path
) -> None:
    """Nemotron-H converts, with or without experts; a layer pattern with kinds llama.cpp does not know is
    refused at once."""
    _repo(fake_hub_empty, "nvidia/tiny-nemotron-odd", "NemotronHForCausalLM", hybrid_override_pattern="M?")
    with pytest.raises(ConvertError) as caught:
        fetch_repo("nvidia/tiny-nemotron-odd", tmp_path / "models", QuietProgress())
    assert "kinds llama.cpp does not know" in str(caught.value)
    assert _weights_requested(fake_hub_empty) == []
    _repo(fake_hub_empty, "nvidia/tiny-nemotron", "NemotronHForCausalLM", hybrid_override_pattern="M*")
    assert "model-00001-of-00002.safetensors" in convertible_files("nvidia/tiny-nemotron")
    _repo(fake_hub_empty, "nvidia/tiny-nemotron-moe", "NemotronHForCausalLM", hybrid_override_pattern="ME")
    assert "model-00001-of-00002.safetensors" in convertible_files("nvidia/tiny-nemotron-moe")
    assert _weights_requested(fake_hub_empty) == []
