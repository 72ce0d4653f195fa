"""`gguf-studio login [--token T]`: store a Hub access token (validated first), shared with other HF tools."""

from __future__ import annotations

import argparse
import getpass
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("login", help="sign in to the Hugging Face Hub with an access token")
    p.add_argument("--token", default=None, help="the token (default: read it without echo, or from stdin)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.hub.auth import sign_in

    token = args.token
    if token is None:
        token = getpass.getpass("Hub access token: ") if sys.stdin.isatty() else sys.stdin.readline()
    account = sign_in(token)
    print(f"signed in as {account.name} (token {account.token_name!r}, {account.role or 'unknown'} access)")
    return 0
