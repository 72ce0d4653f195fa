"""`gguf-studio search QUERY`: GGUF repositories on the Hub."""

from __future__ import annotations

import argparse
import json
import sys

SORTS = ("downloads", "likes", "trending", "updated")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="search the Hugging Face Hub for GGUF models")
    p.add_argument("query", nargs="?", default="", help="words in the repository name (empty: all)")
    p.add_argument("--sort", choices=SORTS, default="downloads", help="order, best first (default downloads)")
    p.add_argument("--limit", type=_positive, default=20, help="how many results (default 20)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _count(n: int | None) -> str:
    if n is None:
        return "-"
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def run(args: argparse.Namespace) -> int:
    from app.hub import SortKey, iter_search

    results = list(iter_search(args.query, SortKey.parse(args.sort), args.limit))
    if args.json:
        rows = [
            {
                "repo_id": r.repo_id,
                "author": r.author,
                "downloads": r.downloads,
                "likes": r.likes,
                "last_modified": r.last_modified.isoformat() if r.last_modified else None,
                "parameters": r.n_params,
                "architecture": r.architecture,
                "gated": r.gated,
            }
            for r in results
        ]
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if not results:
        print("no GGUF repositories found")
        return 0
    width = max(len(r.repo_id) for r in results)
    print(f"{'REPOSITORY':<{width}}  {'PARAMS':>7}  {'DOWNLOADS':>9}  {'LIKES':>6}  UPDATED")
    for r in results:
        updated = r.last_modified.date().isoformat() if r.last_modified else "-"
        gated = "  (gated)" if r.gated else ""
        print(
            f"{r.repo_id:<{width}}  {_count(r.n_params):>7}  {_count(r.downloads):>9}  {_count(r.likes):>6}  "
            f"{updated}{gated}"
        )
    return 0
