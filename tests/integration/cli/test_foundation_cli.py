"""The real entry point in a subprocess: doctor, screenshot, errors and usage."""

from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtGui import QImage

from tests.support.cli import run_cli


def test_doctor_json_reports_this_machine() -> None:
    result = run_cli("doctor", "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    report = json.loads(result.stdout)
    meminfo = {line.split(":")[0]: int(line.split()[1]) * 1024
               for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")}
    assert abs(report["ram_total"] - meminfo["MemTotal"]) <= 0.01 * meminfo["MemTotal"]
    assert isinstance(report["gpus"], list)
    assert report["offload"] is (bool(report["gpus"]) and report["llama"]["gpu_offload"])
    assert report["versions"]["llama-cpp-python"] == "0.3.36"
    assert report["paths"]["logs"].startswith(os.environ["GGUF_STUDIO_HOME"])


def test_doctor_text() -> None:
    result = run_cli("doctor")
    assert result.returncode == 0, result.stderr
    assert "RAM" in result.stdout and "llama.cpp" in result.stdout


def test_screenshot_writes_a_non_blank_png(tmp_path: Path) -> None:
    out = tmp_path / "discover.png"
    result = run_cli("screenshot", "--page", "discover", "--out", str(out), "--size", "1100x700")
    assert result.returncode == 0, result.stderr
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1100, 700)
    colours = {image.pixel(x, y) for x in range(0, 1100, 25) for y in range(0, 700, 25)}
    assert len(colours) > 3


def test_unknown_page_is_one_error_line(tmp_path: Path) -> None:
    result = run_cli("screenshot", "--page", "nope", "--out", str(tmp_path / "x.png"))
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_usage_error_exits_2() -> None:
    result = run_cli("no-such-verb")
    assert result.returncode == 2


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("gguf-studio ")


def test_self_test_checks_window_reader_and_engine() -> None:
    result = run_cli("--self-test", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[:3]] == ["ok", "ok", "ok"]
    assert "passed" in lines[-1]


def test_broken_pipe_is_quiet(monkeypatch, capfd) -> None:
    from app import cli
    from app.commands import doctor

    def reader_went_away(_args: object) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(doctor, "run", reader_went_away)
    assert cli.main(["doctor"]) == 0
    assert "error" not in capfd.readouterr().err


def test_screenshot_opens_a_page_with_a_model(tmp_path: Path) -> None:
    from tests.support.tiny_gguf import TinySpec, write_tiny_gguf

    model = write_tiny_gguf(tmp_path / "tiny.gguf", TinySpec())
    out = tmp_path / "quantize.png"
    result = run_cli("screenshot", "--page", "quantize", "--model", str(model), "--out", str(out), "--wait", "10")
    assert result.returncode == 0, result.stderr
    assert QImage(str(out)).width() == 1280
