"""`gguf-studio chat` through the real entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.models import REPO_ROOT

pytestmark = pytest.mark.slow


def chat(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", "chat", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=180, input=stdin)


def test_one_shot_json(gemma_model: Path) -> None:
    result = chat(str(gemma_model), "--prompt", "The sky is", "--template", "raw", "--ctx", "512",
                  "--threads", "2", "--max-tokens", "8", "--temp", "0", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) >= {"text", "tokens", "tokens_per_second", "ttft_ms"}
    assert data["tokens"] == 8 and data["text"] and data["tokens_per_second"] > 0 and data["ttft_ms"] > 0


def test_model_without_template_asks_for_a_choice(gemma_model: Path) -> None:
    result = chat(str(gemma_model), "--prompt", "Hi", "--ctx", "512")
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "--template raw" in result.stderr


def test_interactive_session(gemma_model: Path) -> None:
    result = chat(str(gemma_model), "--template", "gemma", "--ctx", "512", "--threads", "2", "--max-tokens", "6",
                  "--system", "Be brief.", stdin="Hello\nAnd again\n/exit\n")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("tok/s") == 2


def test_missing_model_is_one_line_error(tmp_path: Path) -> None:
    result = chat(str(tmp_path / "nope.gguf"), "--prompt", "x")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: Model file not found")
