"""`gguf-studio split FILE --max-size S | --max-tensors N`: llama.cpp's split format, streamed, atomic."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser(
        "split",
        help="split a GGUF into parts llama.cpp loads directly (NAME-00001-of-0000N.gguf)",
        description="Write the model as parts in llama.cpp's split format (the format of llama-gguf-split): "
        "llama.cpp loads them from the first part; `gguf-studio merge` or `llama-gguf-split --merge` joins them.",
    )
    p.add_argument("model", metavar="FILE", help="the .gguf file to split")
    limit = p.add_mutually_exclusive_group(required=True)
    limit.add_argument("--max-size", metavar="SIZE", help="largest part file, e.g. 2G, 500M, 49.5GB, 4GiB")
    limit.add_argument("--max-tensors", metavar="N", type=int, help="most tensors per part")
    p.add_argument("--out-dir", metavar="DIR", help="folder for the parts (default: beside FILE)")
    p.add_argument("--overwrite", action="store_true", help="replace parts that already exist")
    p.add_argument("--dry-run", action="store_true", help="print the parts and write nothing")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app.core.errors import GGUFError
    from app.core.units import format_bytes
    from app.share.console import ProgressLine
    from app.share.split import parse_size, plan_split, split_gguf

    source = Path(args.model).expanduser()
    if not source.is_file():
        raise GGUFError(f"{source} does not exist")
    max_size = parse_size(args.max_size) if args.max_size else None
    out_dir = Path(args.out_dir).expanduser() if args.out_dir else None
    if args.dry_run:
        plan = plan_split(source, max_size=max_size, max_tensors=args.max_tensors, out_dir=out_dir)
    else:
        line = ProgressLine(sys.stderr, f"splitting {source.name}")
        try:
            plan = split_gguf(source, max_size=max_size, max_tensors=args.max_tensors, out_dir=out_dir,
                              overwrite=args.overwrite, progress=line)
        finally:
            line.finish()
    for part in plan.parts:
        print(f"{part.path}\t{part.count} tensors\t{format_bytes(part.size)}")
    return 0
