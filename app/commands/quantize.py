"""`gguf-studio quantize SRC TYPE[,TYPE…]`: one model to one or more llama.cpp quantization types."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.quantize.types import QuantType


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser(
        "quantize",
        help="quantize a GGUF, a Hugging Face folder or a Hub repo to llama.cpp types (Q4_K_M, IQ2_XS, …)",
        description="Writes <model>-<TYPE>.gguf for each type. A Hugging Face source is converted to F16 first. "
        "IQ1/IQ2 types and Q2_K_S need an importance matrix: pass --imatrix, or one is computed from "
        "--calibration (or the app's default text).",
    )
    p.add_argument("source", metavar="SRC", help=".gguf file, model folder, or Hub repo id")
    p.add_argument("types", metavar="TYPE[,TYPE…]", help="e.g. Q4_K_M,Q8_0 (see --list-types)")
    imx = p.add_mutually_exclusive_group()
    imx.add_argument("--imatrix", metavar="FILE", help="importance matrix (GGUF imatrix format)")
    imx.add_argument("--calibration", metavar="FILE", help="compute an importance matrix from this text")
    p.add_argument(
        "--imatrix-ctx",
        metavar="N",
        type=int,
        help="tokens per chunk when an importance matrix is computed (default 512, at most the model's context)",
    )
    p.add_argument(
        "--out-dir",
        metavar="D",
        help="output folder (default: the source's folder inside the models folder, else <models>/local/<name>)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace outputs that exist (refused otherwise)")
    p.add_argument(
        "--keep-f16", action="store_true", help="keep the F16 a Hugging Face source is converted to (removed otherwise)"
    )
    p.add_argument(
        "--no-mtp",
        action="store_true",
        help="convert a Hugging Face source without its multi-token-prediction layers (kept by default, as "
        "llama.cpp's converter keeps them), as llama.cpp's --no-mtp",
    )
    p.add_argument("--pure", action="store_true", help="every weight in the target type (no mixes)")
    p.add_argument("--output-type", metavar="T", help="type of output.weight (e.g. Q8_0)")
    p.add_argument("--embedding-type", metavar="T", help="type of token_embd.weight")
    p.add_argument(
        "--tensor-type", metavar="REGEX=T", action="append", default=[], help="override matching tensors' type"
    )
    p.add_argument("--quality", action="store_true", help="score each quant against its source (KL divergence)")
    p.add_argument(
        "--mmproj-type",
        choices=("f16", "q8_0", "none"),
        default="f16",
        help="a vision model's projector, written beside the quants so they keep their images (default f16; "
        "a GGUF source's projector is copied, or re-typed when that type is not beside it)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="show llama.cpp's log")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.core.errors import QuantizeError
    from app.gguf.reader import read_header
    from app.quantize.console import run_job
    from app.quantize.imatrix import DEFAULT_CHUNK, check_chunk_size, chunk_summary, training_context
    from app.quantize.pipeline import QuantizeSpec
    from app.quantize.plan import requantize_warnings
    from app.quantize.quantizer import QuantizeOptions
    from app.quantize.runner import cpu_threads
    from app.quantize.source import is_repo_id, local_source

    if args.imatrix_ctx is not None:
        if args.imatrix:
            raise QuantizeError("--imatrix-ctx sets how a matrix is computed; it cannot go with --imatrix FILE")
        check_chunk_size(args.imatrix_ctx, None)
    imatrix_ctx = DEFAULT_CHUNK if args.imatrix_ctx is None else args.imatrix_ctx
    if is_repo_id(args.source):
        from app.commands.convert import fetch

        source = fetch(args.source)
    else:
        source = local_source(args.source)
    types = _types(args.types)
    if source.is_dir():
        from app.commands.convert import check_folder

        check_folder(source)
    if not args.imatrix and (args.calibration or any(t.needs_imatrix for t in types)):
        check_chunk_size(imatrix_ctx, training_context(source), source.name)
    elif args.imatrix_ctx is not None:
        print("warning: --imatrix-ctx is unused: no importance matrix is computed for these types", file=sys.stderr)
    overrides = []
    for item in args.tensor_type:
        pattern, sep, type_name = item.rpartition("=")
        if not sep or not pattern:
            raise QuantizeError(f"--tensor-type {item!r} must look like REGEX=TYPE")
        overrides.append((pattern, type_name))
    options = QuantizeOptions(
        n_threads=cpu_threads(),
        pure=args.pure,
        output_type=args.output_type,
        token_embedding_type=args.embedding_type,
        overrides=tuple(overrides),
    )
    if args.out_dir:
        out_dir = Path(args.out_dir).expanduser()
    else:
        from app.core.settings import Settings
        from app.quantize.destination import default_out_dir

        out_dir = default_out_dir(source, Settings().models_path())
    spec = QuantizeSpec(
        source=source,
        targets=tuple(t.name for t in types),
        out_dir=out_dir,
        imatrix=Path(args.imatrix).expanduser() if args.imatrix else None,
        calibration=Path(args.calibration).expanduser() if args.calibration else None,
        imatrix_ctx=imatrix_ctx,
        options=options,
        quality=args.quality,
        n_threads=cpu_threads(),
        overwrite=args.overwrite,
        keep_intermediate=args.keep_f16,
        no_mtp=args.no_mtp,
        projector="" if args.mmproj_type == "none" else args.mmproj_type,
    )
    if not source.is_dir():
        for warning in requantize_warnings(source.name, read_header(source).metadata.get("general.file_type")):
            print(f"warning: {warning}", file=sys.stderr)
    for o in run_job("app.workers.quantize_job", spec, args.verbose):
        if o.kind in ("quant", "mmproj"):
            print(o.path)
        elif o.kind == "imatrix":
            print(f"{o.path.name}: {chunk_summary(o.path)}", file=sys.stderr)
    return 0


def _types(text: str) -> list[QuantType]:
    from app.quantize.types import parse_types

    return parse_types(text)
