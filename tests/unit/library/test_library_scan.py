from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from app.library.entries import ModelSummary
from app.library.index import HeaderIndex
from app.library.manage import ImportMode, delete_entry, import_files
from app.library.scan import scan_library
from app.library.summary import summarize_file
from app.quantize.quality_file import QualityRecord, load_quality, sidecar_path
from tests.support.quality import save_score
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf


@pytest.fixture
def index(tmp_path: Path) -> HeaderIndex:
    return HeaderIndex(tmp_path / "cache" / "library.sqlite")


def _model(path: Path, **spec: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_tiny_gguf(path, TinySpec(**spec))  # type: ignore[arg-type]


class CountingSummarizer:
    def __init__(self) -> None:
        self.calls: list[Path] = []

    def __call__(self, path: Path) -> ModelSummary:
        self.calls.append(path)
        return summarize_file(path)


def test_models_are_found_and_described(tmp_path: Path, index: HeaderIndex) -> None:
    models = tmp_path / "models"
    path = _model(models / "org" / "Tiny-GGUF" / "Tiny-F32.gguf", name="Tiny One", context_length=2048)
    (models / "org" / "Tiny-GGUF" / "Other-Q4_K_M.gguf.part").write_bytes(b"GGUF partial")
    (models / "org" / "Tiny-GGUF" / "mmproj-Tiny-F16.gguf").write_bytes(b"not listed")
    (models / "org" / "Tiny-GGUF" / "README.md").write_text("hi")
    entries = scan_library([models], index)
    assert [e.path for e in entries] == [path]
    entry = entries[0]
    assert entry.usable and entry.summary is not None
    assert entry.summary.name == "Tiny One"
    assert entry.summary.architecture == "llama"
    assert entry.summary.quant == "F32"
    assert entry.summary.context_length == 2048
    assert entry.summary.parameters and entry.summary.parameters > 10_000
    assert entry.size == path.stat().st_size
    assert entry.root == models.resolve()


def test_split_set_is_one_entry(tmp_path: Path, index: HeaderIndex) -> None:
    first = _model(tmp_path / "m" / "Split-F32.gguf", split=3, name="Split")
    entries = scan_library([tmp_path / "m"], index)
    assert len(entries) == 1
    assert entries[0].path == first
    assert len(entries[0].files) == 3
    assert entries[0].size == sum(f.stat().st_size for f in entries[0].files)
    assert entries[0].summary is not None and entries[0].summary.name == "Split"


def test_incomplete_split_set_shows_an_error_unless_a_part_is_arriving(tmp_path: Path, index: HeaderIndex) -> None:
    first = _model(tmp_path / "m" / "Split-F32.gguf", split=3)
    third = sorted(first.parent.glob("*.gguf"))[2]
    third.rename(third.with_name(third.name + ".part"))  # the download of part 3 is under way
    assert scan_library([tmp_path / "m"], index) == []
    third.with_name(third.name + ".part").unlink()
    entries = scan_library([tmp_path / "m"], index)
    assert len(entries) == 1
    assert entries[0].error == "split model is incomplete: 2 of 3 parts present"
    assert not entries[0].usable


def test_unreadable_file_shows_its_error_and_the_rest_still_lists(tmp_path: Path, index: HeaderIndex) -> None:
    good = _model(tmp_path / "m" / "a" / "Good-F32.gguf")
    bad = tmp_path / "m" / "b" / "Broken-Q4_K_M.gguf"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 40)
    entries = scan_library([tmp_path / "m"], index)
    by_path = {e.path: e for e in entries}
    assert by_path[good].usable
    assert by_path[bad].summary is None and by_path[bad].error
    assert by_path[bad].name == "Broken-Q4_K_M.gguf"


def test_warm_scan_reads_no_header(tmp_path: Path, index: HeaderIndex) -> None:
    for i in range(3):
        _model(tmp_path / "m" / f"M{i}-F32.gguf", seed=i)
    counting = CountingSummarizer()
    cold = scan_library([tmp_path / "m"], index, counting)
    assert len(counting.calls) == 3
    counting.calls.clear()
    warm = scan_library([tmp_path / "m"], index, counting)
    assert counting.calls == []
    assert warm == cold
    # A changed file (new mtime) is read again; a deleted one disappears.
    changed = tmp_path / "m" / "M1-F32.gguf"
    os.utime(changed, ns=(1, 1))
    (tmp_path / "m" / "M2-F32.gguf").unlink()
    after = scan_library([tmp_path / "m"], index, counting)
    assert counting.calls == [changed]
    assert [e.path.name for e in after] == ["M0-F32.gguf", "M1-F32.gguf"]


def test_errors_are_cached_too(tmp_path: Path, index: HeaderIndex) -> None:
    bad = tmp_path / "m" / "bad.gguf"
    bad.parent.mkdir()
    bad.write_bytes(b"nope")
    counting = CountingSummarizer()
    first = scan_library([tmp_path / "m"], index, counting)
    second = scan_library([tmp_path / "m"], index, counting)
    assert len(counting.calls) == 1
    assert first == second and first[0].error


def test_damaged_index_is_rebuilt(tmp_path: Path, index: HeaderIndex) -> None:
    _model(tmp_path / "m" / "M-F32.gguf")
    index.path.parent.mkdir(parents=True)
    index.path.write_bytes(b"this is not sqlite" * 100)
    entries = scan_library([tmp_path / "m"], index)
    assert len(entries) == 1 and entries[0].usable


def test_nested_and_repeated_folders_list_each_model_once(tmp_path: Path, index: HeaderIndex) -> None:
    _model(tmp_path / "m" / "sub" / "M-F32.gguf")
    entries = scan_library([tmp_path / "m", tmp_path / "m" / "sub", tmp_path / "m", tmp_path / "gone"], index)
    assert len(entries) == 1


def test_broken_link_shows_an_error(tmp_path: Path, index: HeaderIndex) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "Linked-F32.gguf").symlink_to(tmp_path / "nowhere.gguf")
    entries = scan_library([tmp_path / "m"], index)
    assert len(entries) == 1
    assert entries[0].error == "the link points to a file that no longer exists"


def test_delete_removes_every_file_and_empty_folders(tmp_path: Path, index: HeaderIndex) -> None:
    models = tmp_path / "m"
    _model(models / "org" / "Repo" / "Split-F32.gguf", split=2)
    keep = _model(models / "org" / "Other" / "Keep-F32.gguf")
    entry = next(e for e in scan_library([models], index) if "Split" in e.path.name)
    delete_entry(entry)
    assert not (models / "org" / "Repo").exists()
    assert keep.exists() and models.is_dir()
    assert [e.path for e in scan_library([models], index)] == [keep]


@pytest.mark.parametrize("mode", list(ImportMode))
def test_import_files(tmp_path: Path, index: HeaderIndex, mode: ImportMode) -> None:
    source = _model(tmp_path / "downloads" / "Mine-F32.gguf", name="Mine")
    models = tmp_path / "models"
    placed = list(import_files([source], models, mode).placed)
    assert placed == [models / "imported" / "Mine-F32" / "Mine-F32.gguf"]
    assert source.exists() == (mode != ImportMode.MOVE)
    assert placed[0].is_symlink() == (mode == ImportMode.LINK)
    assert not list(models.rglob("*.part"))
    entries = scan_library([models], index)
    assert [e.name for e in entries] == ["Mine"]
    # Importing again never replaces what is there.
    if mode != ImportMode.MOVE:
        again = import_files([source], models, mode)
        assert again.placed == () and again.existing == 1


def test_import_folder_keeps_its_layout_and_split_sets(tmp_path: Path, index: HeaderIndex) -> None:
    src = tmp_path / "stash"
    _model(src / "a" / "Split-F32.gguf", split=2)
    _model(src / "One-F32.gguf")
    (src / "notes.txt").parent.mkdir(exist_ok=True)
    (src / "notes.txt").write_text("x")
    placed = import_files([src], tmp_path / "models", ImportMode.COPY).placed
    assert len(placed) == 3
    assert all(p.is_relative_to(tmp_path / "models" / "imported" / "stash") for p in placed)
    assert len(scan_library([tmp_path / "models"], index)) == 2


def test_import_without_models_is_an_error(tmp_path: Path) -> None:
    from app.core.errors import LibraryError

    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(LibraryError, match="No GGUF model files"):
        import_files([tmp_path / "x.txt"], tmp_path / "models", ImportMode.COPY)


# The quality score beside a quant ----------------------------------------------------------------------------


def _score(model: Path, kld: float = 0.0082, agree: float = 0.97) -> QualityRecord:
    # the source is not a model file: only named in the record
    return save_score(model, model.with_name("Source-F32.gguf.src"), kld=kld, agree=agree)


def test_scan_shows_the_quality_beside_the_file_and_never_lists_the_sidecar(tmp_path: Path, index: HeaderIndex) -> None:
    scored = _model(tmp_path / "m" / "Scored-Q8_0.gguf", tensor_type="Q8_0")
    plain = _model(tmp_path / "m" / "Plain-F32.gguf", seed=2)
    record = _score(scored)
    entries = {e.path: e for e in scan_library([tmp_path / "m"], index)}
    assert set(entries) == {scored, plain}
    assert entries[scored].quality == record and entries[scored].usable
    assert entries[plain].quality is None
    # The score is cached with the header: a fresh index object on the same file still has it.
    again = {e.path: e for e in scan_library([tmp_path / "m"], HeaderIndex(index.path))}
    assert again[scored].quality == record


def test_a_sidecar_written_changed_or_removed_later_is_picked_up_without_reading_headers(
    tmp_path: Path, index: HeaderIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.library import scan as scan_module

    model = _model(tmp_path / "m" / "Late-Q8_0.gguf", tensor_type="Q8_0")
    counting = CountingSummarizer()
    assert scan_library([tmp_path / "m"], index, counting)[0].quality is None
    sidecar_reads: list[Path] = []

    def counting_load(path: Path, size: int | None = None) -> QualityRecord | None:
        sidecar_reads.append(path)
        return load_quality(path, size)

    monkeypatch.setattr(scan_module, "load_quality", counting_load)
    counting.calls.clear()
    first = _score(model)  # the quality check finishes after the quant appeared
    assert scan_library([tmp_path / "m"], index, counting)[0].quality == first
    assert counting.calls == [] and sidecar_reads == [model]
    # A warm scan reads neither the header nor the sidecar.
    sidecar_reads.clear()
    assert scan_library([tmp_path / "m"], index, counting)[0].quality == first
    assert counting.calls == [] and sidecar_reads == []
    # A re-run of the check replaces the sidecar.
    second = _score(model, kld=0.02, agree=0.9)
    assert scan_library([tmp_path / "m"], index, counting)[0].quality == second
    assert counting.calls == [] and sidecar_reads == [model]
    sidecar_path(model).unlink()
    assert scan_library([tmp_path / "m"], index, counting)[0].quality is None
    assert counting.calls == []


def test_a_bad_or_stale_sidecar_is_ignored_and_the_model_still_lists(
    tmp_path: Path, index: HeaderIndex, caplog: pytest.LogCaptureFixture
) -> None:
    model = _model(tmp_path / "m" / "Bad-Q8_0.gguf", tensor_type="Q8_0")
    sidecar_path(model).write_text('{"format": "gguf-studio.quality", "mean_kld": NaN}')
    with caplog.at_level(logging.WARNING, logger="app.quantize"):
        entries = scan_library([tmp_path / "m"], index)
    assert len(entries) == 1 and entries[0].usable and entries[0].quality is None
    assert "ignoring the quality score" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="app.quantize"):
        scan_library([tmp_path / "m"], index)
    assert caplog.text == ""  # judged once, not on every warm scan
    # A score made for another file of this name (the quant was replaced since) is not shown.
    _score(model)
    with open(model, "ab") as handle:
        handle.write(b"\0" * 32)
    assert scan_library([tmp_path / "m"], index)[0].quality is None


def test_delete_removes_the_quality_sidecar(tmp_path: Path, index: HeaderIndex) -> None:
    model = _model(tmp_path / "m" / "org" / "Repo" / "Gone-Q8_0.gguf", tensor_type="Q8_0")
    _score(model)
    model.with_name("Source-F32.gguf.src").unlink()
    entry = scan_library([tmp_path / "m"], index)[0]
    assert entry.quality is not None
    delete_entry(entry)
    assert not sidecar_path(model).exists()
    assert not (tmp_path / "m" / "org").exists()  # nothing left behind keeps the folder alive


@pytest.mark.parametrize("mode", list(ImportMode))
def test_import_brings_the_sidecar_along(tmp_path: Path, index: HeaderIndex, mode: ImportMode) -> None:
    source = _model(tmp_path / "downloads" / "Mine-Q8_0.gguf", name="Mine", tensor_type="Q8_0")
    record = _score(source)
    models = tmp_path / "models"
    placed = import_files([source], models, mode).placed
    assert sidecar_path(placed[0]).is_file()
    assert sidecar_path(source).exists() == (mode != ImportMode.MOVE)
    assert sidecar_path(placed[0]).is_symlink() == (mode == ImportMode.LINK)
    assert scan_library([models], index)[0].quality == record


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX only")
@pytest.mark.timeout(30)
def test_a_pipe_named_like_a_sidecar_does_not_hang_the_scan(tmp_path: Path, index: HeaderIndex) -> None:
    model = _model(tmp_path / "m" / "Piped-Q8_0.gguf", tensor_type="Q8_0")
    os.mkfifo(sidecar_path(model))
    entries = scan_library([tmp_path / "m"], index)
    assert [e.path for e in entries] == [model] and entries[0].quality is None
