"""Library scan of 100 generated GGUF files with a large vocabulary (151,936 tokens, Qwen-sized).

Cold: an empty index, every header read. Warm: the index is current, so no header is read (a stat per
file and one SQLite query). The files share one real header and are sparse beyond it, so 100 of them
take little disk. "Cold" means a cold index; the OS page cache is warm in both cases.
Targets: warm ≤ 0.2 s, cold ≤ 2 s.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median, print_table, write_results

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
N_FILES = 100
N_VOCAB = 151_936
RUNS = 5


def make_library(root: Path) -> Path:
    from app.gguf.reader import read_header
    from tests.support.tiny_gguf import TinySpec, write_tiny_gguf

    seed_dir = root / "seed"
    seed_dir.mkdir(parents=True)
    seed = write_tiny_gguf(seed_dir / "seed.gguf", TinySpec(n_vocab=N_VOCAB, tensor_type="Q8_0", name="Bench"))
    header = read_header(seed)
    head = seed.read_bytes()[: header.data_offset]
    models = root / "models"
    for i in range(N_FILES):
        folder = models / f"pub{i % 10}" / f"Model-{i:03d}-GGUF"
        folder.mkdir(parents=True)
        with open(folder / f"Model-{i:03d}-Q8_0.gguf", "wb") as handle:
            handle.write(head)
            handle.truncate(header.file_size)  # tensor data: a sparse hole
    shutil.rmtree(seed_dir)
    return models


def timed_scan(models: Path, index_path: Path, cold: bool) -> tuple[float, int]:
    from app.library.index import HeaderIndex
    from app.library.scan import scan_library

    if cold and index_path.exists():
        index_path.unlink()
    start = time.perf_counter()
    entries = scan_library([models], HeaderIndex(index_path))
    seconds = time.perf_counter() - start
    assert len(entries) == N_FILES and all(e.usable for e in entries), "scan lost or failed a model"
    return seconds, len(entries)


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="gguf-bench-library-", dir="/tmp"))
    os.environ["GGUF_STUDIO_HOME"] = str(work / "home")
    try:
        models = make_library(work)
        index_path = work / "library.sqlite"
        cold = [timed_scan(models, index_path, cold=True)[0] for _ in range(RUNS)]
        warm = [timed_scan(models, index_path, cold=False)[0] for _ in range(RUNS)]
        sample = next(models.rglob("*.gguf"))
        header_bytes = sample.stat().st_blocks * 512
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = [
        ("cold (empty index)", f"{median(cold):.3f}", f"{max(cold):.3f}", "≤ 2 s"),
        ("warm (index current)", f"{median(warm):.4f}", f"{max(warm):.4f}", "≤ 0.2 s"),
    ]
    print(f"{N_FILES} GGUF files, vocabulary {N_VOCAB:,} tokens, ~{header_bytes / 1e6:.1f} MB of header each")
    print_table(("scan", f"median of {RUNS} (s)", "worst (s)", "target"), rows)
    path = write_results(
        "library_scan",
        {
            "files": N_FILES,
            "vocab": N_VOCAB,
            "cold_seconds": cold,
            "warm_seconds": warm,
            "targets": {"cold_seconds": 2.0, "warm_seconds": 0.2},
        },
    )
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
