"""The converter uses the native kernels (app._native), which the package always builds: there is no silent
numpy fallback that would make a broken install convert many times slower with only a log line to say so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_without_the_extension_the_converter_does_not_import() -> None:
    probe = (
        "import sys\n"
        "sys.modules['app._native'] = None  # as if the extension were missing\n"
        "try:\n"
        "    import app.convert.converter\n"
        "except ImportError as exc:\n"
        "    print('refused:', exc)\n"
        "else:\n"
        "    print('imported')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.startswith("refused:"), result.stdout + result.stderr
    assert "app._native" in result.stdout
