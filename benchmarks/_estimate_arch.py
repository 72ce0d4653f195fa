"""Rows of benchmarks/estimate_vs_llama.py for every architecture with a synthetic model (recurrent, hybrid,
extra-cache and the transformers): one model per architecture (app.gguf.synthetic_arch), loaded by the real
llama.cpp, beside our estimate. An architecture without a synthetic model, or one llama.cpp refuses, still
gets a row that says so.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from app.core.errors import EstimateError
from app.estimate import FlashAttn, LoadSettings, estimate
from app.estimate.classes import ARCH_CLASSES, REFUSED_CLASSES
from app.estimate.layout import INDEXER_ARCHS, RECURRENT_ARCHS
from app.estimate.shape import shape_from_header
from app.gguf import read_model
from app.gguf.synthetic_arch import DEFAULT_SPECS, FLASH_ATTN_OFF, TRANSFORMER_SPECS, write_arch_gguf
from tests.integration.estimate.llama_log import (
    expected_dsv4_states,
    expected_kv,
    load_and_log,
    mib_double,
    mib_float32,
)

MIB = 1024 * 1024
SETTINGS = (
    ("ctx 1024", LoadSettings(n_ctx=1024)),
    ("ctx 2048 3 seqs", LoadSettings(n_ctx=2048, n_seq_max=3)),
    ("engine ctx 4096", LoadSettings(n_ctx=4096, n_batch=512, n_ubatch=512, n_outputs_max=1)),  # as our engine loads
)
# Text-generation architectures of the pinned llama.cpp without a synthetic model, and why.
NO_SYNTHETIC = {
    "gptj": "llama.cpp of this version cannot load it (unsupported model architecture 'gptj')",
}
# Loads that abort the process inside llama.cpp (a GGML_ASSERT), so they are not attempted.
ABORTS = {("minimax-01", "ctx 2048 3 seqs"): "llama.cpp aborts: GGML_ASSERT(ggml_can_repeat) in its minimax-01 graph"}


def _row(arch: str, path: Path, label: str, settings: LoadSettings) -> dict[str, Any]:
    row: dict[str, Any] = {"arch": arch, "settings": label}
    try:
        log = load_and_log(path, settings)
    except RuntimeError as error:
        row["status"] = "llama.cpp cannot load the synthetic model: " + str(error).splitlines()[0][:80]
        return row
    try:
        shape = shape_from_header(read_model(path))
        est = estimate(shape, settings, gpu_available=False)
    except EstimateError as error:
        row["status"] = f"no estimate: {error}"
        return row
    sizes = est.state.sizes if est.state else None
    rs_bytes = sizes.r_bytes + sizes.s_bytes + sizes.p_bytes if sizes else 0
    caches = expected_kv(est, shape.has_swa)  # attention cache, indexer cache, sliding-window part
    kv_same = [(x.cells, x.layers, x.size_mib) for x in log.kv] == [
        (cells, n, mib_float32(k + v)) for cells, n, k, v in caches
    ]
    rs_same = [x.size_mib for x in log.rs] == ([mib_float32(rs_bytes)] if rs_bytes else []) and all(
        x.cells == sizes.rows for x in log.rs if sizes
    )
    rs_same = rs_same and log.dsv4_states == expected_dsv4_states(est)  # DeepSeek-V4's compressor states
    rs_same = rs_same and all(x.p_mib == mib_float32(sizes.p_bytes) for x in log.rs if sizes)  # Qwen4-Exp's PLE
    weights_log = log.model_buffers.get("CPU_Mapped", 0.0) * MIB
    mapped = est.host_weight_buffers[0]
    compute_log = log.compute_buffers.get("CPU", 0.0) * MIB
    row.update(
        status="loaded",
        kv_estimate_bytes=sum(k + v for _, _, k, v in caches),
        kv_llama_mib=sum(float(x.size_mib) for x in log.kv),
        kv_same=kv_same,
        rs_estimate_bytes=rs_bytes,
        rs_llama_mib=sum(float(x.size_mib) for x in log.rs),
        rs_same=rs_same,
        weights_exact=log.model_size == shape.weight_bytes,
        weights_same=f"{weights_log / MIB:.2f}" == mib_double(mapped),
        weights_error=(mapped - weights_log) / weights_log,
        output_same=log.output_buffers == {"CPU": mib_double(est.output_bytes)},
        compute_estimate_bytes=est.compute.cpu,
        compute_llama_bytes=round(compute_log),
        compute_error=(est.compute.cpu - compute_log) / compute_log,
    )
    return row


def arch_rows(tmp: Path) -> list[dict[str, Any]]:
    rows = []
    for arch, spec in {**DEFAULT_SPECS, **TRANSFORMER_SPECS}.items():
        path = write_arch_gguf(tmp / f"{arch}.gguf", spec)
        for label, settings in SETTINGS:
            if arch in FLASH_ATTN_OFF:  # its graph aborts with flash attention: the row says so
                label, settings = f"{label} fa=off", dataclasses.replace(settings, flash_attn=FlashAttn.OFF)
            aborts = ABORTS.get((arch, label))
            rows.append(
                {"arch": arch, "settings": label, "status": aborts} if aborts else _row(arch, path, label, settings)
            )
    for arch in sorted((set(RECURRENT_ARCHS) | INDEXER_ARCHS) - set(DEFAULT_SPECS)):
        rows.append({"arch": arch, "settings": "-", "status": "modelled, no synthetic model yet"})
    for arch, reason in NO_SYNTHETIC.items():
        rows.append({"arch": arch, "settings": "-", "status": reason})
    for arch, found in sorted(ARCH_CLASSES.items()):
        if found not in REFUSED_CLASSES:
            continue
        rows.append({"arch": arch, "settings": "-", "status": f"no estimate by class: {found.name.lower()}"})
    return rows


def exact(row: dict[str, Any]) -> bool:
    """KV, recurrent state, weights and output buffer all identical to llama.cpp's log."""
    keys = ("kv_same", "rs_same", "weights_exact", "weights_same", "output_same")
    return row["status"] == "loaded" and all(row[key] for key in keys)


def summary(rows: list[dict[str, Any]]) -> str:
    """One line per outcome: how many architectures are exact in every setting, which are off, which failed."""
    by_arch: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_arch.setdefault(row["arch"], []).append(row)
    exact_archs, off, failed, not_tried = [], [], [], []
    for arch, arch_rows_ in by_arch.items():
        loaded = [r for r in arch_rows_ if r["status"] == "loaded"]
        if arch_rows_[0]["settings"] == "-":
            not_tried.append(arch)
        elif not loaded:
            failed.append(arch)
        elif all(exact(r) for r in loaded):
            exact_archs.append(arch)
        else:
            off.append(arch)
    lines = [f"{len(exact_archs)} architectures exact (KV, state, weights, output) in every setting llama.cpp loads"]
    lines.append(f"{len(off)} off: {', '.join(off) or '-'}")
    lines.append(f"{len(failed)} not loaded by llama.cpp or not estimated: {', '.join(failed) or '-'}")
    lines.append(f"{len(not_tried)} without a synthetic model or refused by class")
    return "\n".join(lines)


def print_arch_table(rows: list[dict[str, Any]]) -> None:
    head = f"{'architecture':<15} {'settings':<16} {'KV MiB':>7} {'same':>4} {'RS MiB':>7} {'same':>4} "
    head += f"{'W exact':>7} {'W buf':>4} {'W err':>7} {'out':>4} {'C est':>7} {'C llama':>7} {'C err':>7}"
    print(head)
    print("-" * len(head))
    for r in rows:
        if r["status"] != "loaded":
            print(f"{r['arch']:<15} {r['settings']:<16} {r['status']}")
            continue
        print(
            f"{r['arch']:<15} {r['settings']:<16} {r['kv_llama_mib']:7.2f} {'yes' if r['kv_same'] else 'NO':>4} "
            f"{r['rs_llama_mib']:7.2f} {'yes' if r['rs_same'] else 'NO':>4} "
            f"{'yes' if r['weights_exact'] else 'NO':>7} {'yes' if r['weights_same'] else 'NO':>4} "
            f"{r['weights_error']:+7.2%} "
            f"{'yes' if r['output_same'] else 'NO':>4} {r['compute_estimate_bytes'] / MIB:7.2f} "
            f"{r['compute_llama_bytes'] / MIB:7.2f} {r['compute_error']:+7.2%}"
        )
    print("(KV / RS: llama.cpp's logged cache and recurrent-state sizes, 'same' = ours identical at its 0.01 MiB;")
    print(" W exact: llama_model_size equals the file's weight bytes; W buf: our host weights identical to the")
    print(" CPU_Mapped model buffer at its 0.01 MiB, W err their relative difference;")
    print(" out: output buffer identical; C: compute buffer, our model vs what llama.cpp reserves)")
    print(summary(rows))
