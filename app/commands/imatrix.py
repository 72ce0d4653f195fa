"""`gguf-studio imatrix MODEL --out FILE`: an importance matrix from a calibration text."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser(
        "imatrix",
        help="compute an importance matrix (for IQ and low-bit quants) from a calibration text",
        description="Run the model over the text and record, for every weight matrix, the mean squared "
        "activation of each input column; saved in the GGUF imatrix format llama-quantize reads.",
    )
    p.add_argument("model", metavar="MODEL", help="a .gguf model (F16/BF16/F32 gives the best matrix)")
    p.add_argument("--calibration", metavar="FILE", help="UTF-8 text (default: the text shipped with the app)")
    p.add_argument("--out", metavar="FILE", required=True, help="output imatrix file (.gguf)")
    p.add_argument("--ctx", type=int, default=512, help="tokens per chunk (default 512, at most the model's context)")
    p.add_argument("-v", "--verbose", action="store_true", help="show the worker's log")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app.core.errors import QuantizeError
    from app.quantize.console import run_job
    from app.quantize.imatrix import check_chunk_size, chunk_summary, training_context
    from app.quantize.pipeline import ImatrixSpec
    from app.quantize.runner import cpu_threads

    check_chunk_size(args.ctx, None)
    model = Path(args.model).expanduser()
    if not model.is_file():
        raise QuantizeError(f"{model} does not exist")
    check_chunk_size(args.ctx, training_context(model), model.name)
    calibration = Path(args.calibration).expanduser() if args.calibration else None
    if calibration is not None and not calibration.is_file():
        raise QuantizeError(f"calibration file {calibration} does not exist")
    spec = ImatrixSpec(model, Path(args.out).expanduser(), calibration, args.ctx, cpu_threads())
    for o in run_job("app.workers.imatrix_job", spec, args.verbose):
        print(o.path)
        print(f"{o.path.name}: {chunk_summary(o.path)}", file=sys.stderr)
    return 0
