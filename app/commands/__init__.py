"""One module per CLI verb (each has add_parser and run); app.cli registers them all."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any


def print_report(report: dict[str, Any], *, as_json: bool, format_text: Callable[[dict[str, Any]], str]) -> None:
    """A verb's result: JSON for scripts (--json), text for people."""
    if as_json:
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_text(report))
