"""Reading the metadata and tensor infos of Gemma 3 270M Q4_K_M (262k vocabulary):
app.gguf (median of N runs, local file, bytes and ranged) beside gguf-py's GGUFReader (one run: slow).
Also the number of range requests a remote read needs, and the hostile headers of the fault-injection pass
(#15 item 6): each read locally (worst of --runs) and remotely (bytes fetched), and the first library scan of a
folder holding all of them.

Anchors, run alternately with the local read in the same process: the reader as it was at --anchor-rev (numpy
and regex string scans, Python tensor infos; taken from git) and a plain read of the header's bytes (the I/O
floor). Load averages are printed beside the figures: the machine may be shared.

Targets: local read <= 10 ms, >= 1000x faster than GGUFReader, <= 3 range requests; every hostile header
answered in < 0.5 s; the first scan of the hostile folder < 0.5 s per file. Each is printed as PASS or FAIL.
Usage: PYTHONPATH=. .venv/bin/python benchmarks/gguf_read.py [--runs N] [--skip-gguf-py] [--anchor-rev REV]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import median, print_table, write_results

TARGET_MS = 10.0
TARGET_HOSTILE_S = 0.5
TARGET_SPEEDUP = 1000.0
TARGET_REQUESTS = 3
ANCHOR_REV = "0fc567a"  # the last commit before the native walks (app/gguf/scan.py)
ROOT = Path(__file__).resolve().parents[1]


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def _verdict(ok: bool, text: str) -> str:
    return f"{'PASS' if ok else 'FAIL'}  {text}"


def _anchor_reader(rev: str) -> Callable[[Path], object] | None:
    """`read_header` of app/gguf/reader.py (and the scan.py it used) as they were at `rev`, loaded beside the
    current reader; None when git cannot give them (no repository, or the revision is missing)."""
    try:
        sources = {
            name: subprocess.run(
                ["git", "-C", str(ROOT), "show", f"{rev}:app/gguf/{name}.py"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            for name in ("scan", "reader")
        }
    except (OSError, subprocess.CalledProcessError):
        return None
    saved = sys.modules.get("app.gguf.scan")
    modules: dict[str, types.ModuleType] = {}
    for name, module_name in (("scan", "app.gguf.scan"), ("reader", "_anchor_gguf_reader")):
        module = types.ModuleType(module_name)
        sys.modules[module_name] = module  # dataclasses look their module up while the class is built
        exec(compile(sources[name], f"{rev}:app/gguf/{name}.py", "exec"), module.__dict__)
        modules[name] = module
    if saved is None:
        del sys.modules["app.gguf.scan"]
    else:
        sys.modules["app.gguf.scan"] = saved
    read: Callable[[Path], object] = modules["reader"].read_header
    return read


def _raw_read(path: Path, n_bytes: int) -> None:
    with open(path, "rb") as f:
        f.readinto(bytearray(n_bytes))


def _timed(fn: object, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    return times


def _hostile(gemma: Path, runs: int) -> tuple[list[list[object]], dict[str, object]]:
    """Each hostile header read `runs` times (the worst kept) and through ranged fetches; then the first scan
    of a library folder holding all of them, with an empty header index."""
    from _hostile_headers import write_hostile_headers

    from app.core.errors import GGUFError
    from app.gguf import read_header, read_header_ranged
    from app.library.index import HeaderIndex
    from app.library.scan import scan_library

    rows: list[list[object]] = []
    results: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        files = write_hostile_headers(Path(tmp) / "models", gemma)
        for name, file in files.items():
            times: list[float] = []
            answer = ""
            for _ in range(max(1, min(runs, 5))):
                start = time.perf_counter()
                try:
                    read_header(file)
                    answer = "read"
                except GGUFError as exc:
                    answer = str(exc)
                times.append(time.perf_counter() - start)
            data = file.read_bytes()
            fetched: list[int] = []

            def fetch(start: int, end: int, data: bytes = data, fetched: list[int] = fetched) -> bytes:
                fetched.append(end - start)
                return data[start:end]

            with contextlib.suppress(GGUFError):
                read_header_ranged(fetch, len(data))
            short = answer if len(answer) <= 70 else answer[:67] + "..."
            rows.append([name, f"{max(times):.3f}", short, f"{sum(fetched) / 2**20:.1f}"])
            results.append({"name": name, "worst_s": max(times), "answer": answer, "fetched": sum(fetched)})
        start = time.perf_counter()
        entries = scan_library([Path(tmp) / "models"], HeaderIndex(Path(tmp) / "index.sqlite"))
        first_scan = time.perf_counter() - start
        assert len(entries) == len(files) and all(e.error for e in entries)
    return rows, {"headers": results, "first_scan_s": first_scan}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--skip-gguf-py", action="store_true", help="do not run gguf-py's GGUFReader")
    parser.add_argument("--anchor-rev", default=ANCHOR_REV, help="git revision of the reader to run alongside")
    args = parser.parse_args()

    from app.gguf import read_header, read_header_bytes, read_header_ranged
    from tests.support.models import gemma_path

    load_before = _load()
    path = gemma_path()
    size = path.stat().st_size
    first = time.perf_counter()
    header = read_header(path)  # also the first-call cost: importing the native walks and tables
    first_ms = (time.perf_counter() - first) * 1000
    anchor = _anchor_reader(args.anchor_rev)
    if anchor is not None:
        anchor(path)  # its first call compiles the scan pattern
    local: list[float] = []
    old: list[float] = []
    raw: list[float] = []
    for _ in range(args.runs):  # interleaved, so a busy moment hits all three alike
        local += _timed(lambda: read_header(path), 1)
        if anchor is not None:
            old += _timed(lambda: anchor(path), 1)  # type: ignore[misc]
        raw += _timed(lambda: _raw_read(path, header.data_offset), 1)
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
    load_after_reads = _load()

    gguf_py_ms: float | None = None
    if not args.skip_gguf_py:
        import gguf

        start = time.perf_counter()
        reader = gguf.GGUFReader(path)
        gguf_py_ms = (time.perf_counter() - start) * 1000
        assert len(reader.tensors) == len(header.tensors)

    hostile_rows, hostile = _hostile(path, args.runs)

    ours = median(local)
    speedup = gguf_py_ms / ours if gguf_py_ms else None
    rows: list[list[object]] = [
        ["app.gguf read_header (file)", f"{ours:.2f}", f"{min(local):.2f}", args.runs],
        ["app.gguf read_header_bytes", f"{median(in_memory):.2f}", f"{min(in_memory):.2f}", args.runs],
        ["app.gguf read_header_ranged", f"{median(ranged):.2f}", f"{min(ranged):.2f}", args.runs],
        ["app.gguf first call in process", f"{first_ms:.2f}", "", 1],
    ]
    if old:
        rows.append([f"anchor: reader at {args.anchor_rev} (file)", f"{median(old):.2f}", f"{min(old):.2f}", args.runs])
    rows.append(["anchor: plain read of the header bytes", f"{median(raw):.2f}", f"{min(raw):.2f}", args.runs])
    if gguf_py_ms is not None:
        rows.append(["gguf-py GGUFReader", f"{gguf_py_ms:.0f}", "", 1])
    print(
        f"{path.name}: {size / 2**20:.1f} MiB, header {header.data_offset / 2**20:.2f} MiB, "
        f"{len(header.metadata)} keys, {len(header.tensors)} tensors"
    )
    print(f"load average (1/5/15 min): {load_before} before, {load_after_reads} after the reads")
    print_table(["reader", "median ms", "min ms", "runs"], rows)
    if anchor is None:
        print(f"(no anchor: git could not show {args.anchor_rev}:app/gguf/reader.py)")
    print(f"range requests per remote read: {n_requests} ({fetched / 2**20:.1f} MiB fetched)")
    verdicts = [
        _verdict(ours <= TARGET_MS, f"real header read <= {TARGET_MS:.0f} ms: median {ours:.2f} ms"),
        _verdict(n_requests <= TARGET_REQUESTS, f"range requests <= {TARGET_REQUESTS}: {n_requests}"),
    ]
    if speedup is not None:
        verdicts.append(_verdict(speedup >= TARGET_SPEEDUP, f">= {TARGET_SPEEDUP:.0f}x gguf-py: {speedup:.0f}x"))
    print()
    print_table(["hostile header", "worst s", "answer", "MiB fetched remotely"], hostile_rows)
    worst = max(h["worst_s"] for h in hostile["headers"])
    verdicts.append(
        _verdict(worst < TARGET_HOSTILE_S, f"each hostile header < {TARGET_HOSTILE_S} s: worst {worst:.3f} s")
    )
    scan_s = hostile["first_scan_s"]
    n_hostile = len(hostile["headers"])
    verdicts.append(
        _verdict(
            scan_s < TARGET_HOSTILE_S * n_hostile,
            f"first scan of the {n_hostile} hostile files < {TARGET_HOSTILE_S * n_hostile:.1f} s: {scan_s:.3f} s",
        )
    )
    print(f"load average (1/5/15 min) at the end: {_load()}")
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
            "load_average": {"before": load_before, "after_reads": load_after_reads, "end": _load()},
            "read_header_ms": {"median": ours, "min": min(local), "all": local},
            "anchor_rev": args.anchor_rev if old else None,
            "anchor_read_header_ms": {"median": median(old), "min": min(old), "all": old} if old else None,
            "plain_read_ms": {"median": median(raw), "min": min(raw)},
            "read_header_bytes_ms": {"median": median(in_memory), "min": min(in_memory)},
            "read_header_ranged_ms": {"median": median(ranged), "min": min(ranged)},
            "first_call_ms": first_ms,
            "gguf_py_ms": gguf_py_ms,
            "speedup": speedup,
            "range_requests": n_requests,
            "range_bytes": fetched,
            "hostile": hostile,
            "targets": {
                "ms": TARGET_MS,
                "speedup": TARGET_SPEEDUP,
                "requests": TARGET_REQUESTS,
                "hostile_s": TARGET_HOSTILE_S,
            },
            "passed": all(line.startswith("PASS") for line in verdicts),
        },
    )
    print(f"wrote {out}")
    return 0 if all(line.startswith("PASS") for line in verdicts) else 1


if __name__ == "__main__":
    raise SystemExit(main())
