"""`gguf-studio estimate`: how much RAM and VRAM a model needs with given load settings, and whether it fits.

By default the figures are what the app's own engine allocates (app.estimate.engine: the settings the
Chat page loads with, the default context of the Settings page); `--as llama-server` estimates llama-server
of the pinned llama.cpp instead."""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.estimate import HardwareSpec, LoadSettings, MemoryEstimate, ModelShape, VerdictKind
    from app.gguf import GGUFHeader

MIB = 1024 * 1024
FRONT_ENDS = ("engine", "llama-server")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("estimate", help="estimate RAM/VRAM for loading a model (no model is loaded)")
    p.add_argument("model", metavar="PATH_OR_URL", help="a .gguf file (any part of a split model) or its URL")
    p.add_argument(
        "--ctx",
        type=int,
        default=None,
        help="context length in tokens (0: the trained length; default: the Settings page's)",
    )
    p.add_argument("--ngl", default="auto", help="GPU layers: a number, 'all', or 'auto' (most that fit)")
    p.add_argument(
        "--n-cpu-moe",
        default=None,
        metavar="N|auto",
        help="keep the expert tensors of the first N layers in RAM (llama.cpp's --n-cpu-moe); "
        "'auto': every layer on the GPU and the smallest N that fits",
    )
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
    p.add_argument("--batch", type=int, default=None, help="n_batch (default: the engine's 512, llama-server's 2048)")
    p.add_argument("--ubatch", type=int, default=None, help="n_ubatch (default: n_batch; llama-server's 512)")
    p.add_argument(
        "--as",
        dest="front_end",
        default="engine",
        choices=FRONT_ENDS,
        help="whose load settings: this app's engine (default) or llama-server's defaults",
    )
    p.add_argument(
        "--mmproj",
        metavar="FILE",
        help="count this vision projector too: its weights and the compute buffer for one image",
    )
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


def report(est: MemoryEstimate, kind: VerdictKind, hardware: HardwareSpec, front_end: str = "engine") -> dict[str, Any]:
    from app.estimate.verdict import verdict_words

    kv = est.kv
    settings = est.settings
    plain, repacked = est.host_weight_buffers
    return {
        "as": front_end,
        "n_ctx": est.n_ctx,
        "n_gpu_layers": est.n_gpu_layers,
        "n_layers": est.placement.n_layer + 1,
        "verdict": kind.value,
        "verdict_label": verdict_words(
            kind, est.placement.n_gpu_layers, est.placement.n_layer + 1, est.experts_on_cpu
        ),
        "n_cpu_moe": settings.n_cpu_moe,
        "experts": {  # --n-cpu-moe: offloaded layers whose expert tensors stay in RAM, and their bytes
            "layers_on_cpu": est.experts_on_cpu,
            "cpu_bytes": est.expert_cpu_bytes,
        },
        "load_settings": {
            "n_batch": settings.n_batch,
            "n_ubatch": settings.n_ubatch,
            "n_seq_max": settings.n_seq_max,
            "kv_unified": settings.kv_unified,
            "n_outputs_max": settings.n_outputs_max,
            "flash_attn": settings.flash_attn.value,
            "swa_full": settings.swa_full,
            "mmap": settings.mmap,
        },
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
        "state": {  # recurrent state and indexer caches (app.estimate.state); zeros for a transformer
            "recurrent_bytes": est.state.recurrent_bytes if est.state else 0,
            "indexer_bytes": est.state.sizes.idx_bytes if est.state else 0,
            "rows": est.state.sizes.rows if est.state else 0,
            "gpu": est.state_device.gpu,
            "cpu": est.state_device.cpu,
        },
        "weights": {"gpu": est.weights.gpu, "cpu": plain, "cpu_repacked": repacked},
        "output_bytes": est.output_bytes,
        "compute": {"gpu": est.compute.gpu, "cpu": est.compute.cpu},
        "fixed": {"gpu": est.fixed.gpu, "cpu": est.fixed.cpu},
        "ram_bytes": est.ram_bytes,
        "vram_bytes": est.vram_bytes,
        "ram_need_bytes": est.ram_need,
        "vram_need_bytes": est.vram_need,
        "repack_exact": hardware.cpu.exact,
        "breakdown": [dataclasses.asdict(part) for part in est.breakdown],
        "hardware": dataclasses.asdict(hardware),
    }


def with_projector(data: dict[str, Any], path: str, *, flash_attn: bool, on_gpu: bool) -> None:
    """Adds a projector's memory (app.estimate.projector) to a report: its own section, breakdown lines and
    the totals. The engine gives mtmd the GPU when it offloads layers, as llama-server does."""
    from app.estimate.projector import projector_memory
    from app.gguf.reader import read_header

    memory = projector_memory(read_header(path), flash_attn=flash_attn)
    device = "gpu" if on_gpu else "cpu"
    data["projector"] = {"path": path, "type": memory.projector_type, "device": device,
                         "weights_bytes": memory.weights, "compute_bytes": memory.compute,
                         "compute_exact": memory.exact_compute}
    data["breakdown"] += [
        {"label": "projector weights", "device": device, "bytes": memory.weights, "exact": True},
        {"label": "projector compute", "device": device, "bytes": memory.compute, "exact": memory.exact_compute},
    ]
    total = "vram" if on_gpu else "ram"
    data[f"{total}_bytes"] += memory.total
    data[f"{total}_need_bytes"] += memory.total


def _text(data: dict[str, Any], source: str, hw_source: str) -> str:
    def mib(n: int) -> str:
        return f"{n / MIB:10.1f} MiB"

    lines = [
        f"model      {source}",
        f"context    {data['n_ctx']} tokens, {data['n_gpu_layers']} of {data['n_layers']} layers on the GPU"
        + (f", experts of {data['experts']['layers_on_cpu']} in RAM" if data["experts"]["layers_on_cpu"] else ""),
        f"verdict    {data['verdict_label']}",
        "as         " + ("llama-server" if data["as"] == "llama-server" else "this app's engine"),
        "",
    ]
    for part in data["breakdown"]:
        note = "" if part["exact"] else "  (approximate)"
        lines.append(f"  {part['label']:<22} {part['device'].upper():<4} {mib(part['bytes'])}{note}")
    lines += [
        "",
        f"  {'RAM (llama.cpp buffers)':<27} {mib(data['ram_bytes'])}",
        f"  {'VRAM (llama.cpp buffers)':<27} {mib(data['vram_bytes'])}",
        f"hardware   ({hw_source}) RAM {data['hardware']['ram_available'] / MIB:.0f} MiB available, "
        f"VRAM {data['hardware']['vram_free'] / MIB:.0f} MiB free",
    ]
    return "\n".join(lines)


def load_settings(args: argparse.Namespace) -> LoadSettings:
    """The settings the chosen front-end would load with, and the explicit options on top."""
    from app.estimate.engine import (
        engine_load_settings,
        engine_settings,
        llama_server_load_settings,
        stored_preferences,
    )
    from app.estimate.settings import parse_flash_attn

    flash = parse_flash_attn(args.flash_attn).value
    changes: dict[str, Any] = {"type_k": args.kv_type.lower(), "type_v": args.kv_type.lower(), "flash_attn": flash}
    changes["swa_full"] = args.swa_full
    if args.ctx is not None:
        changes["n_ctx"] = args.ctx
    if args.n_cpu_moe is not None and args.n_cpu_moe.strip().lower() != "auto":
        changes["n_cpu_moe"] = parse_cpu_moe(args.n_cpu_moe)
    engine = engine_settings(stored_preferences(), **changes)
    mapping = llama_server_load_settings if args.front_end == "llama-server" else engine_load_settings
    settings = mapping(engine)
    if args.batch is not None:
        ubatch = settings.n_ubatch if args.front_end == "llama-server" else args.batch
        settings = dataclasses.replace(settings, n_batch=args.batch, n_ubatch=ubatch)
    if args.ubatch is not None:
        settings = dataclasses.replace(settings, n_ubatch=args.ubatch)
    return settings


def parse_cpu_moe(value: str) -> int:
    from app.core.errors import EstimateError

    try:
        n = int(value)
    except ValueError:
        raise EstimateError(f"--n-cpu-moe must be a number of layers or 'auto', not {value!r}") from None
    if n < 0:
        raise EstimateError("--n-cpu-moe must not be negative")
    return n


def _auto_cpu_moe(shape: ModelShape, settings: LoadSettings, hardware: HardwareSpec) -> LoadSettings:
    """Every layer on the GPU and the smallest --n-cpu-moe that fits (every MoE layer's experts in RAM
    when none does, so the report shows how far off it is)."""
    from app.estimate import plan_cpu_moe
    from app.estimate.settings import GPU_LAYERS_ALL

    n = plan_cpu_moe(shape, dataclasses.replace(settings, n_gpu_layers=GPU_LAYERS_ALL), hardware)
    if n is None:
        n = shape.n_layer if shape.expert_bytes else 0
    return dataclasses.replace(settings, n_gpu_layers=GPU_LAYERS_ALL, n_cpu_moe=n)


def run(args: argparse.Namespace) -> int:
    from app.estimate import classify, estimate, parse_gpu_layers, verdict
    from app.estimate.projector import hardware_left, images_verdict, projector_file_memory, projector_on_gpu

    shape = _load_shape(args.model)
    hardware, hw_source = _hardware()
    settings = load_settings(args)
    images = 0  # with --mmproj the verdict counts the projector on the device mtmd gives it
    if getattr(args, "mmproj", None):
        images = projector_file_memory(args.mmproj, flash_attn=settings.flash_attn.value != "off").total
    auto_moe = args.n_cpu_moe is not None and args.n_cpu_moe.strip().lower() == "auto"
    if auto_moe:
        settings = _auto_cpu_moe(shape, settings, hardware)
        if args.ngl.strip().lower() != "auto":
            settings = dataclasses.replace(settings, n_gpu_layers=parse_gpu_layers(args.ngl))
        est = estimate(shape, settings, gpu_available=hardware.gpu_offload_supported, cpu=hardware.cpu)
        kind = classify(est, hardware_left(hardware, images, projector_on_gpu(est.n_gpu_layers, hardware)))
    elif args.ngl.strip().lower() == "auto":
        result = images_verdict(shape, settings, hardware, images)[0] if images else verdict(shape, settings, hardware)
        est, kind = result.estimate, result.kind
    else:
        settings = dataclasses.replace(settings, n_gpu_layers=parse_gpu_layers(args.ngl))
        est = estimate(shape, settings, gpu_available=hardware.gpu_offload_supported, cpu=hardware.cpu)
        kind = classify(est, hardware_left(hardware, images, projector_on_gpu(est.n_gpu_layers, hardware)))
    data = report(est, kind, hardware, args.front_end)
    if getattr(args, "mmproj", None):
        with_projector(data, args.mmproj, flash_attn=settings.flash_attn.value != "off",
                       on_gpu=est.n_gpu_layers > 0 and hardware.gpu_offload_supported)
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(_text(data, args.model, hw_source))
    return 0
