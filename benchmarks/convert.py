"""Our converter beside llama.cpp's convert_hf_to_gguf.py (pinned sdist, with torch) on the same models.

For each model: wall time and peak RSS of each converter (each in its own process), and whether the two
GGUF files agree: tensor names, order, shapes, types and bytes, and every metadata key and value.
Targets: at least 2x faster and at most 0.5x the peak RSS. Models are generated (random weights, trained
SentencePiece tokenizers: llama.cpp's converter refuses BPE vocabularies it has never seen) and cached in
build/bench-models. Usage: python benchmarks/convert.py [--scale small|medium] [--outtype f16|bf16|q8_0]
[--models NAME...]
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
RESULTS = ROOT / "benchmarks" / "results" / "convert.json"
SCALES: dict[str, dict[str, Any]] = {
    "small": {"hidden_size": 512, "intermediate_size": 1536, "num_hidden_layers": 4},
    "medium": {
        "hidden_size": 2048,
        "intermediate_size": 5632,
        "num_hidden_layers": 4,
        "num_attention_heads": 16,
        "num_key_value_heads": 8,
        "head_dim": 128,
    },
}
# (architecture, weight dtype, BPE pre-tokenizer name or None for SentencePiece). llama.cpp's converter only
# knows BPE vocabularies by a hash of real models' token ids, so for our generated BPE vocabularies its
# pre-tokenizer lookup is given the name we derived; everything else it computes itself.
MODELS = (
    ("llama2", "bfloat16", None),
    ("gemma3", "bfloat16", None),
    ("llama3", "bfloat16", "llama-bpe"),
    ("qwen2", "bfloat16", "qwen2"),
    ("qwen3moe", "bfloat16", "qwen2"),  # experts merged into 3-D tensors while streaming
    ("qwen35moe", "bfloat16", "qwen2"),  # hybrid: Gated DeltaNet layers (V heads reordered) + attention, MoE
)
# Per-model sizes on top of the scale's: the MoE's experts (about 300 MB of BF16 weights at medium scale).
MODEL_SIZES: dict[str, dict[str, Any]] = {
    "qwen3moe": {"num_experts": 8, "moe_intermediate_size": 512},
    "qwen35moe": {
        "num_experts": 8,
        "moe_intermediate_size": 512,
        "layer_types": ["linear_attention"] * 3 + ["full_attention"],
        "full_attention_interval": 4,
    },
}
# Reference options: a checkpoint without MTP layers converts only with --no-mtp (ours writes that by default).
REFERENCE_ARGS: dict[str, list[str]] = {"qwen35moe": ["--no-mtp"]}
REFERENCE_WITH_PRE = """
import runpy, sys
ref, pre = sys.argv[1], sys.argv[2]
sys.path[0:0] = [ref + "/gguf-py", ref]
import conversion.base
conversion.base.TextModel.get_vocab_base_pre = lambda self, tokenizer: pre
sys.argv = [ref + "/convert_hf_to_gguf.py", *sys.argv[3:]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def ensure_model(name: str, dtype: str, scale: str) -> Path:
    """Generated in a child process: this process must stay small, because a child's peak RSS includes
    what it inherited from us at fork time."""
    folder = ROOT / "build" / "bench-models" / f"{name}-{dtype}-{scale}"
    if not (folder / "model.safetensors").exists():
        sizes = {**SCALES[scale], **MODEL_SIZES.get(name, {})}
        if name.startswith("gemma"):
            sizes.setdefault("query_pre_attn_scalar", sizes.get("head_dim", 64))
        code = (
            "from pathlib import Path; from tests.support.tiny_hf import make_tiny_hf; "
            f"make_tiny_hf(Path({str(folder)!r}), {name!r}, dtype={dtype!r}, sizes={sizes!r})"
        )
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True)
    return folder


def timed(cmd: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode() if proc.stderr else ''}")
    return wall, usage.ru_maxrss * 1024


def compare(ours: Path, ref: Path) -> list[str]:
    import numpy as np
    from gguf import GGUFReader

    def load(path: Path) -> tuple[dict[str, Any], list[tuple[str, tuple[int, ...], str, bytes]]]:
        r = GGUFReader(path)
        kv = {k: f.contents() for k, f in r.fields.items() if not k.startswith("GGUF.")}
        tensors = [
            (t.name, tuple(int(d) for d in t.shape), t.tensor_type.name, np.asarray(t.data).tobytes())
            for t in r.tensors
        ]
        return kv, tensors

    (kv_a, t_a), (kv_b, t_b) = load(ours), load(ref)
    problems = [f"metadata {k}" for k in sorted(set(kv_a) ^ set(kv_b))]
    problems += [f"value of {k}" for k in sorted(set(kv_a) & set(kv_b)) if kv_a[k] != kv_b[k]]
    if [t[0] for t in t_a] != [t[0] for t in t_b]:
        problems.append("tensor names or order")
    for a, b in zip(t_a, t_b, strict=False):
        if a[1:3] != b[1:3]:
            problems.append(f"shape/type of {a[0]}")
        elif a[3] != b[3]:
            problems.append(f"bytes of {a[0]}")
    return problems


def run(scale: str, outtype: str, only: list[str] | None = None) -> list[dict[str, Any]]:
    out_dir = ROOT / "build" / "bench-out"
    out_dir.mkdir(parents=True, exist_ok=True)
    models = [m for m in MODELS if not only or m[0] in only]
    folders = {name: ensure_model(name, dtype, scale) for name, dtype, _pre in models}
    # The installed llama-cpp-python's sdist, fetched once into the user's cache (LLAMA_CPP_SRC overrides).
    from tests.support.llama_sources import llama_cpp_sources

    reference_tree = llama_cpp_sources()
    timings = {}
    for name, _dtype, pre in models:
        ours, ref = out_dir / f"{name}-ours.gguf", out_dir / f"{name}-ref.gguf"
        code = (
            "from pathlib import Path; from app.convert.converter import convert; "
            f"convert(Path({str(folders[name])!r}), Path({str(ours)!r}), {outtype!r})"
        )
        args = [str(folders[name]), "--outtype", outtype, "--outfile", str(ref), *REFERENCE_ARGS.get(name, [])]
        if pre is None:
            reference = [sys.executable, str(reference_tree / "convert_hf_to_gguf.py"), *args]
        else:
            reference = [sys.executable, "-c", REFERENCE_WITH_PRE, str(reference_tree), pre, *args]
        timings[name] = (*timed([sys.executable, "-c", code]), *timed(reference))
    rows = []
    for name, dtype, _pre in models:  # only now load anything big into this process
        ours, ref = out_dir / f"{name}-ours.gguf", out_dir / f"{name}-ref.gguf"
        t_ours, rss_ours, t_ref, rss_ref = timings[name]
        problems = compare(ours, ref)
        weights = sum(f.stat().st_size for f in folders[name].glob("*.safetensors")) / 2**20
        rows.append(
            {
                "model": f"{name} ({dtype} weights, {weights:.0f} MiB)",
                "outtype": outtype,
                "ours_s": round(t_ours, 2),
                "ref_s": round(t_ref, 2),
                "speedup": round(t_ref / t_ours, 2),
                "ours_rss_mib": round(rss_ours / 2**20),
                "ref_rss_mib": round(rss_ref / 2**20),
                "rss_ratio": round(rss_ours / rss_ref, 2),
                "identical": not problems,
                "differences": problems[:10],
            }
        )
        ours.unlink(missing_ok=True)
        ref.unlink(missing_ok=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="medium")
    parser.add_argument("--outtype", choices=("f16", "bf16", "q8_0", "f32"), default="f16")
    parser.add_argument("--models", nargs="+", choices=[m[0] for m in MODELS], help="default: all")
    args = parser.parse_args()
    rows = run(args.scale, args.outtype, args.models)
    print(
        f"{'model':44} {'type':5} {'ours s':>7} {'ref s':>7} {'speed':>6} {'ours MiB':>9} {'ref MiB':>8} "
        f"{'RSS':>5} identical"
    )
    for r in rows:
        print(
            f"{r['model']:44} {r['outtype']:5} {r['ours_s']:7.2f} {r['ref_s']:7.2f} {r['speedup']:5.1f}x "
            f"{r['ours_rss_mib']:9} {r['ref_rss_mib']:8} {r['rss_ratio']:5.2f} {r['identical']}"
        )
        for p in r["differences"]:
            print(f"    differs: {p}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"scale": args.scale, "rows": rows}, indent=2))
    print(f"written {RESULTS}")


if __name__ == "__main__":
    main()
