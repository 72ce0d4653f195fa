"""Where downloads land (`<models>/<publisher>/<repo>/<file>`, LM Studio's layout); safe file names."""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

from app.core.errors import DownloadError
from app.core.names import MAX_NAME_BYTES, display_name, hidden_characters

PART_SUFFIX = ".part"
RANGES_SUFFIX = ".ranges"  # `<file>.part.ranges`: which bytes of a segmented part are on disk (ranges.py)
MAX_PART_BYTES = MAX_NAME_BYTES - len(PART_SUFFIX)  # the partial file's name must fit too
_REPO_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_DRIVE = re.compile(r"^[A-Za-z]:")
# Names Windows refuses for any file or folder; a shared models folder must work there too.
_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}


def split_repo_id(repo_id: str) -> tuple[str, str]:
    """`publisher/name` → its two parts, each a plain folder name."""
    parts = repo_id.split("/")
    if len(parts) != 2 or not all(_REPO_PART.match(p) and p not in {".", ".."} for p in parts):
        raise DownloadError(f"Not a Hub model id: {repo_id!r}", hint="use the form publisher/name")
    return parts[0], parts[1]


def safe_relative_name(filename: str) -> PurePosixPath:
    """A Hub file name as a relative path that cannot leave its repo folder."""
    problem = _name_problem(filename)
    if problem:
        shown = display_name(filename)
        if len(shown) > 80:
            shown = shown[:60] + "…" + shown[-15:]
        raise DownloadError(
            f"Refusing the Hub file name {shown!r}: {problem}",
            hint="ask the publisher to rename the file; GGUF Studio will not save it under a misleading name",
        )
    return PurePosixPath(filename)


def _name_problem(filename: str) -> str:
    if not filename or filename != filename.strip():
        return "empty or padded with spaces"
    if "\\" in filename:
        return "backslashes are not allowed"
    if "\x00" in filename or any(ord(c) < 32 for c in filename):
        return "control characters are not allowed"
    hidden = hidden_characters(filename)
    if hidden:
        return f"it contains invisible or text-reordering characters ({', '.join(dict.fromkeys(hidden))})"
    if filename.startswith("/") or _DRIVE.match(filename):
        return "absolute paths are not allowed"
    for part in filename.split("/"):
        if part in {"", ".", ".."}:
            return "path traversal is not allowed"
        if part.split(".")[0].upper() in _RESERVED or part.endswith((" ", ".")) or ":" in part:
            return "not a portable file name"
        size = len(part.encode("utf-8"))
        if size > MAX_PART_BYTES:
            return f"a name in it is {size} bytes long; file systems allow {MAX_PART_BYTES} here"
    if filename.endswith((PART_SUFFIX, PART_SUFFIX + RANGES_SUFFIX)):
        return "names ending in .part (or .part.ranges) are reserved for partial downloads"
    return ""


def repo_dir(models_dir: Path, repo_id: str) -> Path:
    publisher, name = split_repo_id(repo_id)
    return models_dir / publisher / name


def target_path(models_dir: Path, repo_id: str, filename: str) -> Path:
    rel = safe_relative_name(filename)
    base = repo_dir(models_dir, repo_id)
    path = base.joinpath(*rel.parts)
    # Belt and braces: the checks above make this impossible, but a wrong file write is not recoverable.
    # Lexical on purpose: the file itself may be a link the user imported.
    if not Path(os.path.normpath(path)).is_relative_to(os.path.normpath(base)):
        raise DownloadError(f"Refusing the Hub file name {filename!r}: it leaves the model folder")
    return path


def part_path(target: Path) -> Path:
    return target.with_name(target.name + PART_SUFFIX)
