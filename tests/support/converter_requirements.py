"""The Transformers that llama.cpp's converter declares, for measuring the names it gives vocabularies.

llama.cpp's converter names a byte-level BPE vocabulary by a hash of the token ids AutoTokenizer makes of a check
text, so the name depends on the Transformers it runs with. The pinned sources declare one
(requirements/requirements-convert_legacy_llama.txt: transformers==4.57.6), and their table of hashes was measured
with it; Transformers 5 tokenizes some published files otherwise (it adds no BOS where tokenizer_config.json asks
for one), and the converter then writes another name (DeepSeek V3's files: joyai-llm instead of deepseek-v3) or
refuses the vocabulary. Our test environment needs Transformers 5 for the tiny checkpoints, so the declared
version goes into a folder of its own, put first on the reference child's path (`site_path`).

`declared_transformers(sources)` installs, once into the test cache, that transformers with the tokenizers and
huggingface_hub its metadata asks for (no other dependencies: numpy, torch and the rest stay the test
environment's), and returns the folder.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
import tempfile
from email.parser import Parser
from pathlib import Path

from tests.support.llama_sources import cache_dir

_REQUIREMENTS = "requirements/requirements-convert_legacy_llama.txt"
_DONE = ".complete"
# the packages whose versions decide how a tokenizer.json is read and encoded
_PAIRED = ("tokenizers", "huggingface-hub")


class ConverterRequirementsError(RuntimeError):
    """The declared Transformers cannot be installed; the message says what to do."""


def declared_version(sources: Path) -> str:
    text = (sources / _REQUIREMENTS).read_text(encoding="utf-8")
    match = re.search(r"^transformers==([\w.]+)\s*$", text, re.MULTILINE)
    if match is None:
        raise ConverterRequirementsError(f"{_REQUIREMENTS} in the pinned sources names no exact transformers version")
    return match.group(1)


def declared_transformers(sources: Path) -> Path:
    version = declared_version(sources)
    final = cache_dir() / f"converter-transformers-{version}"
    if (final / _DONE).is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(cache_dir() / f".converter-transformers-{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (final / _DONE).is_file():
            _install(version, final)
    return final


def _install(version: str, final: Path) -> None:
    with tempfile.TemporaryDirectory(dir=final.parent, prefix=".install-") as tmp:
        site = Path(tmp) / "site"
        _pip(site, f"transformers=={version}")
        for spec in _paired_specs(site, version):
            _pip(site, spec)
        (site / _DONE).write_text(version, encoding="utf-8")
        if final.exists():  # an earlier, interrupted install
            shutil.rmtree(final)
        os.replace(site, final)


def _paired_specs(site: Path, version: str) -> list[str]:
    metadata = site / f"transformers-{version}.dist-info" / "METADATA"
    requires = Parser().parsestr(metadata.read_text(encoding="utf-8")).get_all("Requires-Dist") or []
    specs = []
    for name in _PAIRED:
        spec = next((r.strip() for r in requires if r.lower().startswith(name) and ";" not in r), None)
        if spec is None:
            raise ConverterRequirementsError(f"transformers {version} declares no {name} requirement")
        specs.append(spec)
    return specs


def _pip(site: Path, spec: str) -> None:
    cmd = [
        sys.executable, "-m", "pip", "install", "--no-deps", "--only-binary", ":all:", "--disable-pip-version-check",
        "--quiet", "--target", str(site), spec,
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise ConverterRequirementsError(
            f"could not install {spec} for llama.cpp's converter ({' '.join(cmd)} exited {result.returncode}):\n"
            f"{result.stderr.strip()[-600:]}\nFix the network or index access."
        )
