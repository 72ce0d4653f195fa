"""Reading the metadata and tensor infos of Gemma 3 270M Q4_K_M (262k vocabulary):
app.gguf (median of N runs, local file, bytes and ranged) beside gguf-py's GGUFReader (one run: slow).
Also the number of range requests a remote read needs.

Targets: local read <= 20 ms, >= 1000x faster than GGUFReader, <= 3 range requests.
Usage: PYTHONPATH=. .venv/bin/python benchmarks/gguf_read.py [--runs N] [--skip-gguf-py]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import median, print_table, write_results

TARGET_MS = 20.0
TARGET_SPEEDUP = 1000.0
TARGET_REQUESTS = 3


def _timed(fn: object, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--skip-gguf-py", action="store_true", help="do not run gguf-py's GGUFReader")
    args = parser.parse_args()

    from app.gguf import read_header, read_header_bytes, read_header_ranged
    from tests.support.models import gemma_path

    path = gemma_path()
    size = path.stat().st_size
    first = time.perf_counter()
    header = read_header(path)  # also the first-call cost: compiling the scan pattern, importing tables
    first_ms = (time.perf_counter() - first) * 1000
    local = _timed(lambda: read_header(path), args.runs)
    with open(path, "rb") as f:
        prefix = f.read(header.data_offset)
    in_memory = _timed(lambda: read_header_bytes(prefix, file_size=size), args.runs)

    requests: list[tuple[int, int]] = []

    def fetch(start: int, end: int) -> bytes:
        requests.append((start, end))
        with open(path, "rb") as f:
            f.seek(start)
            return f.read(end - start)

    ranged = _timed(lambda: read_header_ranged(fetch, size), args.runs)
    n_requests = len(requests) // args.runs
    fetched = sum(end - start for start, end in requests) // args.runs

    gguf_py_ms: float | None = None
    if not args.skip_gguf_py:
        import gguf

        start = time.perf_counter()
        reader = gguf.GGUFReader(path)
        gguf_py_ms = (time.perf_counter() - start) * 1000
        assert len(reader.tensors) == len(header.tensors)

    ours = median(local)
    speedup = gguf_py_ms / ours if gguf_py_ms else None
    rows: list[list[object]] = [
        ["app.gguf read_header (file)", f"{ours:.2f}", f"{min(local):.2f}", args.runs],
        ["app.gguf read_header_bytes", f"{median(in_memory):.2f}", f"{min(in_memory):.2f}", args.runs],
        ["app.gguf read_header_ranged", f"{median(ranged):.2f}", f"{min(ranged):.2f}", args.runs],
        ["app.gguf first call in process", f"{first_ms:.2f}", "", 1],
    ]
    if gguf_py_ms is not None:
        rows.append(["gguf-py GGUFReader", f"{gguf_py_ms:.0f}", "", 1])
    print(
        f"{path.name}: {size / 2**20:.1f} MiB, header {header.data_offset / 2**20:.2f} MiB, "
        f"{len(header.metadata)} keys, {len(header.tensors)} tensors, load average {os.getloadavg()[0]:.1f}"
    )
    print_table(["reader", "median ms", "min ms", "runs"], rows)
    print(f"range requests per remote read: {n_requests} ({fetched / 2**20:.1f} MiB fetched)")
    verdicts = [
        f"read <= {TARGET_MS:.0f} ms: {'yes' if ours <= TARGET_MS else 'NO'} ({ours:.2f} ms)",
        f"requests <= {TARGET_REQUESTS}: {'yes' if n_requests <= TARGET_REQUESTS else 'NO'} ({n_requests})",
    ]
    if speedup is not None:
        verdicts.append(
            f">= {TARGET_SPEEDUP:.0f}x gguf-py: {'yes' if speedup >= TARGET_SPEEDUP else 'NO'} ({speedup:.0f}x)"
        )
    for line in verdicts:
        print(line)
    out = write_results(
        "gguf_read",
        {
            "file": path.name,
            "file_size": size,
            "header_bytes": header.data_offset,
            "n_tensors": len(header.tensors),
            "runs": args.runs,
            "load_average": os.getloadavg()[0],
            "read_header_ms": {"median": ours, "min": min(local), "all": local},
            "read_header_bytes_ms": {"median": median(in_memory), "min": min(in_memory)},
            "read_header_ranged_ms": {"median": median(ranged), "min": min(ranged)},
            "first_call_ms": first_ms,
            "gguf_py_ms": gguf_py_ms,
            "speedup": speedup,
            "range_requests": n_requests,
            "range_bytes": fetched,
            "targets": {"ms": TARGET_MS, "speedup": TARGET_SPEEDUP, "requests": TARGET_REQUESTS},
        },
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
