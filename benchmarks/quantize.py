"""Our quantization beside a bare `llama_model_quantize` call on the same file (target: at most 1.05x).

"ours" is the `app.quantize.quantizer.quantize_file` call (log capture, per-tensor progress, .part + fsync +
rename); "bare" is the binding's call with default parameters and nothing else, which leaves the output in
the page cache; "bare + fsync" also makes it durable, as ours does; all timed inside their process, imports
excluded. "job" is the whole CLI run (process start, imports, worker process, dry-run size,
disk check) for reference. Each runs in a fresh process with no earlier output on disk; the best of
--repeat (7) runs counts. The source is an F16 GGUF converted from a generated model
(build/bench-models), or --source FILE.

The whole-process row (--rows process) runs the installed `gguf-studio quantize` beside llama.cpp's own
`llama-quantize` built from the same pinned sources (once, into the user cache), on the same job: Gemma 3
270M Q8_0 -> Q4_K_M (the Q8_0 is made once from the test model in build/bench-models). Their difference
is our fixed cost (two interpreters, imports, the dry-run size, fsync); target <= 0.4 s, median of --repeat.
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


LLAMA_CPP_PYTHON = "0.3.36"  # the pinned binding whose vendored llama.cpp we run


def llama_quantize_binary() -> Path:
    """llama.cpp's own `llama-quantize`, built once from the pinned binding's sources (PyPI sdist) into the
    user cache; later runs reuse it. Several minutes on two cores the first time."""
    import platformdirs

    cache = Path(platformdirs.user_cache_dir("gguf-studio-bench")) / f"llama-cpp-python-{LLAMA_CPP_PYTHON}"
    binary = cache / "build" / "bin" / "llama-quantize"
    if binary.exists():
        return binary
    sdist_dir = cache / "sdist"
    sources = cache / "src"
    if not (sources / "vendor" / "llama.cpp" / "CMakeLists.txt").exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--dest", str(sdist_dir),
             f"llama-cpp-python=={LLAMA_CPP_PYTHON}"],
            check=True,
        )
        import shutil
        import tarfile

        archive = next(sdist_dir.glob("llama_cpp_python-*.tar.gz"))
        shutil.rmtree(sources, ignore_errors=True)
        with tarfile.open(archive) as tar:
            tar.extractall(cache / "unpack", filter="data")
        (next((cache / "unpack").iterdir())).rename(sources)
    build = cache / "build"
    subprocess.run(
        ["cmake", "-S", str(sources / "vendor" / "llama.cpp"), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
         "-DLLAMA_CURL=OFF", "-DGGML_NATIVE=ON", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_SERVER=OFF"],
        check=True,
    )
    subprocess.run(
        ["cmake", "--build", str(build), "--target", "llama-quantize", "-j", str(os.cpu_count() or 2)], check=True
    )
    return binary


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


def gemma_q8_0() -> Path:
    """Gemma 3 270M requantized to Q8_0 by llama.cpp (the test model is Q4_K_M), made once."""
    out = ROOT / "build" / "bench-models" / "gemma-3-270m-Q8_0.gguf"
    if not out.exists():
        from tests.support.models import gemma_path

        out.parent.mkdir(parents=True, exist_ok=True)
        code = (
            "from pathlib import Path; from app.quantize.quantizer import quantize_file; "
            "from app.quantize.types import quant_type; "
            f"quantize_file(Path({str(gemma_path())!r}), Path({str(out)!r}), quant_type('Q8_0'))"
        )
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    return out


def whole_process(repeat: int, threads: str) -> dict[str, Any]:
    """`gguf-studio quantize` against `llama-quantize`, fresh processes, alternating, same output folder."""
    import statistics

    tool = llama_quantize_binary()
    source = gemma_q8_0()
    out_dir = ROOT / "build" / "bench-out"
    out_dir.mkdir(parents=True, exist_ok=True)
    script = Path(sys.executable).with_name("gguf-studio")
    ours_cmd = [str(script), "quantize", str(source), "Q4_K_M", "--out-dir", str(out_dir)]
    theirs_cmd = [str(tool), "--allow-requantize", str(source), str(out_dir / "theirs-Q4_K_M.gguf"), "Q4_K_M",
                  threads]
    ours, theirs, ours_cpu, theirs_cpu = [], [], [], []
    for _ in range(repeat):
        clear(out_dir)
        seconds, cpu = wall_and_cpu(theirs_cmd)
        theirs.append(seconds)
        theirs_cpu.append(cpu)
        clear(out_dir)
        seconds, cpu = wall_and_cpu(ours_cmd)
        ours.append(seconds)
        ours_cpu.append(cpu)
    clear(out_dir)
    ours_s, theirs_s = statistics.median(ours), statistics.median(theirs)
    return {
        "job": "Gemma 3 270M Q8_0 -> Q4_K_M",
        "threads": int(threads),
        "gguf_studio_s": round(ours_s, 3),
        "llama_quantize_s": round(theirs_s, 3),
        "overhead_s": round(ours_s - theirs_s, 3),
        "ratio": round(ours_s / theirs_s, 3),
        # CPU seconds (user + system, every process of the run): what other work on a shared machine
        # cannot inflate the way it inflates wall time.
        "gguf_studio_cpu_s": round(statistics.median(ours_cpu), 3),
        "llama_quantize_cpu_s": round(statistics.median(theirs_cpu), 3),
        "overhead_cpu_s": round(statistics.median(ours_cpu) - statistics.median(theirs_cpu), 3),
        "runs_gguf_studio_s": [round(t, 3) for t in ours],
        "runs_llama_quantize_s": [round(t, 3) for t in theirs],
    }


def wall_and_cpu(cmd: list[str]) -> tuple[float, float]:
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds = wall(cmd)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    from app.quantize.runner import cpu_threads
    from app.quantize.types import quant_type

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path)
    parser.add_argument("--types", default="Q4_K_M,Q8_0")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--rows", choices=("calls", "process", "all"), default="all",
                        help="calls: our call beside the bare binding; process: the whole-process row")
    parser.add_argument("--build-only", action="store_true", help="build llama-quantize into the cache and stop")
    args = parser.parse_args()
    if args.build_only:
        print(llama_quantize_binary())
        return
    threads = str(cpu_threads())
    process_row = None
    if args.rows in ("process", "all"):
        process_row = whole_process(max(4, args.repeat), threads)
        runs = len(process_row["runs_gguf_studio_s"])
        print(
            f"whole process, {process_row['job']}, {threads} threads, median of {runs}: "
            f"gguf-studio quantize {process_row['gguf_studio_s']:.3f} s, llama-quantize "
            f"{process_row['llama_quantize_s']:.3f} s, overhead {process_row['overhead_s']:+.3f} s "
            f"({process_row['ratio']:.2f}x); CPU {process_row['gguf_studio_cpu_s']:.3f} s against "
            f"{process_row['llama_quantize_cpu_s']:.3f} s, overhead {process_row['overhead_cpu_s']:+.3f} s"
        )
        if args.rows == "process":
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text(json.dumps({"threads": int(threads), "process": process_row}, indent=2))
            print(f"written {RESULTS}")
            return
    source = args.source or source_model()
    out_dir = ROOT / "build" / "bench-out"
    out_dir.mkdir(parents=True, exist_ok=True)
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
    RESULTS.write_text(json.dumps({"threads": int(threads), "rows": rows, "process": process_row}, indent=2))
    print(f"written {RESULTS}")


if __name__ == "__main__":
    main()
