"""`gguf-studio convert SRC`: a Hugging Face safetensors model to GGUF (F32, F16, BF16 or Q8_0), torch-free."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser(
        "convert",
        help="convert a Hugging Face model (local folder or Hub repo id) to GGUF",
        description="Convert safetensors weights and tokenizer files to one GGUF file, one tensor at a time. "
        "Supported: Llama 2/3, Mistral, Mixtral, Qwen2/2.5/3 and their MoE, Gemma 2, Gemma 3 (text), Phi-3, "
        "SmolLM3, Granite 3 (dense, MoE), OLMo 2/3, OLMoE, GLM-4, GLM-4.5 MoE, ERNIE 4.5 (dense, MoE), EXAONE 4, "
        "Command R7B, Seed-OSS, Apertus, DeepSeek V2/V3, gpt-oss (BF16 or MXFP4 experts), Llama 4 (text), LFM2 "
        "(dense, MoE), Mamba-2, Qwen3-Next, Qwen3.5 (dense, MoE), Jamba, Granite 4.0-H, Falcon-H1, Nemotron-H (dense, "
        "MoE), Gemma 3n and Gemma 4 (text).",
    )
    p.add_argument("source", metavar="SRC", help="model folder (with config.json) or Hub repo id (owner/name)")
    p.add_argument("--outtype", default="f16", choices=("f16", "bf16", "q8_0", "f32"), help="default f16")
    p.add_argument("--out", metavar="PATH", help="output file (default: <folder>/<name>-<TYPE>.gguf)")
    p.add_argument(
        "--no-mtp",
        action="store_true",
        help="leave multi-token-prediction layers out (Qwen3-Next, Qwen3.5, GLM-4.5, Nemotron 3; kept by default, "
        "as llama.cpp's converter keeps them), as llama.cpp's --no-mtp",
    )
    p.add_argument(
        "--mmproj",
        action="store_true",
        help="write the vision projector (mmproj-<name>-<TYPE>.gguf) instead of the text model, as llama.cpp's "
        "--mmproj (Gemma 3, Qwen2-VL, Qwen2.5-VL, Qwen3-VL)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="show the worker's log")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.convert.converter import default_output
    from app.quantize.console import run_job
    from app.quantize.pipeline import ConvertSpec

    folder = resolve_folder(args.source)
    if getattr(args, "mmproj", False):
        return run_mmproj(folder, args)
    check_folder(folder)
    out = Path(args.out).expanduser() if args.out else default_output(folder, args.outtype)
    spec = ConvertSpec(folder, out, args.outtype, no_mtp=args.no_mtp)
    outputs = run_job("app.workers.convert_job", spec, args.verbose)
    for o in outputs:
        print(o.path)
    return 0


def run_mmproj(folder: Path, args: argparse.Namespace) -> int:
    """The projector is the vision tower alone (tens to hundreds of MiB): converted here, without a worker."""
    from app.convert.mmproj import convert_mmproj, default_output

    out = Path(args.out).expanduser() if args.out else default_output(folder, args.outtype)
    print(convert_mmproj(folder, out, args.outtype).path)
    return 0


def check_folder(folder: Path) -> None:
    """Refuse what cannot be converted before a worker starts (headers only, no weights read)."""
    from app.convert.architectures import find_architecture
    from app.convert.checkpoint import open_checkpoint

    find_architecture(open_checkpoint(folder).architecture)


def resolve_folder(text: str) -> Path:
    from app.core.errors import ConvertError
    from app.quantize.source import is_repo_id, local_source

    if is_repo_id(text):
        return fetch(text)
    path = local_source(text)
    if not path.is_dir():
        raise ConvertError(f"{path} is already a GGUF file; convert reads Hugging Face folders")
    return path


def fetch(repo_id: str) -> Path:
    import sys

    from app.core.settings import Settings
    from app.quantize.source import fetch_repo

    return fetch_repo(repo_id, Settings().models_path(), _DownloadLines(sys.stderr))


class _DownloadLines:
    """Minimal download listener for the terminal."""

    def __init__(self, stream: object) -> None:
        self._stream = stream

    def _say(self, text: str) -> None:
        print(text, file=self._stream)  # type: ignore[call-overload]

    def resolved(self, files: object, done_bytes: int) -> None:
        self._say(f"fetching {len(files)} file(s) from the Hub")  # type: ignore[arg-type]

    def progress(self, done_bytes: int) -> None:
        pass

    def retrying(self, message: str, delay: float) -> None:
        self._say(f"retrying in {delay:.0f} s: {message}")

    def file_done(self, filename: str) -> None:
        self._say(f"fetched {filename}")
