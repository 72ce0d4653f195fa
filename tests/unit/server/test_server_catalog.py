from __future__ import annotations

from pathlib import Path

from app.library.entries import LibraryEntry, ModelSummary
from app.server.catalog import served_models, slug

SUMMARY = ModelSummary("m", "llama", 1, "Q4_K_M", 512)


def entry(root: Path, relative: str, usable: bool = True) -> LibraryEntry:
    path = root / relative
    return LibraryEntry(path, (path,), 1, root, SUMMARY if usable else None, None if usable else "broken")


def test_ids_are_the_path_in_the_library_without_suffixes(tmp_path: Path) -> None:
    assert slug(entry(tmp_path, "Unsloth/Gemma-3-GGUF/gemma-3-Q4_K_M.gguf")) == "unsloth/gemma-3-gguf/gemma-3-q4_k_m"
    assert slug(entry(tmp_path, "big/Model-00001-of-00003.gguf")) == "big/model"
    assert slug(entry(tmp_path, "odd name (copy).gguf")) == "odd-name-copy"


def test_same_path_under_two_folders_gets_a_suffix_and_broken_entries_are_not_served(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    models = served_models([entry(a, "x/m.gguf"), entry(b, "x/m.gguf"), entry(a, "y/n.gguf", usable=False)])
    assert [m.id for m in models] == ["x/m", "x/m-2"]
