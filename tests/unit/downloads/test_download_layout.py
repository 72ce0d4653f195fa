from __future__ import annotations

from pathlib import Path

import pytest

from app.core.errors import DownloadError
from app.downloads.layout import part_path, safe_relative_name, split_repo_id, target_path


def test_target_follows_lm_studio_layout(tmp_path: Path) -> None:
    path = target_path(tmp_path, "bartowski/Qwen2-GGUF", "Qwen2-Q4_K_M.gguf")
    assert path == tmp_path / "bartowski" / "Qwen2-GGUF" / "Qwen2-Q4_K_M.gguf"
    assert part_path(path).name == "Qwen2-Q4_K_M.gguf.part"


def test_subfolders_in_the_repo_are_kept(tmp_path: Path) -> None:
    path = target_path(tmp_path, "org/model", "Q8_0/model-Q8_0-00001-of-00002.gguf")
    assert path == tmp_path / "org" / "model" / "Q8_0" / "model-Q8_0-00001-of-00002.gguf"


@pytest.mark.parametrize(
    "name",
    [
        "../evil.gguf",
        "a/../../evil.gguf",
        "/etc/passwd",
        "C:/Windows/evil.gguf",
        "c:evil.gguf",
        "sub\\..\\evil.gguf",
        "a//b.gguf",
        "./a.gguf",
        "",
        " a.gguf",
        "con.gguf",
        "nul/x.gguf",
        "bad\x00.gguf",
        "x.gguf.part",
        "dots./x.gguf",
        "a:b.gguf",
    ],
)
def test_hostile_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(DownloadError):
        safe_relative_name(name)
    with pytest.raises(DownloadError):
        target_path(tmp_path, "org/model", name)


@pytest.mark.parametrize("repo_id", ["org", "org/model/extra", "../model", "org/..", "/model", "org/", "org/mo del"])
def test_hostile_repo_ids_are_refused(repo_id: str) -> None:
    with pytest.raises(DownloadError):
        split_repo_id(repo_id)


def test_plain_repo_id_splits() -> None:
    assert split_repo_id("unsloth/gemma-3-270m-it-GGUF") == ("unsloth", "gemma-3-270m-it-GGUF")


def test_any_part_of_a_split_set_means_the_whole_set() -> None:
    from app.downloads.select import expand_split

    assert expand_split("Q4/m-Q4_K_M-00002-of-00003.gguf") == [
        "Q4/m-Q4_K_M-00001-of-00003.gguf",
        "Q4/m-Q4_K_M-00002-of-00003.gguf",
        "Q4/m-Q4_K_M-00003-of-00003.gguf",
    ]
    assert expand_split("m-Q8_0.gguf") == ["m-Q8_0.gguf"]
    assert expand_split("m-00001-of-00001.gguf") == ["m-00001-of-00001.gguf"]
