"""The Library keeps a vision model and its projector together (#19 item 2): an import (copy, move or link) and
the Quantize page's listing of new quants take the projector along, so Chat pairs them where the model lands."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.chat.projector import projector_for
from app.library.manage import ImportMode, import_files, list_in_library
from app.library.scan import scan_library
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf
from tests.support.tiny_vision import write_projector_header


def _vision_model(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    model = write_tiny_gguf(folder / "Eyes-Q8_0.gguf", TinySpec(name="Eyes"))
    write_projector_header(folder / "mmproj-Other-F16.gguf", 128)  # another model's: stays behind
    return model, write_projector_header(folder / "mmproj-Eyes-F16.gguf", 64)


@pytest.mark.parametrize("mode", list(ImportMode))
def test_an_imported_model_brings_its_projector(tmp_path: Path, mode: ImportMode) -> None:
    model, projector = _vision_model(tmp_path / "drop")
    models = tmp_path / "models"
    placed = import_files([model], models, mode).placed
    assert [p.name for p in placed] == [model.name]
    assert sorted(p.name for p in placed[0].parent.iterdir()) == [model.name, projector.name]
    assert projector_for(placed[0]) == str(placed[0].parent / projector.name)
    assert projector.is_file()  # a move copies the projector: another model beside it may use it
    assert [e.path.name for e in scan_library([models])] == [model.name]  # the projector is no model


def test_quants_listed_from_outside_the_library_keep_their_projector(tmp_path: Path) -> None:
    model, projector = _vision_model(tmp_path / "quants")
    models = tmp_path / "models"
    linked = list_in_library([model], models, [])
    assert len(linked) == 1 and (linked[0].parent / projector.name).is_symlink()
    assert projector_for(linked[0]) == str(linked[0].parent / projector.name)
