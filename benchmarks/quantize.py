"""Our quantization beside a bare `llama_model_quantize` call on the same file (target: at most 1.05x).

"ours" is the `app.quantize.quantizer.quantize_file` call (log capture, per-tensor progress, .part + fsync +
rename); "bare" is the binding's call with default parameters and nothing else, which leaves the output in
the page cache; "bare + fsync" also makes it durable, as ours does; all timed inside their process, imports
excluded. "job" is the whole CLI run (process start, imports, worker process, dry-run size,
disk check) for reference. Each runs in a fresh process with no earlier output on disk; the best of
--repeat (7) runs counts. The source is an F16 GGUF converted from a generated model
(build/bench-models), or --source FILE.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "quantize.json"

BARE = """
import ctypes, os, sys, time, llama_cpp
quiet = llama_cpp.llama_log_callback(lambda *a: None)  # referenced until exit
llama_cpp.llama_log_set(quiet, ctypes.c_void_p(0))
p = llama_cpp.llama_model_quantize_default_params()
p.ftype = int(sys.argv[3]); p.nthread = int(sys.argv[4])
start = time.perf_counter()
rc = llama_cpp.llama_model_quantize(sys.argv[1].encode(), sys.argv[2].encode(), ctypes.byref(p))
if sys.argv[5:] == ["fsync"]:
    with open(sys.argv[2], "rb") as f:
        os.fsync(f.fileno())
print(time.perf_counter() - start)
sys.exit(rc)
"""
OURS = """
import sys, time
from pathlib import Path
from app.quantize.quantizer import QuantizeOptions, quantize_file
from app.quantize.types import quant_type
from app.quantize import llama_api
llama_api.llama()  # load llama.cpp before the clock starts, as the bare script's import does
options = QuantizeOptions(n_threads=int(sys.argv[4]))
start = time.perf_counter()
quantize_file(Path(sys.argv[1]), Path(sys.argv[2]), quant_type(sys.argv[3]), options,
              progress=lambda p: None, on_log=lambda line: None)
print(time.perf_counter() - start)
"""


def source_model() -> Path:
    out = ROOT / "build" / "bench-models" / "llama2-medium-F16.gguf"
    if not out.exists():
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from convert import ensure_model  # the same generated model as benchmarks/convert.py

        folder = ensure_model("llama2", "bfloat16", "medium")
        code = (
            "from pathlib import Path; from app.convert.converter import convert; "
            f"convert(Path({str(folder)!r}), Path({str(out)!r}), 'f16')"
        )
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    return out


def clear(out_dir: Path) -> None:
    """No output left from the run before: overwriting a file reuses its page cache, a new file needs fresh
    memory, which on a VM can cost more than the quantization itself; every run starts from the same state."""
    for path in out_dir.glob("*.gguf*"):
        path.unlink()


def wall(cmd: list[str]) -> float:
    os.sync()  # as in call_time: each run pays only for its own writes
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def call_time(cmd: list[str]) -> float:
    """The script times its own quantization call (imports excluded) and prints the seconds.

    Dirty pages of the previous run are written out first: otherwise our fsync (ext4, data=ordered) also
    pays for the bare run's unsynced output, which would charge one side for the other's writes."""
    os.sync()
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


def main() -> None:
    from app.quantize.runner import cpu_threads
    from app.quantize.types import quant_type

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path)
    parser.add_argument("--types", default="Q4_K_M,Q8_0")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    source = args.source or source_model()
    out_dir = ROOT / "build" / "bench-out"
    out_dir.mkdir(parents=True, exist_ok=True)
    threads = str(cpu_threads())
    rows: list[dict[str, Any]] = []
    for name in args.types.split(","):
        q = quant_type(name)
        dst = out_dir / f"bench-{q.name}.gguf"
        bare, durable, ours, job = [], [], [], []
        bare_cmd = [sys.executable, "-c", BARE, str(source), str(dst), str(q.ftype), threads]
        for _ in range(args.repeat):
            clear(out_dir)
            bare.append(call_time(bare_cmd))
            clear(out_dir)
            durable.append(call_time([*bare_cmd, "fsync"]))
            clear(out_dir)
            ours.append(call_time([sys.executable, "-c", OURS, str(source), str(dst), q.name, threads]))
            clear(out_dir)
            job.append(wall([sys.executable, "-m", "app", "quantize", str(source), q.name, "--out-dir", str(out_dir)]))
        rows.append(
            {
                "type": q.name,
                "source": source.name,
                "bare_s": round(min(bare), 3),
                "bare_fsync_s": round(min(durable), 3),
                "ours_s": round(min(ours), 3),
                "job_s": round(min(job), 2),
                "ratio": round(min(ours) / min(bare), 3),
                "ratio_vs_bare_fsync": round(min(ours) / min(durable), 3),
                "job_ratio": round(min(job) / min(bare), 3),
            }
        )
        dst.unlink(missing_ok=True)
    print(
        f"{'type':8} {'bare s':>7} {'+fsync s':>8} {'ours s':>7} {'ratio':>6} {'vs +fsync':>9} {'job s':>6} "
        f"{'job ratio':>9}   source"
    )
    for r in rows:
        print(
            f"{r['type']:8} {r['bare_s']:7.3f} {r['bare_fsync_s']:8.3f} {r['ours_s']:7.3f} {r['ratio']:6.3f} "
            f"{r['ratio_vs_bare_fsync']:9.3f} {r['job_s']:6.2f} {r['job_ratio']:9.3f}   {r['source']}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"threads": int(threads), "rows": rows}, indent=2))
    print(f"written {RESULTS}")


if __name__ == "__main__":
    main()
