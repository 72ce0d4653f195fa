"""Estimate vs llama.cpp: our memory model beside the buffer sizes the real llama.cpp logs when it loads
the same model with the same settings (CPU backend, llama-cpp-python). Prints a table and writes
benchmarks/results/estimate_vs_llama.json.

    PYTHONPATH=. .venv/bin/python benchmarks/estimate_vs_llama.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from app.chat.protocol import EngineSettings  # noqa: E402
from app.estimate import FlashAttn, LoadSettings, engine_load_settings, estimate  # noqa: E402
from app.estimate.hardware import probe_spec  # noqa: E402
from app.estimate.shape import shape_from_header  # noqa: E402
from app.gguf import read_model  # noqa: E402
from benchmarks._estimate_arch import arch_rows, exact, print_arch_table  # noqa: E402
from tests.integration.estimate.llama_log import load_and_log, mib_float32  # noqa: E402
from tests.support.models import gemma_path  # noqa: E402
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf  # noqa: E402

MIB = 1024 * 1024
RESULTS = REPO_ROOT / "benchmarks" / "results" / "estimate_vs_llama.json"


def cases(tmp: Path) -> list[tuple[str, Path, LoadSettings, str]]:
    gemma = gemma_path()
    rows = [
        ("gemma3-270m", gemma, LoadSettings(n_ctx=n, swa_full=full), f"ctx {n} swa_full={int(full)}")
        for n in (512, 2048, 8192, 32768)
        for full in (False, True)
    ]
    # what the app's own engine loads with (one output row, n_ubatch = n_batch = 512): the default everywhere
    rows += [
        ("gemma3-270m", gemma, engine_load_settings(EngineSettings(n_ctx=n, n_gpu_layers=0)), f"engine ctx {n}")
        for n in (4096, 32768)
    ]
    rows += [
        ("gemma3-270m", gemma, LoadSettings(n_ctx=4096, flash_attn=FlashAttn.OFF), "ctx 4096 fa=off"),
        ("gemma3-270m", gemma, LoadSettings(n_ctx=4096, type_k="q8_0", type_v="q4_0"), "ctx 4096 K q8_0 V q4_0"),
        ("gemma3-270m", gemma, LoadSettings(n_ctx=4096, n_seq_max=2), "ctx 4096 2 seqs"),
    ]
    base = TinySpec(n_layer=3, n_embd=128, n_head=8, n_head_kv=2, n_ff=256, n_vocab=1024, context_length=8192)
    gqa = write_tiny_gguf(tmp / "gqa.gguf", base.with_(tensor_type="F16"))
    per_layer = write_tiny_gguf(
        tmp / "per-layer.gguf", base.with_(n_layer=4, n_head=[8, 8, 4, 8], n_head_kv=[2, 1, 4, 8])
    )
    tied = write_tiny_gguf(tmp / "tied.gguf", base.with_(n_head=4, tied_output=True, tensor_type="Q8_0"))
    rows += [
        ("tiny gqa 8/2 f16", gqa, LoadSettings(n_ctx=4096), "ctx 4096"),
        ("tiny gqa 8/2 f16", gqa, LoadSettings(n_ctx=4096, flash_attn=FlashAttn.OFF), "ctx 4096 fa=off"),
        ("tiny kv heads 2,1,4,8", per_layer, LoadSettings(n_ctx=4096), "ctx 4096"),
        ("tiny kv heads 2,1,4,8", per_layer, LoadSettings(n_ctx=4096, flash_attn=FlashAttn.OFF), "ctx 4096 fa=off"),
        ("tiny tied q8_0", tied, LoadSettings(n_ctx=8192, type_k="q8_0", type_v="q8_0"), "ctx 8192 KV q8_0"),
        ("tiny gqa 8/2 f16", gqa, engine_load_settings(EngineSettings(n_ctx=4096, n_gpu_layers=0)), "engine ctx 4096"),
    ]
    q4_0 = write_tiny_gguf(tmp / "q4_0.gguf", base.with_(tensor_type="Q4_0"))  # repacked on AVX2 / Arm dot-product
    rows += [("tiny q4_0", q4_0, engine_load_settings(EngineSettings(n_ctx=n, n_gpu_layers=0, use_mmap=mmap)),
              f"engine ctx {n} mmap={int(mmap)}") for n in (2048, 8192) for mmap in (True, False)]  # fmt: skip
    return rows


def run() -> list[dict[str, Any]]:
    results = []
    cpu = probe_spec().cpu  # ggml's CPU features decide which weights the CPU backend repacks
    with tempfile.TemporaryDirectory() as tmp:
        for model, path, settings, label in cases(Path(tmp)):
            est = estimate(shape_from_header(read_model(path)), settings, gpu_available=False, cpu=cpu)
            log = load_and_log(path, settings)
            kv_log = sum(float(k.size_mib) for k in log.kv)
            parts = (est.kv.part(False), est.kv.part(True)) if est.kv.cells_swa else (est.kv.layers,)
            kv_match = [k.size_mib for k in log.kv] == [mib_float32(sum(x.bytes for x in p)) for p in parts if p]
            weights_log = log.model_buffers.get("CPU_Mapped", log.model_buffers.get("CPU", 0.0)) * MIB
            repack_log = log.model_buffers.get("CPU_REPACK", 0.0) * MIB
            compute_log = log.compute_buffers.get("CPU", 0.0) * MIB
            kv_buffers = sum(float(mib) for _name, mib in log.kv_buffers) * MIB
            output_log = sum(float(mib) for mib in log.output_buffers.values()) * MIB
            ram_log = sum(log.model_buffers.values()) * MIB + kv_buffers + output_log + compute_log
            weights_est, repack_est = est.host_weight_buffers
            results.append(
                {
                    "model": model,
                    "settings": label,
                    "kv_estimate_bytes": est.kv_bytes,
                    "kv_llama_mib": kv_log,
                    "kv_identical_at_log_precision": kv_match,
                    "weights_estimate_bytes": weights_est,
                    "weights_llama_bytes": round(weights_log),
                    "weights_error": (weights_est - weights_log) / weights_log,
                    "repack_estimate_bytes": repack_est,
                    "repack_llama_mib": repack_log / MIB,
                    "ram_estimate_bytes": est.ram_bytes,
                    "ram_llama_bytes": round(ram_log),
                    "ram_error": (est.ram_bytes - ram_log) / ram_log,
                    "output_estimate_bytes": est.output_bytes,
                    "output_llama_mib": float(log.output_buffers.get("CPU", "nan")),
                    "compute_estimate_bytes": est.compute.cpu,
                    "compute_llama_bytes": round(compute_log),
                    "compute_error": (est.compute.cpu - compute_log) / compute_log,
                }
            )
    return results


def print_table(rows: list[dict[str, Any]]) -> None:
    head = f"{'model':<22} {'settings':<24} {'KV est':>9} {'KV llama':>9} {'same':>5} "
    head += f"{'W est':>8} {'W llama':>8} {'W err':>7} {'out est':>8} {'out ll.':>8} "
    head += f"{'C est':>8} {'C llama':>8} {'C err':>7} {'R est':>7} {'R ll.':>7} "
    head += f"{'RAM est':>8} {'RAM ll.':>8} {'RAM err':>7}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['model']:<22} {r['settings']:<24} {r['kv_estimate_bytes'] / MIB:9.2f} {r['kv_llama_mib']:9.2f} "
            f"{'yes' if r['kv_identical_at_log_precision'] else 'NO':>5} "
            f"{r['weights_estimate_bytes'] / MIB:8.2f} {r['weights_llama_bytes'] / MIB:8.2f} "
            f"{r['weights_error']:+7.2%} "
            f"{r['output_estimate_bytes'] / MIB:8.2f} {r['output_llama_mib']:8.2f} "
            f"{r['compute_estimate_bytes'] / MIB:8.2f} {r['compute_llama_bytes'] / MIB:8.2f} "
            f"{r['compute_error']:+7.2%} {r['repack_estimate_bytes'] / MIB:7.2f} {r['repack_llama_mib']:7.2f} "
            f"{r['ram_estimate_bytes'] / MIB:8.2f} {r['ram_llama_bytes'] / MIB:8.2f} {r['ram_error']:+7.2%}"
        )
    print("(MiB; KV 'same' = every cache's size identical to llama.cpp's log at its 0.01 MiB precision;")
    print(" W = host weights vs llama.cpp's CPU_Mapped buffer, whose log rounds to 0.01 MiB;")
    print(" C = compute buffer, our model vs what llama.cpp reserves; R = the CPU backend's repacked weights")
    print(" (CPU_REPACK); RAM = every buffer llama.cpp logs, summed; 'engine' rows use the app engine's settings)")


def main() -> int:
    rows = run()
    print_table(rows)
    with tempfile.TemporaryDirectory() as tmp:
        arch = arch_rows(Path(tmp))
    print()
    print_arch_table(arch)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    part = RESULTS.with_suffix(".json.part")
    part.write_text(json.dumps({"models": rows, "architectures": arch}, indent=2))
    part.replace(RESULTS)
    print(f"wrote {RESULTS.relative_to(REPO_ROOT)}")
    loaded = [r for r in arch if r["status"] == "loaded"]
    arch_exact = all(exact(r) for r in loaded)
    return 0 if all(r["kv_identical_at_log_precision"] for r in rows) and arch_exact else 1


if __name__ == "__main__":
    raise SystemExit(main())
