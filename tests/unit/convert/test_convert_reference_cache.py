"""The reference converter's cache key (tests/support/reference_convert.py) covers everything its output
depends on, so identical checkpoint bytes in differently named folders never share a cached reference."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support.reference_convert import ReferenceJob, job_key


def _checkpoint(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}', encoding="utf-8")
    (folder / "model.safetensors").write_bytes(b"\0" * 64)
    return folder


def test_identical_bytes_in_differently_named_folders_get_different_keys(tmp_path: Path) -> None:
    # the reference writes general.name (and basename, size label...) from the folder's name
    first = _checkpoint(tmp_path / "tiny-llama-3B")
    second = tmp_path / "tiny-qwen-7B"
    shutil.copytree(first, second)
    assert job_key(ReferenceJob(first, "f32", None), "src") != job_key(ReferenceJob(second, "f32", None), "src")


def test_the_same_checkpoint_under_another_parent_keeps_its_key(tmp_path: Path) -> None:
    # each test session builds its checkpoints under a new temporary folder: the cache must still hit
    first = _checkpoint(tmp_path / "session-1" / "tiny-llama")
    second = tmp_path / "session-2" / "tiny-llama"
    shutil.copytree(first, second)
    assert job_key(ReferenceJob(first, "f32", None), "src") == job_key(ReferenceJob(second, "f32", None), "src")


def test_every_option_of_the_job_is_in_the_key(tmp_path: Path) -> None:
    folder = _checkpoint(tmp_path / "tiny-llama")
    base = ReferenceJob(folder, "f32", None)
    variants = [
        ReferenceJob(folder, "f16", None),
        ReferenceJob(folder, "f32", "qwen2"),
        ReferenceJob(folder, "f32", None, ("--no-mtp",)),
    ]
    keys = {job_key(base, "src"), *(job_key(job, "src") for job in variants), job_key(base, "other-src")}
    assert len(keys) == len(variants) + 2


def test_a_changed_file_changes_the_key(tmp_path: Path) -> None:
    folder = _checkpoint(tmp_path / "tiny-llama")
    before = job_key(ReferenceJob(folder, "f32", None), "src")
    (folder / "model.safetensors").write_bytes(b"\1" * 64)
    assert job_key(ReferenceJob(folder, "f32", None), "src") != before
