"""Import reads every header before it copies anything (#16 item 6): a file named .gguf that is not a model is
refused with its reason and left where it is; the models folder never receives it."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.errors import LibraryError
from app.library.manage import ImportMode, import_files, list_in_library
from app.library.scan import scan_library
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf


def _model(path: Path, name: str = "Mine") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_tiny_gguf(path, TinySpec(name=name))


@pytest.mark.parametrize("mode", list(ImportMode))
def test_a_text_file_named_gguf_is_refused_and_nothing_is_placed(tmp_path: Path, mode: ImportMode) -> None:
    notes = tmp_path / "notes.gguf"
    notes.write_text("this is my shopping list\n")
    models = tmp_path / "models"
    with pytest.raises(LibraryError) as caught:
        import_files([notes], models, mode)
    expected = 'Nothing imported: notes.gguf is not a GGUF file: it starts with "this", not GGUF'
    assert str(caught.value).startswith(expected)
    assert notes.read_text() == "this is my shopping list\n"
    assert not models.exists() or not any(models.rglob("*"))


def test_a_truncated_model_is_refused_beside_a_good_one(tmp_path: Path) -> None:
    good = _model(tmp_path / "drop" / "Good-F32.gguf", "Good")
    cut = _model(tmp_path / "drop" / "Cut-F32.gguf", "Cut")
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    models = tmp_path / "models"
    result = import_files([tmp_path / "drop"], models, ImportMode.COPY)
    assert [p.name for p in result.placed] == ["Good-F32.gguf"]
    assert [r.path for r in result.refused] == [cut]
    assert "extends past the end" in result.refused[0].reason
    assert "Imported 1 file(s)" in result.describe() and "refused Cut-F32.gguf: tensor" in result.describe()
    assert [e.name for e in scan_library([models])] == ["Good"]
    assert good.exists() and cut.exists()


def test_list_in_library_links_only_the_files_outside_its_folders(tmp_path: Path) -> None:
    models = tmp_path / "models"
    inside = _model(models / "pub" / "Repo" / "In-Q8_0.gguf", "Inside")
    outside = _model(tmp_path / "work" / "Out-Q8_0.gguf", "Outside")
    _model(tmp_path / "work" / "Neighbour-F32.gguf", "Neighbour")
    linked = list_in_library([inside, outside], models, [])
    assert linked == [models / "imported" / "Out-Q8_0" / "Out-Q8_0.gguf"] and linked[0].is_symlink()
    assert sorted(e.name for e in scan_library([models])) == ["Inside", "Outside"]
    assert list_in_library([outside], models, []) == []  # already listed: nothing more
