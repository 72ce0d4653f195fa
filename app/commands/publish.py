"""`gguf-studio publish FILE… --repo USER/NAME`: upload quants, their imatrix and a model card to the Hub."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser(
        "publish",
        help="publish quants to the Hub with a model card of their measured quality and memory",
        description="Create the repository (or add to one this app published), upload the GGUF files, the "
        "importance matrix beside them and a generated README.md, in one commit. Files over 49.5 GB are split "
        "first. Run it again after an interruption: what the Hub already holds is not sent again.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="quantized .gguf files of one model")
    p.add_argument("--repo", required=True, metavar="USER/NAME", help="the repository to publish to")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.add_argument("--message", "-m", metavar="M", help="the commit message")
    p.add_argument("--overwrite", action="store_true",
                   help="publish into an existing repository that holds other content (its README is replaced)")
    p.add_argument("--imatrix", metavar="FILE", help="the importance matrix to publish (default: the one beside)")
    p.add_argument("--base-model", metavar="ORG/NAME", help="the source model on the Hub, for the card")
    p.add_argument("--card", metavar="FILE", help="publish this README.md instead of the generated card")
    p.add_argument("--print-card", action="store_true", help="print the card that would be published and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app.core.errors import ShareError
    from app.share.console import ProgressLine
    from app.share.publish import PublishProgress, PublishRequest, check_repo_id, draft_card, publish

    card = None
    if args.card:
        try:
            card = Path(args.card).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ShareError(f"cannot read the card {args.card}: {exc}") from exc
    request = PublishRequest(
        files=tuple(Path(f).expanduser() for f in args.files),
        repo_id=check_repo_id(args.repo),
        private=args.private,
        message=args.message,
        overwrite=args.overwrite,
        imatrix=Path(args.imatrix).expanduser() if args.imatrix else None,
        base_model=args.base_model,
        card=card,
    )
    if args.print_card:
        sys.stdout.write(card if card is not None else draft_card(request))
        return 0
    lines: dict[str, ProgressLine] = {}

    def show(event: PublishProgress) -> None:
        if event.stage not in ("split", "hash", "upload"):
            for line in lines.values():
                line.finish()
            if event.stage == "commit":
                print("committing", file=sys.stderr)
            return
        if event.stage not in lines:
            for other in lines.values():
                other.finish()
            what = {"split": "splitting", "hash": "hashing", "upload": "uploading"}[event.stage]
            lines[event.stage] = ProgressLine(sys.stderr, what)
        lines[event.stage](event.done, event.total)

    try:
        result = publish(request, progress=show)
    finally:
        for line in lines.values():
            line.finish()
    from app.core.units import format_bytes

    skipped = result.total_bytes - result.sent_bytes
    note = f", {format_bytes(skipped)} already on the Hub" if skipped > 0 else ""
    print(f"published {len(result.files)} files ({format_bytes(result.sent_bytes)} sent{note})", file=sys.stderr)
    print(result.url)
    return 0
