"""Split models read as one model from any part; incomplete or inconsistent sets are refused."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from app.core.errors import GGUFError
from app.gguf import merge_parts, model_facts, read_header, read_model
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf

SPEC = TinySpec(n_layer=3, split=3)


@pytest.fixture
def split_first(tmp_path: Path) -> Path:
    return write_tiny_gguf(tmp_path / "tiny.gguf", SPEC)


def test_split_set_reads_as_one_model(split_first: Path, tmp_path: Path) -> None:
    assert split_first.name == "tiny-00001-of-00003.gguf"
    whole = write_tiny_gguf(tmp_path / "whole.gguf", SPEC.with_(split=1))
    single = read_model(whole)
    for part in ("tiny-00001-of-00003.gguf", "tiny-00002-of-00003.gguf", "tiny-00003-of-00003.gguf"):
        model = read_model(tmp_path / part)
        assert len(model.parts) == 3
        assert [t.name for t in model.tensors] == [t.name for t in single.tensors]
        assert [t.shape for t in model.tensors] == [t.shape for t in single.tensors]
        assert {t.part for t in model.tensors} == {0, 1, 2}
        assert model.metadata["general.architecture"] == "llama"
        assert model.file_size == sum((tmp_path / p).stat().st_size for p in model.paths)
    facts = model_facts(read_model(split_first))
    assert facts.n_split == 3
    assert facts.n_params == model_facts(single).n_params


def test_each_tensor_offset_is_within_its_part(split_first: Path) -> None:
    model = read_model(split_first)
    for tensor in model.tensors:
        header = model.parts[tensor.part]
        assert header.data_offset <= tensor.offset
        assert tensor.offset + tensor.n_bytes <= header.file_size


def test_missing_part_is_named(split_first: Path) -> None:
    (split_first.parent / "tiny-00002-of-00003.gguf").unlink()
    with pytest.raises(GGUFError, match=r"missing tiny-00002-of-00003\.gguf"):
        read_model(split_first)


def test_renamed_part_without_suffix_is_refused(split_first: Path) -> None:
    renamed = split_first.with_name("renamed.gguf")
    split_first.rename(renamed)
    with pytest.raises(GGUFError, match="does not say which part"):
        read_model(renamed)


def test_inconsistent_parts(split_first: Path, tmp_path: Path) -> None:
    parts = [read_header(split_first.with_name(f"tiny-0000{i}-of-00003.gguf")) for i in (1, 2, 3)]
    with pytest.raises(GGUFError, match=r"split\.no is 2, expected 1"):
        merge_parts([parts[0], parts[2], parts[1]])
    with pytest.raises(GGUFError, match="3 parts, 2 given"):
        merge_parts(parts[:2])
    dup = dataclasses.replace(parts[2], tensors=parts[2].tensors + parts[1].tensors[:1])
    with pytest.raises(GGUFError, match="more than one part"):
        merge_parts([parts[0], parts[1], dup])
    short = dataclasses.replace(parts[2], tensors=parts[2].tensors[:-1])
    with pytest.raises(GGUFError, match="declares 30 tensors but its 3 parts hold 29"):
        merge_parts([parts[0], parts[1], short])


def test_single_file_model(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "one.gguf")
    model = read_model(path)
    assert len(model.parts) == 1
    assert model.tensors == read_header(path).tensors
