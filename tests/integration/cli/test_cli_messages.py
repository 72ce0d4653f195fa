"""CLI messages a new user meets (#16 item 11), through the real entry point in a child process."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fakehub.catalogue import NON_GGUF_REPO
from tests.fakehub.server import FakeHub
from tests.support.cli import run_cli


def _notes(tmp_path: Path) -> Path:
    path = tmp_path / "notes.gguf"
    path.write_text("this is a text file someone named .gguf\n")
    return path


def test_chat_with_a_text_file_says_it_is_not_a_gguf_file(tmp_path: Path) -> None:
    result = run_cli("chat", str(_notes(tmp_path)), "--prompt", "hi")
    assert result.returncode == 1
    assert result.stderr.strip() == 'error: notes.gguf is not a GGUF file: it starts with "this", not GGUF'
    assert "llama.cpp" not in result.stderr


def test_inspect_names_the_file_without_python_bytes_notation(tmp_path: Path) -> None:
    result = run_cli("inspect", str(_notes(tmp_path)))
    assert result.returncode == 1
    assert result.stderr.startswith("error: notes.gguf is not a GGUF file")
    assert "b'" not in result.stderr and "magic" not in result.stderr
    short = tmp_path / "short.gguf"
    short.write_bytes(b"GG")
    result = run_cli("inspect", str(short))
    assert result.returncode == 1 and result.stderr.startswith("error: short.gguf is not a GGUF file")


def test_chat_warns_about_a_context_longer_than_the_trained_one(gemma_model: Path) -> None:
    result = run_cli("chat", str(gemma_model), "--prompt", "Hello", "--template", "raw", "--max-tokens", "1",
                     "--ctx", "40960", "--temp", "0")
    assert result.returncode == 0, result.stderr
    assert "longer than the 32,768 this model was trained on" in result.stderr


def test_files_with_an_invalid_repo_id_is_a_local_message(fake_hub: FakeHub) -> None:
    result = run_cli("files", "bad repo id!")
    assert result.returncode == 1
    assert "'bad repo id!' is not a Hub repository id" in result.stderr
    assert "Unexpected answer from the Hub" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_files_on_a_safetensors_repo_points_to_quantize(fake_hub: FakeHub) -> None:
    result = run_cli("files", NON_GGUF_REPO)
    assert result.returncode == 1
    assert f"gguf-studio quantize {NON_GGUF_REPO}" in result.stderr and ".safetensors" in result.stderr
    assert "smaller model" not in result.stderr + result.stdout
    as_json = run_cli("files", NON_GGUF_REPO, "--json")
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert report["quants"] == [] and report["quantize_command"].startswith(f"gguf-studio quantize {NON_GGUF_REPO}")


def test_interactive_chat_counts_one_token_without_a_zero_speed(gemma_model: Path) -> None:
    result = run_cli("chat", str(gemma_model), "--template", "raw", "--max-tokens", "1", "--ctx", "512",
                     "--temp", "0", stdin="Hello\n/exit\n")
    assert result.returncode == 0, result.stderr
    assert "[1 token, context " in result.stderr and "tok/s" not in result.stderr
