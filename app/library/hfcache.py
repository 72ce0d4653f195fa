"""Models already in the Hugging Face cache (`huggingface_hub.scan_cache_dir`), importable into the library."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from app.core.errors import LibraryError
from app.gguf.naming import is_model_file
from app.library.manage import ImportMode, place_file

log = logging.getLogger("app.library")


@dataclass(frozen=True, slots=True)
class CachedModelFile:
    repo_id: str
    filename: str  # path inside the repo
    path: Path  # the snapshot path in the HF cache
    size: int
    revision: str  # commit


def scan_hf_cache(cache_dir: Path | None = None) -> list[CachedModelFile]:
    """GGUF files in the HF cache (the newest revision of each file name)."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        info = scan_cache_dir(cache_dir)
    except CacheNotFound:
        return []
    except OSError as exc:
        raise LibraryError(f"Cannot read the Hugging Face cache: {exc}") from exc
    found: dict[tuple[str, str], CachedModelFile] = {}
    for repo in info.repos:
        if repo.repo_type != "model":
            continue
        for revision in sorted(repo.revisions, key=lambda r: r.last_modified):
            for file in revision.files:
                if not is_model_file(file.file_name):
                    continue
                name = file.file_path.relative_to(revision.snapshot_path).as_posix()
                found[(repo.repo_id, name)] = CachedModelFile(
                    repo.repo_id, name, file.file_path, file.size_on_disk, revision.commit_hash
                )
    return sorted(found.values(), key=lambda f: (f.repo_id.lower(), f.filename))


def import_from_hf_cache(files: list[CachedModelFile], models_dir: Path, mode: ImportMode) -> list[Path]:
    """Place files as `<models>/<publisher>/<repo>/<file>`, the layout downloads use."""
    from app.downloads.layout import target_path

    done: list[Path] = []
    for file in files:
        dest = target_path(models_dir, file.repo_id, file.filename)
        if dest.exists() or dest.is_symlink():
            log.info("skipping %s: already in the library", dest)
            continue
        source = file.path.resolve()  # the blob itself: snapshot entries are symlinks
        # Moving a blob out would break the cache for huggingface_hub; a move request copies instead.
        place_file(source, dest, ImportMode.COPY if mode == ImportMode.MOVE else mode)
        done.append(dest)
    return done
