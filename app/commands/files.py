"""`gguf-studio files REPO`: a repository's quants, their sizes and checksums, and what fits this machine."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.commands import print_report

if TYPE_CHECKING:
    from app.hub.fit import RepoFit
    from app.hub.models import RepoDetail

log = logging.getLogger("app.hub")
GIB = 1024**3


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("files", help="list a Hub repository's GGUF quants and which fit this machine")
    p.add_argument("repo", metavar="REPO", help="repository id, e.g. bartowski/Llama-3.2-1B-Instruct-GGUF")
    p.add_argument(
        "--ctx",
        type=int,
        default=None,
        help="context length for the verdicts (0: trained length; default: the Settings page's)",
    )
    p.add_argument("--revision", default=None, help="branch, tag or commit (default main)")
    p.add_argument("--no-header", action="store_true", help="judge by file size only (no remote header read)")
    p.add_argument(
        "--images",
        action="store_true",
        help="with images: count the vision projector Discover downloads (its weights and one image's compute "
        "buffer) beside each quant",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.core.errors import AppError
    from app.estimate.engine import engine_settings, stored_preferences
    from app.estimate.hardware import probe_spec
    from app.hub import repo_detail
    from app.hub.fit import fit_quants, reference_shape

    detail = repo_detail(args.repo, args.revision)
    if not detail.quants:
        return _no_gguf(detail, as_json=args.json)
    reference = None
    if not args.no_header and detail.quants:
        try:
            reference = reference_shape(detail)
        except AppError as exc:  # verdicts by size are still useful
            log.info("no remote header for %s: %s", args.repo, exc)
            print(f"note: verdicts by file size only: {exc}", file=sys.stderr)
    settings = engine_settings(stored_preferences())  # the engine's load settings, the user's default context
    n_ctx = settings.n_ctx if args.ctx is None else args.ctx
    projector = 0
    if getattr(args, "images", False):
        if not detail.mmproj:
            print(f"note: {args.repo} has no vision projector: verdicts without images", file=sys.stderr)
        elif args.no_header:
            from app.hub.projector import default_projector

            chosen = default_projector(detail.mmproj)
            projector = chosen.size if chosen else 0  # its weights only: no header read
        else:
            from app.hub.projector import remote_projector_memory

            memory = remote_projector_memory(detail, flash_attn=settings.flash_attn != "off")
            projector = memory.total if memory else 0
    fit = fit_quants(detail, probe_spec(), n_ctx, reference, settings, projector)
    report = build_report(detail, fit)
    print_report(report, as_json=args.json, format_text=format_text)
    return 0


EXIT_NO_GGUF = 1  # nothing to download: a script must not go on as if a quant had been listed
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


def _no_gguf(detail: RepoDetail, *, as_json: bool) -> int:
    """A repository without GGUF files: say what it holds and how to make a GGUF of it."""
    from app.quantize.source import repo_convertibility

    weights = [f for f in detail.other_files if f.path.endswith(WEIGHT_SUFFIXES)]
    # Whether the safetensors convert, from config.json alone: nothing else is fetched (pickles never are).
    verdict = repo_convertibility(detail.repo_id, detail.sha or "main") if any(
        f.path.endswith(".safetensors") for f in weights) else None
    converts = verdict is not None and verdict.convertible is not False
    command = f"gguf-studio quantize {detail.repo_id} Q4_K_M" if converts else ""
    if weights:
        kinds = sorted({Path(f.path).suffix for f in weights})
        message = f"{detail.repo_id} has no GGUF files, only {'/'.join(kinds)} weights"
        if verdict is None:
            message += ": GGUF Studio converts only .safetensors weights (pickles are never downloaded)"
        elif converts:
            message += f"; {verdict.message}: convert and quantize them with: {command}"
        else:
            message += f"; {verdict.message}" + (f" ({verdict.hint})" if verdict.hint else "")
    else:
        message = f"{detail.repo_id} has no GGUF model files"
    if as_json:
        print(json.dumps({"repo_id": detail.repo_id, "revision": detail.sha, "quants": [],
                          "weights": [f.path for f in weights], "quantize_command": command or None,
                          "convertible": verdict.convertible if verdict else False,
                          "architecture": verdict.architecture if verdict else None,
                          "reason": message}, indent=2))
    else:
        print(f"error: {message}", file=sys.stderr)
    return EXIT_NO_GGUF


def build_report(detail: RepoDetail, fit: RepoFit) -> dict[str, Any]:
    quants = []
    for qf in fit.fits:
        q, v = qf.quant, qf.verdict
        bpw = q.bits_per_weight(detail.n_params)
        quants.append(
            {
                "label": q.label,
                "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in q.files],
                "size": q.size,
                "sha256": q.first.sha256 if not q.is_split else None,
                "bits_per_weight": round(bpw, 2) if bpw else None,
                "verdict": v.kind.value,
                "verdict_label": v.label,
                "ram_bytes": v.ram_bytes,
                "vram_bytes": v.vram_bytes,
                "max_context": v.max_ctx if v.exact else None,  # the largest context this verdict holds at
                "n_cpu_moe": v.detail.n_cpu_moe if v.detail is not None else 0,
                "recommended": qf.recommended,
            }
        )
    return {
        "repo_id": detail.repo_id,
        "revision": detail.sha,
        "gated": detail.gated,
        "parameters": detail.n_params,
        "architecture": detail.architecture,
        "context_length": fit.n_ctx,
        "exact": fit.exact,
        "reason": fit.reason,
        "with_images": fit.projector_bytes > 0,
        "projector_bytes": fit.projector_bytes,  # counted in each quant's ram_bytes/vram_bytes and verdict
        "quants": quants,
        "mmproj": [
            {"label": q.label, "path": q.first.path, "size": q.size, "sha256": q.first.sha256} for q in detail.mmproj
        ],
        "imatrix": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in detail.imatrix],
    }


def _size(n: int) -> str:
    return f"{n / GIB:.2f} GiB" if n >= GIB else f"{n / 1024**2:.0f} MiB"


def format_text(report: dict[str, Any]) -> str:
    lines = [f"{report['repo_id']}  ({report['architecture'] or 'unknown'}, context {report['context_length']})"]
    if report["gated"]:
        lines.append("gated: accept the license on the Hub before downloading")
    if report["quants"]:
        width = max(len(q["label"]) for q in report["quants"])
        lines.append(f"  {'QUANT':<{width}}  {'SIZE':>9}  {'BPW':>5}  {'VERDICT':<40}  {'MAX CTX':>7}  SHA256")
        for q in report["quants"]:
            mark = "*" if q["recommended"] else " "
            bpw = f"{q['bits_per_weight']:.2f}" if q["bits_per_weight"] else "-"
            parts = f" ({len(q['files'])} parts)" if len(q["files"]) > 1 else ""
            sha = (q["sha256"] or "-")[:16]
            ctx = str(q["max_context"]) if q["max_context"] else "-"
            lines.append(
                f"{mark} {q['label']:<{width}}  {_size(q['size']):>9}  {bpw:>5}  "
                f"{q['verdict_label'][:40]:<40}  {ctx:>7}  {sha}{parts}"
            )
    else:
        lines.append("no GGUF model files")
    for m in report["mmproj"]:
        lines.append(f"  projector: {m['path']} ({_size(m['size'])})")
    if report.get("with_images"):
        lines.append(f"  verdicts with images: {_size(report['projector_bytes'])} of projector counted")
    for f in report["imatrix"]:
        lines.append(f"  imatrix:   {f['path']}")
    lines.append(f"* {report['reason']}")
    return "\n".join(lines) + "\n"
