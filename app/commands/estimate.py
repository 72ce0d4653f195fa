"""`gguf-studio estimate`: how much RAM and VRAM a model needs with given load settings, and whether it fits."""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.estimate import HardwareSpec, MemoryEstimate, ModelShape
    from app.gguf import GGUFHeader

MIB = 1024 * 1024


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("estimate", help="estimate RAM/VRAM for loading a model (no model is loaded)")
    p.add_argument("model", metavar="PATH_OR_URL", help="a .gguf file (any part of a split model) or its URL")
    p.add_argument("--ctx", type=int, default=4096, help="context length in tokens (0: the trained length)")
    p.add_argument("--ngl", default="auto", help="GPU layers: a number, 'all', or 'auto' (most that fit)")
    p.add_argument("--kv-type", default="f16", help="K and V cache type: f16, q8_0, q4_0, … (default f16)")
    p.add_argument(
        "--flash-attn",
        nargs="?",
        const="on",
        default="auto",
        choices=("on", "off", "auto"),
        help="flash attention (bare flag: on; default auto, as llama.cpp)",
    )
    p.add_argument("--swa-full", action="store_true", help="full-size cache for sliding-window layers")
    p.add_argument("--batch", type=int, default=2048, help="n_batch (default 2048)")
    p.add_argument("--ubatch", type=int, default=512, help="n_ubatch (default 512)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def _load_shape(source: str) -> ModelShape:
    from app.estimate.shape import shape_from_header

    if source.startswith(("http://", "https://")):
        return shape_from_header(_remote_header(source))
    from app.gguf import read_model

    return shape_from_header(read_model(source))


def _remote_header(url: str) -> GGUFHeader:
    """Read a remote file's header with HTTP range requests through app.hub's client (endpoint, token,
    timeouts); the first request also learns the file size from Content-Range."""
    from app.core.errors import EstimateError
    from app.gguf import read_header_ranged
    from app.hub.client import get

    def fetch(start: int, end: int) -> bytes:
        return bytes(get(url, extra_headers={"Range": f"bytes={start}-{end - 1}"}).content)

    probe = get(url, extra_headers={"Range": "bytes=0-0"})
    total = probe.headers.get("Content-Range", "").rpartition("/")[2]
    if not total.isdigit():
        raise EstimateError(f"{url} does not answer range requests, so its header cannot be read remotely")
    return read_header_ranged(fetch, int(total), source=url)


def _hardware() -> tuple[HardwareSpec, str]:
    """This machine via app.hardware's probe; psutil alone (no GPU) if the probe fails to import."""
    from app.estimate.hardware import HardwareSpec

    try:
        from app.estimate.hardware import probe_spec

        return probe_spec(), "app.hardware"
    except ImportError:
        import psutil

        mem = psutil.virtual_memory()
        return HardwareSpec(ram_total=mem.total, ram_available=mem.available), "psutil"


def report(est: MemoryEstimate, verdict: str, hardware: HardwareSpec) -> dict[str, Any]:
    kv = est.kv
    return {
        "n_ctx": est.n_ctx,
        "n_gpu_layers": est.n_gpu_layers,
        "n_layers": est.placement.n_layer + 1,
        "verdict": verdict,
        "kv_bytes": est.kv_bytes,
        "kv": {
            "k_bytes": kv.k_bytes,
            "v_bytes": kv.v_bytes,
            "gpu": est.kv_device.gpu,
            "cpu": est.kv_device.cpu,
            "cells": kv.cells_full,
            "cells_swa": kv.cells_swa,
            "layers": [dataclasses.asdict(layer) for layer in kv.layers],
        },
        "weights": {"gpu": est.weights.gpu, "cpu": est.weights.cpu},
        "output_bytes": est.output_bytes,
        "compute": {"gpu": est.compute.gpu, "cpu": est.compute.cpu},
        "fixed": {"gpu": est.fixed.gpu, "cpu": est.fixed.cpu},
        "ram_bytes": est.ram_bytes,
        "vram_bytes": est.vram_bytes,
        "breakdown": [dataclasses.asdict(part) for part in est.breakdown],
        "hardware": dataclasses.asdict(hardware),
    }


def _text(data: dict[str, Any], source: str, hw_source: str) -> str:
    def mib(n: int) -> str:
        return f"{n / MIB:10.1f} MiB"

    lines = [
        f"model      {source}",
        f"context    {data['n_ctx']} tokens, {data['n_gpu_layers']} of {data['n_layers']} layers on the GPU",
        f"verdict    {data['verdict']}",
        "",
    ]
    for part in data["breakdown"]:
        note = "" if part["exact"] else "  (approximate)"
        lines.append(f"  {part['label']:<22} {part['device'].upper():<4} {mib(part['bytes'])}{note}")
    lines += [
        "",
        f"  {'RAM':<27} {mib(data['ram_bytes'])}",
        f"  {'VRAM':<27} {mib(data['vram_bytes'])}",
        f"hardware   ({hw_source}) RAM {data['hardware']['ram_available'] / MIB:.0f} MiB available, "
        f"VRAM {data['hardware']['vram_free'] / MIB:.0f} MiB free",
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from app.estimate import LoadSettings, classify, estimate, parse_flash_attn, parse_gpu_layers, verdict

    shape = _load_shape(args.model)
    hardware, hw_source = _hardware()
    settings = LoadSettings(
        n_ctx=args.ctx,
        type_k=args.kv_type.lower(),
        type_v=args.kv_type.lower(),
        flash_attn=parse_flash_attn(args.flash_attn),
        swa_full=args.swa_full,
        n_batch=args.batch,
        n_ubatch=args.ubatch,
    )
    if args.ngl.strip().lower() == "auto":
        result = verdict(shape, settings, hardware)
        est, kind = result.estimate, result.kind
    else:
        settings = dataclasses.replace(settings, n_gpu_layers=parse_gpu_layers(args.ngl))
        est = estimate(shape, settings, gpu_available=hardware.gpu_offload_supported)
        kind = classify(est, hardware)
    data = report(est, kind.value, hardware)
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(_text(data, args.model, hw_source))
    return 0
