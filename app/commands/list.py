"""`gguf-studio list [--json]`: the models in the library folders."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("list", help="list the models in the library (models folder and added folders)")
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app.core.settings import Settings
    from app.library.scan import scan_library

    settings = Settings()
    folders = [settings.models_path(), *(Path(f) for f in settings.values.library_folders)]
    entries = scan_library(folders)
    if args.json:
        print(json.dumps([_as_json(e) for e in entries], indent=2))
        return 0
    if not entries:
        print(f"No models in {', '.join(str(f) for f in folders)}", file=sys.stderr)
        return 0
    _print_table(entries)
    return 0


def _as_json(entry: Any) -> dict[str, Any]:
    summary = entry.summary
    return {
        "name": entry.name,
        "path": str(entry.path),
        "files": [str(f) for f in entry.files],
        "size": entry.size,
        "architecture": summary.architecture if summary else None,
        "parameters": summary.parameters if summary else None,
        "quant": summary.quant if summary else None,
        "context_length": summary.context_length if summary else None,
        "error": entry.error,
        "quality": entry.quality.to_json() if entry.quality else None,
    }


def _print_table(entries: list[Any]) -> None:
    from app.core.units import format_bytes, format_count
    from app.quantize.quality_file import format_agreement, format_kld

    rows = [("NAME", "ARCH", "PARAMS", "QUANT", "KLD/TOP-1", "SIZE", "CONTEXT", "PATH")]
    for e in entries:
        s = e.summary
        if s is None:
            rows.append((e.name, "error", "", "", "", format_bytes(e.size), "", f"{e.path}  ({e.error})"))
            continue
        q = e.quality
        quality = f"{format_kld(q.mean_kld)}/{format_agreement(q.top1_agreement)}" if q else "-"
        rows.append(
            (
                s.name,
                s.architecture or "?",
                format_count(s.parameters) if s.parameters else "?",
                s.quant or "?",
                quality,
                format_bytes(e.size),
                str(s.context_length or "?"),
                str(e.path),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1])
