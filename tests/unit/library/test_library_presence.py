"""What Discover asks of the library (app.library.presence): which repository folders hold a model, and whether
there is any model at all, from a real scan of real folders."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from app.core.settings import Settings
from app.library.presence import NOTHING_KNOWN, library_folders, scan_presence
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf


def _model(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_tiny_gguf(path, TinySpec())


def test_repository_folders_with_a_model_are_held(tmp_path: Path) -> None:
    models = tmp_path / "models"
    _model(models / "org" / "Tiny-GGUF" / "Tiny-F32.gguf")
    _model(models / "org" / "Split-GGUF" / "Q8_0" / "x-00001-of-00001.gguf")  # a quant in a subfolder
    (models / "org" / "Empty-GGUF").mkdir(parents=True)
    (models / "org" / "Partial-GGUF").mkdir(parents=True)
    (models / "org" / "Partial-GGUF" / "model.gguf.part").write_bytes(b"GGUF")  # still downloading
    presence = scan_presence([models], models)
    assert presence.any_model
    assert presence.holds(PurePosixPath("org/Tiny-GGUF")) and presence.holds(PurePosixPath("org/Split-GGUF"))
    assert presence.holds(PurePosixPath("org"))
    assert not presence.holds(PurePosixPath("org/Empty-GGUF"))
    assert not presence.holds(PurePosixPath("org/Partial-GGUF"))
    assert not presence.holds(PurePosixPath("org/Tiny"))  # a prefix of a name is not the folder


def test_models_only_in_another_library_folder_count_as_a_model_but_no_repository(tmp_path: Path) -> None:
    models, other = tmp_path / "models", tmp_path / "elsewhere"
    models.mkdir()
    _model(other / "org" / "Tiny-GGUF" / "Tiny-F32.gguf")
    presence = scan_presence([models, other], models)
    assert presence.any_model and not presence.holds(PurePosixPath("org/Tiny-GGUF"))
    assert scan_presence([models], models) == NOTHING_KNOWN  # an empty library: a first start


def test_a_models_folder_reached_through_a_link_is_matched(tmp_path: Path) -> None:
    real = tmp_path / "disk" / "models"
    _model(real / "org" / "Tiny-GGUF" / "Tiny-F32.gguf")
    link = tmp_path / "models-link"
    link.symlink_to(real, target_is_directory=True)
    assert scan_presence([link], link).holds(PurePosixPath("org/Tiny-GGUF"))


def test_a_finished_download_is_held_before_the_next_scan() -> None:
    presence = NOTHING_KNOWN.with_folder(PurePosixPath("org/Tiny-GGUF"))
    assert presence.any_model and presence.holds(PurePosixPath("org/Tiny-GGUF"))
    assert presence.holds(PurePosixPath("org"))
    target = Path("/models/org/Tiny-GGUF/Tiny-F32.gguf")
    assert not presence.has_files([target])
    assert NOTHING_KNOWN.with_folder(PurePosixPath("org/Tiny-GGUF"), [target]).has_files([target])


def test_the_files_of_listed_models_are_named_under_each_folder_as_given(tmp_path: Path) -> None:
    """Discover's quant rows look their target paths up here (no disk access on the GUI thread): the scan lists
    resolved paths, the rows ask with the folders as the settings name them (here through a link)."""
    real = tmp_path / "disk" / "models"
    tiny = _model(real / "org" / "Tiny-GGUF" / "Tiny-F32.gguf")
    parts = [_model(real / "org" / "Split-GGUF" / f"x-{n:05d}-of-00002.gguf") for n in (1, 2)]
    _model(real / "org" / "Half-GGUF" / "y-00001-of-00002.gguf")  # its second part is missing
    (real / "org" / "Tiny-GGUF" / "Other.gguf.part").write_bytes(b"GGUF")
    link = tmp_path / "models-link"
    link.symlink_to(real, target_is_directory=True)
    presence = scan_presence([link], link)
    given = [link / p.relative_to(real) for p in (tiny, *parts)]
    assert presence.has_files(given[:1]) and presence.has_files(given[1:])
    assert not presence.has_files([link / "org" / "Tiny-GGUF" / "Other.gguf"])  # still downloading
    half = link / "org" / "Half-GGUF"
    assert not presence.has_files([half / "y-00001-of-00002.gguf", half / "y-00002-of-00002.gguf"])
    assert not presence.has_files([])  # nothing asked is not "on disk"
    assert not presence.has_files([tiny])  # only as the settings name the folder


def test_the_library_folders_come_from_the_settings(tmp_path: Path) -> None:
    settings = Settings()
    settings.update(models_dir=str(tmp_path / "m"), library_folders=("~/more",))
    assert library_folders(settings) == [tmp_path / "m", Path("~/more").expanduser()]
