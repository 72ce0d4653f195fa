from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Fixtures every folder shares: the fake Hub (fake_hub, fake_hub_empty, fake_hub_gemma, autouse hf_token_in_tmp).
pytest_plugins = ["tests.fakehub.fixtures"]

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests never reach the real Hub: by default the endpoint is a closed local port (connection refused at once);
# tests that need a Hub use the tests/fakehub fixtures, which point HF_ENDPOINT at the fake server.
# Set before anything imports huggingface_hub, which reads it at import time.
NO_HUB = "http://127.0.0.1:9"
os.environ["HF_ENDPOINT"] = NO_HUB
os.environ["HF_HUB_OFFLINE"] = "0"
os.environ.pop("HF_TOKEN", None)
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every app path (config, data, cache, logs, models, HF token) lives under tmp_path."""
    home = tmp_path / "studio-home"
    monkeypatch.setenv("GGUF_STUDIO_HOME", str(home))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_ENDPOINT", NO_HUB)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    yield home


@pytest.fixture(scope="session")
def gemma_model() -> Path:
    from tests.support.models import gemma_path

    return gemma_path()


@pytest.fixture(scope="session")
def llama_cpp_sources() -> Path:
    """The pinned llama.cpp source tree (convert_hf_to_gguf.py, gguf-py, src/ …): the installed llama-cpp-python's
    sdist from PyPI, unpacked once into the user's cache (LLAMA_CPP_SRC overrides). Fails, never skips."""
    from tests.support.llama_sources import LlamaSourcesError
    from tests.support.llama_sources import llama_cpp_sources as sources

    try:
        return sources()
    except LlamaSourcesError as exc:
        pytest.fail(str(exc), pytrace=False)
