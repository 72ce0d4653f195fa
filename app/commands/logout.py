"""`gguf-studio logout`: forget the stored Hub token."""

from __future__ import annotations

import argparse
import os


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("logout", help="sign out of the Hugging Face Hub (delete the stored token)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.hub.auth import sign_out

    sign_out()
    print("signed out")
    if os.environ.get("HF_TOKEN"):
        print("note: HF_TOKEN is set in the environment and is still used")
    return 0
