"""`gguf-studio doctor`: what this machine offers, which versions run, and where files live."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("doctor", help="show hardware, versions and paths")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def _version(distribution: str) -> str | None:
    import importlib.metadata  # here, not at the top: every verb's start imports this module

    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def collect() -> dict[str, Any]:
    import platform

    import app
    from app.core import paths
    from app.core.build_info import bundle_build_info
    from app.core.settings import Settings
    from app.hardware import probe_hardware

    info = probe_hardware()
    try:
        from PySide6.QtCore import qVersion

        qt_version: str | None = qVersion()
    except ImportError:
        qt_version = None
    hardware = dataclasses.asdict(info)
    hardware["gpus"] = [dataclasses.asdict(gpu) for gpu in info.gpus]
    return {
        "app": app.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {
            "PySide6": _version("PySide6-Essentials") or _version("PySide6"),
            "Qt": qt_version,
            "llama-cpp-python": _version("llama-cpp-python"),
            "huggingface_hub": _version("huggingface_hub"),
            "gguf": _version("gguf"),
        },
        "ram_total": info.ram_total,
        "ram_available": info.ram_available,
        "gpus": hardware["gpus"],
        "offload": info.can_offload,
        "llama": hardware["llama"],
        "cpu": {"name": info.cpu_name, "physical": info.cpu_physical_cores, "logical": info.cpu_logical_cores},
        "notes": list(info.notes),
        "paths": {
            "config": str(paths.config_dir()),
            "data": str(paths.data_dir()),
            "cache": str(paths.cache_dir()),
            "logs": str(paths.log_file()),
            "models": str(Settings().models_path()),
        },
        "executable": sys.executable,
        "bundle": bundle_build_info(),
    }


def run(args: argparse.Namespace) -> int:
    report = collect()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    from app.core.units import format_bytes

    print(f"GGUF Studio {report['app']} · Python {report['python']} · {report['platform']}")
    print(f"CPU      {report['cpu']['name']} ({report['cpu']['physical']} cores, {report['cpu']['logical']} threads)")
    print(f"RAM      {format_bytes(report['ram_total'])} total, {format_bytes(report['ram_available'])} available")
    if report["gpus"]:
        for gpu in report["gpus"]:
            kind = "unified memory" if gpu["unified_memory"] else "VRAM"
            print(f"GPU {gpu['index']}    {gpu['name']}: {format_bytes(gpu['vram_total'])} {kind}, "
                  f"{format_bytes(gpu['vram_free'])} free, driver {gpu['driver'] or '-'}")
    else:
        print("GPU      none")
    llama = report["llama"]
    if llama:
        backends = ", ".join(llama["backends"]) or "cpu"
        print(f"llama.cpp  llama-cpp-python {llama['version']}, backends: {backends}, "
              f"GPU offload: {'yes' if llama['gpu_offload'] else 'no'}")
        print(f"           {llama['system_info']}")
    if report["bundle"]:
        bundle = report["bundle"]
        print(f"bundle   built {bundle.get('built', '?')} with llama.cpp backend {bundle.get('llama_backend', '?')} "
              f"({bundle.get('cmake_args') or 'default CMake options'})")
    for note in report["notes"]:
        print(f"note     {note}")
    print("versions " + ", ".join(f"{k} {v}" for k, v in report["versions"].items() if v))
    for name, path in report["paths"].items():
        print(f"{name:<8} {path}")
    return 0
