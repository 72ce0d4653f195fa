"""Where a job's model comes from: a GGUF file, a local Hugging Face folder, or a Hub repo id."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.errors import ConvertError, HubError, NotFoundError, QuantizeError

log = logging.getLogger("app.quantize")

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# Files a conversion reads; weights are fetched only as safetensors (pickles are never downloaded).
_HF_FILES = {
    "config.json",
    "generation_config.json",
    "model.safetensors.index.json",
    "tokenizer.json",
    "tokenizer.model",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "chat_template.jinja",
    "chat_template.json",
    "README.md",
}


def is_repo_id(text: str) -> bool:
    return bool(_REPO_ID.match(text)) and not Path(text).exists()


def hf_files(paths: Iterable[str]) -> list[str]:
    """The files of a repository a conversion needs (top level only)."""
    chosen = [p for p in paths if "/" not in p and (p in _HF_FILES or p.endswith(".safetensors"))]
    if not any(p.endswith(".safetensors") for p in chosen):
        raise QuantizeError("the repository has no .safetensors weights to convert")
    if "config.json" not in chosen:
        raise QuantizeError("the repository has no config.json: it is not a Transformers model")
    return sorted(chosen)


def local_source(text: str) -> Path:
    path = Path(text).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return path
    if path.is_dir() and (path / "config.json").is_file():
        return path
    if path.exists():
        raise QuantizeError(f"{path} is neither a .gguf file nor a Hugging Face model folder (with config.json)")
    raise QuantizeError(f"{path} does not exist")


def convertible_files(repo_id: str, revision: str = "main") -> list[str]:
    """The files a conversion of a Hub repository fetches, once its config.json alone (fetched first) shows
    an architecture we convert: an unsupported model is refused before any weight is downloaded."""
    from app.convert.architectures import check_config
    from app.hub.detail import model_config, repo_detail

    detail = repo_detail(repo_id, revision)
    names = hf_files(f.path for f in detail.other_files)  # a Transformers repo has no GGUF quants
    check_config(model_config(repo_id, revision))
    return names


def fetch_repo(repo_id: str, models_dir: Path, listener: Any, revision: str = "main") -> Path:
    """Download (or resume) what a conversion needs from a Hub repository; returns its folder."""
    from app.downloads.job import run_job
    from app.downloads.layout import repo_dir
    from app.downloads.transfer import StopToken

    names = convertible_files(repo_id, revision)
    run_job(repo_id, names, revision, models_dir, StopToken(), listener)
    return repo_dir(models_dir, repo_id)


@dataclass(frozen=True, slots=True)
class Convertibility:
    """Whether GGUF Studio converts a Hub repository's safetensors, judged from its config.json alone."""

    convertible: bool | None  # None: the Hub would not tell (gated, offline)
    architecture: str  # the Transformers class config.json names ("" when it names none)
    message: str  # one sentence a user can act on
    hint: str = ""


def repo_convertibility(repo_id: str, revision: str = "main", token: str | None = None) -> Convertibility:
    """Fetches config.json only (a few KiB): the answer comes before any weight is downloaded."""
    from app.convert.architectures import check_config
    from app.hub.detail import model_config

    try:
        config = model_config(repo_id, revision, token)
    except NotFoundError:
        return Convertibility(False, "", f"{repo_id} has no config.json: it is not a Transformers model")
    except HubError as exc:  # gated, offline, rate limited: no verdict, and the reason why
        log.info("no config.json for %s: %s", repo_id, exc)
        return Convertibility(None, "", f"cannot tell whether it converts: {exc.message}", exc.hint)
    names = config.get("architectures")
    name = str(names[0]) if isinstance(names, list) and names else ""
    try:
        arch = check_config(config)
    except ConvertError as exc:
        return Convertibility(False, name, f"GGUF Studio cannot convert it: {exc.message}", exc.hint)
    return Convertibility(True, name, f"GGUF Studio converts it ({arch.label}, {name})")
