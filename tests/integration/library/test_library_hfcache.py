"""Import from the Hugging Face cache: a file fetched with huggingface_hub from the fake Hub shows up in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.library.hfcache import import_from_hf_cache, scan_hf_cache
from app.library.index import HeaderIndex
from app.library.manage import ImportMode
from app.library.scan import scan_library
from tests.fakehub import TINY_REPO, FakeHub

TINY_FILE = "Tiny-Llama-F32.gguf"


def test_empty_cache_lists_nothing(tmp_path: Path) -> None:
    assert scan_hf_cache(tmp_path / "no-cache") == []


@pytest.mark.parametrize("mode", [ImportMode.LINK, ImportMode.COPY, ImportMode.MOVE])
def test_cached_gguf_is_found_and_imported(fake_hub: FakeHub, tmp_path: Path, mode: ImportMode) -> None:
    from huggingface_hub import hf_hub_download

    cache = tmp_path / "hf-cache"
    hf_hub_download(TINY_REPO, TINY_FILE, cache_dir=cache, endpoint=fake_hub.url)
    hf_hub_download(TINY_REPO, "config.json", cache_dir=cache, endpoint=fake_hub.url)
    found = scan_hf_cache(cache)
    assert [(f.repo_id, f.filename) for f in found] == [(TINY_REPO, TINY_FILE)]
    models = tmp_path / "models"
    placed = import_from_hf_cache(found, models, mode)
    assert placed == [models / "tiny" / "Tiny-Llama-GGUF" / TINY_FILE]
    assert placed[0].is_symlink() == (mode == ImportMode.LINK)
    assert found[0].path.exists()  # a move copies: the HF cache stays intact
    entries = scan_library([models], HeaderIndex(tmp_path / "index.sqlite"))
    assert len(entries) == 1 and entries[0].usable
    assert import_from_hf_cache(found, models, mode) == []
