"""`gguf-studio inspect PATH_OR_URL [--json]`: what a GGUF model is, from its header alone."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from app.commands import print_report

if TYPE_CHECKING:
    from app.core.errors import GGUFError
    from app.gguf import GGUFHeader, GGUFModel, ModelFacts


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "inspect",
        help="show a GGUF model's metadata and tensors (local file or http(s) URL)",
        description="Read a GGUF header (no tensor data) and summarise the model. "
        "A split model is read whole from any of its parts.",
    )
    p.add_argument("model", metavar="PATH_OR_URL", help="a .gguf file, or its http(s) URL (read with range requests)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    model = _read(args.model)
    report = build_report(args.model, model, _facts(model))
    print_report(report, as_json=args.json, format_text=format_text)
    return 0


def _facts(model: GGUFModel) -> ModelFacts | None:
    """Facts of a model; None for GGUF files that hold no model (an importance matrix, say)."""
    from app.gguf import model_facts

    if model.architecture is None:
        return None
    return model_facts(model)


def naming_the_file(exc: GGUFError, source: str) -> GGUFError:
    """The reader's error with the file's name in front ("notes.gguf is not a GGUF file: …")."""
    from app.core.errors import GGUFError

    name = source.partition("?")[0].rstrip("/").rpartition("/")[2] or source
    message = exc.message
    if name in message:
        return exc
    if exc.offset == 0:
        message = message.removesuffix(" (at byte 0)")  # says nothing more than "it starts with"
    joined = f"{name} is {message}" if message.startswith("not a GGUF file") else f"{name}: {message}"
    error = GGUFError(joined, hint=exc.hint)
    error.offset = exc.offset
    return error


def read_local(path: str) -> GGUFModel:
    """A local model's header, or a GGUFError that names the file."""
    from app.core.errors import GGUFError
    from app.gguf import read_model

    try:
        return read_model(path)
    except GGUFError as exc:
        raise naming_the_file(exc, path) from exc


def _read(source: str) -> GGUFModel:
    from app.core.errors import GGUFError

    if not source.startswith(("http://", "https://")):
        return read_local(source)
    try:
        return _read_url(source)
    except GGUFError as exc:
        raise naming_the_file(exc, source) from exc


def _read_url(source: str) -> GGUFModel:
    from app.gguf import merge_parts
    from app.gguf.naming import parse_split
    from app.gguf.remote import read_header_url
    from app.gguf.split import split_count

    first = read_header_url(source)
    count = split_count(first)
    if count == 1:
        return merge_parts([first])
    base, _, name = source.partition("?")[0].rpartition("/")
    split = parse_split(name)
    if split is None or split.count != count:
        from app.core.errors import GGUFError

        raise GGUFError(f"{name} is one of {count} parts, but its name does not say which")
    headers = [
        first if number == split.number else read_header_url(f"{base}/{split.part_name(number)}")
        for number in range(1, count + 1)
    ]
    return merge_parts(headers)


def _metadata_value(value: Any) -> Any:
    from app.gguf import ArrayRef
    from app.gguf.values import type_name

    if isinstance(value, ArrayRef):
        return {"array_of": type_name(value.element_type), "count": value.count}
    if isinstance(value, tuple):
        return [_metadata_value(v) for v in value]
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    return value


def _facts_report(facts: ModelFacts | None) -> dict[str, Any]:
    if facts is None:
        return {"architecture": None, "name": None}
    return {
        "architecture": facts.architecture,
        "name": facts.name,
        "n_params": facts.n_params,
        "file_type": facts.file_type,
        "bits_per_weight": round(facts.bits_per_weight, 4),
        "context_length": facts.context_length,
        "n_layer": facts.n_layer,
        "n_embd": facts.n_embd,
        "n_head": list(facts.n_head),
        "n_head_kv": list(facts.n_head_kv),
        "n_ff": list(facts.n_ff),
        "head_k": facts.head_k,
        "head_v": facts.head_v,
        "swa_type": facts.swa_type,
        "sliding_window": facts.sliding_window,
        "swa_layers": [il for il, swa in enumerate(facts.swa_layers) if swa],
        "n_expert": facts.n_expert,
        "n_expert_used": facts.n_expert_used,
        "kv_lora_rank": facts.kv_lora_rank,
        "vocab_size": facts.vocab_size,
        "has_chat_template": facts.has_chat_template,
        "bos_token_id": facts.bos_token_id,
        "eos_token_id": facts.eos_token_id,
    }


def build_report(source: str, model: GGUFModel, facts: ModelFacts | None) -> dict[str, Any]:
    """The JSON form of `inspect`: facts (when the file holds a model), tensors grouped by type, sizes,
    and the metadata."""
    from app.gguf.types import ggml_type_name

    groups: dict[str, dict[str, int]] = {}
    for tensor in model.tensors:
        group = groups.setdefault(ggml_type_name(tensor.ggml_type), {"count": 0, "bytes": 0, "elements": 0})
        group["count"] += 1
        group["bytes"] += tensor.n_bytes
        group["elements"] += tensor.n_elements
    first: GGUFHeader = model.parts[0]
    return {
        "source": source,
        "files": list(model.paths),
        "gguf_version": first.version,
        "file_size": model.file_size,
        **_facts_report(facts),
        "n_tensors": len(model.tensors),
        "tensor_bytes": model.tensor_bytes,
        "tensor_types": [
            {"type": name, **group} for name, group in sorted(groups.items(), key=lambda kv: -kv[1]["bytes"])
        ],
        "metadata": {key: _metadata_value(value) for key, value in model.metadata.items()},
    }


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _count(n: int) -> str:
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= scale:
            return f"{n / scale:.2f} {suffix}"
    return str(n)


def _layers(values: Sequence[int]) -> str:
    if values and all(v == values[0] for v in values):
        return str(values[0])
    return ", ".join(str(v) for v in values) or "-"


def format_text(r: dict[str, Any]) -> str:
    files = r["files"]
    lines = [
        f"{r['source']}  (GGUF v{r['gguf_version']}, {_size(r['file_size'])}"
        + (f" in {len(files)} files)" if len(files) > 1 else ")")
    ]
    if r["architecture"] is None:
        kind = r["metadata"].get("general.type", "unknown")
        lines.append(f"  no model architecture (general.type: {kind}); {len(r['metadata'])} metadata keys")
    else:
        lines += _facts_text(r)
    lines.append("tensors by type:")
    for group in r["tensor_types"]:
        lines.append(f"  {group['type']:<8}{group['count']:>6} tensors  {_size(group['bytes']):>11}")
    lines.append(f"  {'total':<8}{r['n_tensors']:>6} tensors  {_size(r['tensor_bytes']):>11}")
    return "\n".join(lines) + "\n"


def _facts_text(r: dict[str, Any]) -> list[str]:
    swa = "none"
    if r["sliding_window"]:
        swa = f"{r['sliding_window']} tokens on {len(r['swa_layers'])} of {r['n_layer']} layers ({r['swa_type']})"
    rows = [
        ("architecture", r["architecture"]),
        ("name", r["name"] or "-"),
        ("parameters", _count(r["n_params"])),
        ("file type", f"{r['file_type'] or '?'} ({r['bits_per_weight']:.2f} bits per weight)"),
        ("context length", r["context_length"]),
        ("layers", r["n_layer"]),
        ("embedding", r["n_embd"]),
        ("heads", _layers(r["n_head"])),
        ("KV heads", _layers(r["n_head_kv"])),
        ("head size K/V", f"{r['head_k']}/{r['head_v']}"),
        ("sliding window", swa),
        ("experts", f"{r['n_expert_used']} of {r['n_expert']}" if r["n_expert"] else "-"),
        ("vocabulary", r["vocab_size"]),
        ("chat template", "yes" if r["has_chat_template"] else "no"),
    ]
    return [f"  {label:<16}{value}" for label, value in rows]
