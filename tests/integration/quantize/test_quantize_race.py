"""Two quantize jobs aimed at one output name, through the real `gguf-studio quantize` in real processes:
one refuses at once with a clear message, the other's output is intact; a SIGKILLed job leaves no temporary
file and the next job succeeds (issue 15, finding 1)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from app.convert.converter import convert
from app.core.claim import claimed, temp_files
from app.gguf.reader import read_header
from app.library.index import HeaderIndex
from app.library.scan import scan_library
from tests.support import cli
from tests.support.models import REPO_ROOT
from tests.support.tiny_hf import make_tiny_hf

pytestmark = pytest.mark.slow

BUSY = "is being written by another job"
TRIALS = 10


@pytest.fixture(scope="module")
def tiny_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same tiny F32 model in two folders (`A/tiny.gguf`, `B/tiny.gguf`), as in the report."""
    root = tmp_path_factory.mktemp("race")
    (root / "A").mkdir()
    model = convert(make_tiny_hf(root / "hf", "llama3"), root / "A" / "tiny.gguf", "f32").path
    (root / "B").mkdir()
    return model, Path(shutil.copy2(model, root / "B" / "tiny.gguf"))


def _start(source: Path, out_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cli.app_command("quantize", str(source), "Q8_0", "--out-dir", str(out_dir), "--overwrite"),
        cwd=REPO_ROOT, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _tensor_data(path: Path) -> bytes:
    header = read_header(path)  # raises on a broken header
    with open(path, "rb") as f:
        f.seek(header.data_offset)
        return f.read()


def _listed(folder: Path, tmp_path: Path) -> list[str]:
    entries = scan_library([folder], HeaderIndex(tmp_path / "index.sqlite"))
    return sorted(name.name for entry in entries for name in entry.files)


def _leftovers(out_dir: Path) -> list[str]:
    return sorted(p.name for p in out_dir.iterdir() if p.name.endswith((".part", ".lock")))


def test_two_jobs_on_one_name_never_corrupt_the_output(tiny_pair: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = tiny_pair
    clean_dir = tmp_path / "clean"
    done = cli.run_cli("quantize", str(a), "Q8_0", "--out-dir", str(clean_dir), timeout=300)
    assert done.returncode == 0, done.stderr
    clean = _tensor_data(clean_dir / "tiny-Q8_0.gguf")
    for trial in range(TRIALS):
        out_dir = tmp_path / f"d{trial}"
        first = _start(a, out_dir)
        time.sleep(0.05 * (trial % 5))  # land the second job at different points of the first
        second = _start(b, out_dir)
        results = [(job.wait(300), *job.communicate()) for job in (first, second)]
        for rc, _out, err in results:
            assert rc == 0 or BUSY in err, err  # a loser says why, never "see the log"
        assert any(rc == 0 for rc, _o, _e in results)
        assert _tensor_data(out_dir / "tiny-Q8_0.gguf") == clean
        assert _leftovers(out_dir) == []
        assert _listed(out_dir, tmp_path) == ["tiny-Q8_0.gguf"]


def test_a_name_in_use_is_refused_at_once_and_left_alone(tiny_pair: tuple[Path, Path], tmp_path: Path) -> None:
    a, _b = tiny_pair
    out = tmp_path / "tiny-Q8_0.gguf"
    out.write_bytes(b"the first job's bytes")
    with claimed([out]):  # this test process plays the first job, mid-write
        result = cli.run_cli("quantize", str(a), "Q8_0", "--out-dir", str(tmp_path), timeout=300)
        assert [p.name for p in tmp_path.glob("*.lock")] == ["tiny-Q8_0.gguf.lock"]
        assert _listed(tmp_path, tmp_path) == ["tiny-Q8_0.gguf"]  # the lock file is never listed
    assert result.returncode != 0
    assert f"{out} {BUSY} (process {os.getpid()})" in result.stderr, result.stderr
    assert out.read_bytes() == b"the first job's bytes"
    assert _leftovers(tmp_path) == []


def test_a_killed_job_leaves_no_temporary_file(gemma_model: Path, tmp_path: Path) -> None:
    out = tmp_path / f"{gemma_model.stem}-Q8_0.gguf"
    job = _start(gemma_model, tmp_path)
    deadline = time.monotonic() + 300
    parts: list[Path] = []
    while not parts and job.poll() is None and time.monotonic() < deadline:
        parts = temp_files(out)
        time.sleep(0.01)
    assert parts, job.communicate()[1]
    child = int(parts[0].name.rsplit(".", 2)[-2].split("-")[0])  # `<out>.<pid>-<random>.part`
    assert child != job.pid  # the job's own process wrote it; the command's process survives to clean up
    os.kill(child, signal.SIGKILL)
    _out, err = job.communicate(timeout=120)
    assert job.returncode != 0, err
    assert _leftovers(tmp_path) == [] and not out.exists()
    again = cli.run_cli("quantize", str(gemma_model), "Q8_0", "--out-dir", str(tmp_path), timeout=600)
    assert again.returncode == 0, again.stderr
    assert read_header(out).tensors and _leftovers(tmp_path) == []
