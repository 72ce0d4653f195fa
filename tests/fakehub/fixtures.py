"""pytest fixtures for the fake Hub, registered for the whole suite by tests/conftest.py (`pytest_plugins`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakehub.catalogue import build_default_catalogue
from tests.fakehub.server import FakeHub

__all__ = ["fake_hub", "fake_hub_empty", "fake_hub_gemma", "hf_token_in_tmp"]


def _serve(monkeypatch: pytest.MonkeyPatch, hub: FakeHub) -> Iterator[FakeHub]:
    hub.start()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    try:
        yield hub
    finally:
        hub.stop()


@pytest.fixture(autouse=True)
def hf_token_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """huggingface_hub fixes its token paths at import time (from HF_HOME); point them into tmp_path too."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "hf-home" / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "hf-home" / "stored_tokens"))


@pytest.fixture
def fake_hub_empty(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """A running fake Hub with no repositories; HF_ENDPOINT points at it."""
    yield from _serve(monkeypatch, FakeHub())


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """A running fake Hub holding the default catalogue (see tests/fakehub/catalogue.py)."""
    yield from _serve(monkeypatch, build_default_catalogue(FakeHub()))


@pytest.fixture
def fake_hub_gemma(monkeypatch: pytest.MonkeyPatch, gemma_model: Path) -> Iterator[FakeHub]:
    """The default catalogue plus GEMMA_REPO serving the real Gemma 3 270M Q4_K_M file from disk."""
    yield from _serve(monkeypatch, build_default_catalogue(FakeHub(), gemma=gemma_model))
