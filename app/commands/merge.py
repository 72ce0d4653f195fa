"""`gguf-studio merge FIRST_PART`: join a split model into one GGUF file, streamed, atomic."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser(
        "merge",
        help="merge a split GGUF (NAME-00001-of-0000N.gguf …) into one file",
        description="Join every part of a split model into NAME.gguf beside them (or --out). A set this app "
        "split merges back byte for byte into the original file.",
    )
    p.add_argument("first", metavar="FIRST_PART", help="the first part, NAME-00001-of-0000N.gguf")
    p.add_argument("--out", metavar="FILE", help="output file (default: NAME.gguf beside the parts)")
    p.add_argument("--overwrite", action="store_true", help="replace the output if it exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app.core.errors import GGUFError
    from app.share.console import ProgressLine
    from app.share.split import merge_gguf

    first = Path(args.first).expanduser()
    if not first.is_file():
        raise GGUFError(f"{first} does not exist")
    line = ProgressLine(sys.stderr, f"merging {first.name}")
    try:
        out = merge_gguf(first, output=Path(args.out).expanduser() if args.out else None,
                         overwrite=args.overwrite, progress=line)
    finally:
        line.finish()
    print(out)
    return 0
