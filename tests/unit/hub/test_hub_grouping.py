"""Grouping a repository's file list into quants (pure; the fake Hub tests cover the same through the wire)."""

from __future__ import annotations

from app.hub.grouping import group_files
from app.hub.models import QuantKind, RepoFile


def f(path: str, size: int = 100) -> RepoFile:
    return RepoFile(path=path, size=size, sha256="0" * 64)


def test_split_sets_in_folders_and_incomplete_sets() -> None:
    files = [
        f("Q8_0/M-Q8_0-00002-of-00002.gguf", 50),
        f("Q8_0/M-Q8_0-00001-of-00002.gguf", 60),
        f("M-Q4_K_M.gguf", 70),
        f("M-Q6_K-00001-of-00003.gguf", 10),  # parts 2 and 3 missing: not a loadable quant
        f("mmproj-M-f16.gguf", 30),
        f("imatrix.dat", 5),
        f("M.imatrix.gguf", 5),
        f("README.md", 1),
    ]
    quants, mmproj, imatrix, other = group_files(files)
    assert [(q.label, q.size, q.paths) for q in quants] == [
        ("Q4_K_M", 70, ("M-Q4_K_M.gguf",)),
        ("Q8_0", 110, ("Q8_0/M-Q8_0-00001-of-00002.gguf", "Q8_0/M-Q8_0-00002-of-00002.gguf")),
    ]
    assert [(q.label, q.kind) for q in mmproj] == [("F16", QuantKind.MMPROJ)]
    assert {x.path for x in imatrix} == {"imatrix.dat", "M.imatrix.gguf"}
    assert {x.path for x in other} == {"M-Q6_K-00001-of-00003.gguf", "README.md"}


def test_unlabelled_file_keeps_its_name() -> None:
    quants, *_ = group_files([f("my-model.gguf")])
    assert [q.label for q in quants] == ["my-model"]


def test_projectors_sorted_by_size_and_only_gguf_ones() -> None:
    files = [f("mmproj-M-f16.gguf", 30), f("mmproj-M-q8_0.gguf", 20), f("mmproj-notes.txt", 1), f("M-Q8_0.gguf", 9)]
    quants, mmproj, imatrix, other = group_files(files)
    assert [(q.label, q.size) for q in mmproj] == [("Q8_0", 20), ("F16", 30)]
    assert [q.label for q in quants] == ["Q8_0"] and imatrix == ()
    assert [x.path for x in other] == ["mmproj-notes.txt"]
