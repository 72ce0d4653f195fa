"""The `gguf-studio` command. No verb opens the GUI; each verb lives in its own module in app/commands."""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

import app
import app.commands
from app.core.errors import AppError

EXIT_ERROR = 1
EXIT_USAGE = 2


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; given the verb about to run, only that verb's module is imported (importing
    all of them costs every start about 35 ms, and a job's start is counted against llama.cpp's tools)."""
    parser = argparse.ArgumentParser(
        prog="gguf-studio",
        description="Discover, download, quantize and chat with GGUF models. No command opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"gguf-studio {app.__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    parser.add_argument("--self-test", action="store_true",
                        help="check that this installation is whole (window, GGUF reader, engine) and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # Each module in app/commands registers its verb; heavy imports stay inside its run function.
    names = sorted(info.name for info in pkgutil.iter_modules(app.commands.__path__))
    for name in [verb] if verb in names else names:
        module = importlib.import_module(f"app.commands.{name}")
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(next((a for a in argv if not a.startswith("-")), None))
    args = parser.parse_args(argv)
    from app.core.logs import setup_logging

    setup_logging(debug=args.debug, console=args.command is not None)
    try:
        if args.self_test:
            from app.selftest import run_self_test

            return run_self_test()
        if args.command is None:
            from app.ui.application import run_gui

            return run_gui()
        result: int = args.func(args)
        return result
    except AppError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`gguf-studio list | head`): not an error; silence the flush at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug, not an expected failure: still one line unless --debug
        if args.debug:
            raise
        import logging

        logging.getLogger("app").exception("unexpected error")
        print(f"error: unexpected {type(exc).__name__}: {exc} (run with --debug for details)", file=sys.stderr)
        return EXIT_ERROR


def main_gui() -> int:
    return main([])
