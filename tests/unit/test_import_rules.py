"""Rule 1 of the house: domain packages never import Qt. Checked by importing each with Qt made unavailable."""

from __future__ import annotations

import subprocess
import sys

from tests.support.models import REPO_ROOT

DOMAIN_PACKAGES = ("core", "gguf", "hardware", "estimate", "hub", "downloads", "library", "convert", "quantize", "chat")

_SCRIPT = r"""
import importlib, importlib.abc, pkgutil, sys

class BlockQt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"PySide6", "shiboken6", "PyQt5", "PyQt6"}:
            raise ImportError(f"domain code imported Qt: {name}")
        return None

sys.meta_path.insert(0, BlockQt())
failures = []
for package in sys.argv[1:]:
    root = importlib.import_module(f"app.{package}")
    for info in pkgutil.walk_packages(root.__path__, prefix=f"app.{package}."):
        try:
            importlib.import_module(info.name)
        except ImportError as exc:
            if "imported Qt" in str(exc):
                failures.append(f"{info.name}: {exc}")
            else:
                raise
print("\n".join(failures))
sys.exit(1 if failures else 0)
"""


def test_domain_packages_import_without_qt() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, *DOMAIN_PACKAGES],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
