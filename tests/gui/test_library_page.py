"""The Library page: listing, errors in rows, actions, import, delete and files appearing without a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox

from app.core.settings import Settings
from app.library.manage import ImportMode
from app.quantize.quality_file import sidecar_path
from app.ui.context import AppContext
from app.ui.models.library_table import (
    COL_ARCH,
    COL_CONTEXT,
    COL_FILE,
    COL_NAME,
    COL_PARAMS,
    COL_QUALITY,
    COL_QUANT,
    COL_SIZE,
    ENTRY_ROLE,
)
from app.ui.pages import library as library_page
from app.ui.pages.library import LibraryPage
from tests.support.quality import save_score
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf


class Navigation:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, name: str, **kwargs: Any) -> None:
        self.calls.append((name, kwargs))


@pytest.fixture
def models(tmp_path: Path) -> Path:
    path = tmp_path / "models"
    path.mkdir()
    return path


@pytest.fixture
def nav() -> Navigation:
    return Navigation()


@pytest.fixture
def ctx(models: Path, nav: Navigation, tmp_path: Path) -> Iterator[AppContext]:
    settings = Settings()
    extra = tmp_path / "extra"
    extra.mkdir()
    settings.update(models_dir=str(models), library_folders=(str(extra),))
    context = AppContext.create(settings, navigate=nav)
    yield context
    context.shutdown()


def _model(path: Path, **spec: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_tiny_gguf(path, TinySpec(**spec))


@pytest.fixture
def page(qtbot: Any, ctx: AppContext, models: Path, tmp_path: Path) -> Iterator[LibraryPage]:
    _model(models / "org" / "Tiny-GGUF" / "Tiny-F32.gguf", name="Tiny One", context_length=4096)
    _model(models / "org" / "Split-GGUF" / "Split-Q8_0.gguf", split=2, name="Split Two", tensor_type="Q8_0")
    _model(tmp_path / "extra" / "Extra-F16.gguf", name="Extra Three", tensor_type="F16")
    broken = models / "bad" / "Broken-Q4_K_M.gguf"
    broken.parent.mkdir()
    broken.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 64)
    widget = LibraryPage(ctx)
    qtbot.addWidget(widget)
    widget.resize(1200, 400)
    widget.show()
    qtbot.waitUntil(lambda: widget.model.rowCount() == 4, timeout=10_000)
    yield widget
    widget.shutdown()


def _row(page: LibraryPage, name: str) -> int:
    for row in range(page.proxy.rowCount()):
        if page.proxy.index(row, COL_NAME).data() == name:
            return row
    raise AssertionError(f"{name} not listed")


def _cells(page: LibraryPage, name: str) -> dict[int, str]:
    row = _row(page, name)
    return {c: page.proxy.index(row, c).data() for c in range(page.proxy.columnCount())}


def test_lists_models_with_their_facts_and_errors(page: LibraryPage, qtmodeltester: Any, tmp_path: Path) -> None:
    qtmodeltester.check(page.model)
    tiny = _cells(page, "Tiny One")
    assert (tiny[COL_ARCH], tiny[COL_QUANT], tiny[COL_CONTEXT]) == ("llama", "F32", "4,096")
    assert tiny[COL_PARAMS] not in ("", "?")
    split = _cells(page, "Split Two")
    assert split[COL_QUANT] == "Q8_0"
    assert _cells(page, "Extra Three")[COL_QUANT] == "F16"
    broken = _cells(page, "Broken-Q4_K_M.gguf")
    assert broken[COL_ARCH].startswith("Unreadable:")
    assert page.subtitle.text().startswith("4 model(s)") and "1 unreadable" in page.subtitle.text()
    page.grab().save(str(tmp_path / "library.png"))


def test_sorting_by_size_uses_bytes(page: LibraryPage) -> None:
    page.table.sortByColumn(COL_SIZE, library_page.Qt.SortOrder.DescendingOrder)
    sizes = [page.proxy.index(r, 0).data(ENTRY_ROLE).size for r in range(page.proxy.rowCount())]
    assert sizes == sorted(sizes, reverse=True)


def test_filter(page: LibraryPage) -> None:
    page.search.setText("q8_0")
    assert page.proxy.rowCount() == 1
    page.search.clear()
    assert page.proxy.rowCount() == 4


def test_chat_quantize_and_reveal(page: LibraryPage, nav: Navigation, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[Path] = []

    def record(path: Path) -> bool:
        opened.append(path)
        return True

    monkeypatch.setattr(library_page, "open_folder", record)
    page.table.selectRow(_row(page, "Split Two"))
    entry = page.selected_entry()
    assert entry is not None and len(entry.files) == 2
    page.chat_action.trigger()
    page.quantize_action.trigger()
    page.reveal_action.trigger()
    assert nav.calls == [("chat", {"model": str(entry.path)}), ("quantize", {"model": str(entry.path)})]
    assert opened == [entry.folder]
    page.table.selectRow(_row(page, "Broken-Q4_K_M.gguf"))
    assert not page.chat_action.isEnabled() and not page.quantize_action.isEnabled()
    assert page.delete_action.isEnabled()
    broken = page.selected_entry()
    assert broken is not None and broken.error
    assert page.details.isVisible() and broken.error in page.details.text("Problem")
    assert not page.details.chat_button.isEnabled()


def test_delete_asks_first(qtbot: Any, page: LibraryPage, monkeypatch: pytest.MonkeyPatch) -> None:
    page.table.selectRow(_row(page, "Split Two"))
    entry = page.selected_entry()
    assert entry is not None
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Cancel)
    page.delete_action.trigger()
    assert all(f.exists() for f in entry.files)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(page.scanned, timeout=10_000):
        page.delete_action.trigger()
    assert not any(f.exists() for f in entry.files)
    assert page.model.rowCount() == 3


def test_new_files_appear_without_restart(qtbot: Any, page: LibraryPage, models: Path) -> None:
    # A download lands the LM Studio way: new publisher and repo folders, a .part, then the rename.
    folder = models / "newpub" / "New-GGUF"
    folder.mkdir(parents=True)
    qtbot.waitUntil(lambda: str(folder) in page.watcher.directories(), timeout=10_000)
    source = _model(models.parent / "staging" / "New-F32.gguf", name="Brand New")
    part = folder / "New-F32.gguf.part"
    part.write_bytes(source.read_bytes())
    with qtbot.waitSignal(page.scanned, timeout=10_000):
        pass
    assert page.model.rowCount() == 4  # a .part is never listed
    with qtbot.waitSignal(page.scanned, timeout=10_000, check_params_cb=lambda e: len(e) == 5):
        part.rename(folder / "New-F32.gguf")
    assert _cells(page, "Brand New")[COL_QUANT] == "F32"


def test_import_files_and_from_hf_cache(qtbot: Any, page: LibraryPage, models: Path, tmp_path: Path) -> None:
    outside = _model(tmp_path / "elsewhere" / "Mine-F32.gguf", name="Mine")
    with qtbot.waitSignal(page.scanned, timeout=10_000, check_params_cb=lambda e: len(e) == 5):
        page.import_paths([outside], ImportMode.LINK)
    assert (models / "imported" / "Mine-F32" / "Mine-F32.gguf").is_symlink()

    from app.library.hfcache import CachedModelFile

    cached = CachedModelFile("hfuser/Cached-GGUF", "Cached-F32.gguf", outside, outside.stat().st_size, "abc")
    with qtbot.waitSignal(page.scanned, timeout=10_000, check_params_cb=lambda e: len(e) == 6):
        page.import_hf([cached], ImportMode.COPY)
    assert (models / "hfuser" / "Cached-GGUF" / "Cached-F32.gguf").is_file()


def test_hf_cache_dialog_lists_and_picks(qtbot: Any, tmp_path: Path) -> None:
    from app.library.hfcache import CachedModelFile
    from app.ui.pages.library import HfCacheDialog

    files = [
        CachedModelFile("a/A-GGUF", "A-Q4_K_M.gguf", tmp_path / "a", 10, "c1"),
        CachedModelFile("b/B-GGUF", "B-Q8_0.gguf", tmp_path / "b", 20, "c2"),
    ]
    dialog = HfCacheDialog(files)
    qtbot.addWidget(dialog)
    dialog.list.item(0).setCheckState(library_page.Qt.CheckState.Unchecked)
    dialog.mode.setCurrentIndex(1)
    assert dialog.chosen() == [files[1]]
    assert dialog.chosen_mode() == ImportMode.COPY


def test_settings_change_rescans(qtbot: Any, page: LibraryPage, ctx: AppContext, tmp_path: Path) -> None:
    other = tmp_path / "other"
    _model(other / "Other-F32.gguf", name="Other")
    with qtbot.waitSignal(page.scanned, timeout=10_000, check_params_cb=lambda e: len(e) == 5):
        ctx.settings.update(library_folders=(str(tmp_path / "extra"), str(other)))
    assert _cells(page, "Other")[COL_ARCH] == "llama"


def test_empty_library_says_how_to_fill_it(qtbot: Any, tmp_path: Path) -> None:
    settings = Settings()
    settings.update(models_dir=str(tmp_path / "nothing"))
    ctx = AppContext.create(settings)
    page = LibraryPage(ctx)
    qtbot.addWidget(page)
    with qtbot.waitSignal(page.scanned, timeout=10_000):
        page.show()
    assert page.empty.isVisible() and "Download one in Discover" in page.empty.text()
    page.shutdown()


def test_a_finished_download_appears(qtbot: Any, ctx: AppContext, models: Path, fake_hub: Any) -> None:
    """The Library is built before the download queue starts (as in the app) and still hears it finish."""
    from tests.fakehub import TINY_REPO

    page = LibraryPage(ctx)
    qtbot.addWidget(page)
    with qtbot.waitSignal(page.scanned, timeout=10_000):
        page.show()
    assert page.model.rowCount() == 0 and not ctx.downloads.started
    page._poll.stop()  # only the download service's signal may bring the new model in
    page.watcher.blockSignals(True)
    try:
        with qtbot.waitSignal(ctx.downloads.completed, timeout=30_000):
            ctx.downloads.enqueue(TINY_REPO, ["Tiny-Llama-F32.gguf"])
        with qtbot.waitSignal(page.scanned, timeout=30_000, check_params_cb=lambda e: len(e) == 1):
            pass
        entry = page.model.entry(0)
        assert entry.path == models / "tiny" / "Tiny-Llama-GGUF" / "Tiny-Llama-F32.gguf"
        assert entry.usable
    finally:
        page.shutdown()


def _save_score(model: Path, kld: float, agree: float) -> None:
    save_score(model, model.parent.parent / "source.bin", kld=kld, agree=agree, quant_type="F32")


def test_quality_column_shows_a_score_written_after_the_model_appeared(
    qtbot: Any, page: LibraryPage, models: Path, qtmodeltester: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny = models / "org" / "Tiny-GGUF" / "Tiny-F32.gguf"
    assert _cells(page, "Tiny One")[COL_QUALITY] == ""
    assert page.model.headerData(COL_QUALITY, library_page.Qt.Orientation.Horizontal) == "Quality"
    header_tip = page.model.headerData(
        COL_QUALITY, library_page.Qt.Orientation.Horizontal, library_page.Qt.ItemDataRole.ToolTipRole
    )
    assert "KL divergence" in header_tip
    # The quality check ends after the quant is in the folder: the watcher picks its sidecar up.
    with qtbot.waitSignal(
        page.scanned, timeout=10_000, check_params_cb=lambda e: any(x.quality is not None for x in e)
    ):
        _save_score(tiny, 0.0082, 0.97)
    qtmodeltester.check(page.model)
    assert _cells(page, "Tiny One")[COL_QUALITY] == "KLD 0.0082 · top-1 97%"
    assert _cells(page, "Split Two")[COL_QUALITY] == ""
    row = _row(page, "Tiny One")
    tooltip = page.proxy.index(row, COL_QUALITY).data(library_page.Qt.ItemDataRole.ToolTipRole)
    assert "KL divergence" in tooltip and "source.bin" in tooltip and "128 tokens" in tooltip
    # Scored models sort first, lowest divergence on top.
    page.table.sortByColumn(COL_QUALITY, library_page.Qt.SortOrder.AscendingOrder)
    assert page.proxy.index(0, COL_NAME).data() == "Tiny One"
    page.table.selectRow(0)
    assert page.details.isVisible() and "Mean KL divergence 0.0082" in page.details.text("Quality")
    page.grab().save("/tmp/library_quality.png")
    # Deleting the model takes its score with it.
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(page.scanned, timeout=10_000, check_params_cb=lambda e: len(e) == 3):
        page.delete_action.trigger()
    assert not tiny.exists() and not sidecar_path(tiny).exists()


def test_sidecar_names_are_shown_as_text_not_markup(qtbot: Any, ctx: AppContext, models: Path) -> None:
    model = _model(models / "pub" / "Repo" / "M-F32.gguf", name="Marked")
    _save_score(model, 0.5, 0.5)
    data = sidecar_path(model).read_text(encoding="utf-8").replace("source.bin", "<b>x</b><img src=q>")
    sidecar_path(model).write_text(data, encoding="utf-8")
    page = LibraryPage(ctx)
    qtbot.addWidget(page)
    with qtbot.waitSignal(page.scanned, timeout=10_000):
        page.show()
    try:
        tooltip = page.proxy.index(0, COL_QUALITY).data(library_page.Qt.ItemDataRole.ToolTipRole)
        assert "&lt;b&gt;x&lt;/b&gt;&lt;img src=q&gt;" in tooltip and "<img" not in tooltip
        page.table.selectRow(0)
        quality = page.details.values["Quality"]
        assert quality.textFormat() == library_page.Qt.TextFormat.PlainText
        assert "<b>x</b>" in quality.text()
    finally:
        page.shutdown()


# Drag and drop (#16 items 5 and 6) -----------------------------------------------------------------------------


def _drop(qtbot: Any, target: Any, paths: list[Path]) -> bool:
    """A drag over `target` and a drop on it, as the window system delivers them; whether the drag was taken."""
    from PySide6.QtCore import QMimeData, QPoint, QPointF, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    where = QPoint(target.width() // 2, target.height() // 2)
    buttons, modifiers = library_page.Qt.MouseButton.LeftButton, library_page.Qt.KeyboardModifier.NoModifier
    action = library_page.Qt.DropAction.CopyAction
    enter = QDragEnterEvent(where, action, mime, buttons, modifiers)
    QApplication.sendEvent(target, enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(QPointF(where), action, mime, buttons, modifiers)
    QApplication.sendEvent(target, drop)
    return drop.isAccepted()


@pytest.fixture
def messages() -> Iterator[list[tuple[str, str]]]:
    from app.ui.messages import message_bridge

    seen: list[tuple[str, str]] = []

    def record(level: str, text: str) -> None:
        seen.append((level, text))

    message_bridge().shown.connect(record)
    yield seen
    message_bridge().shown.disconnect(record)


def _answer_copy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    asked: list[str] = []

    def ask(_parent: object, what: str) -> ImportMode:
        asked.append(what)
        return ImportMode.COPY

    monkeypatch.setattr(library_page, "ask_import_mode", ask)
    return asked


def test_dropping_files_and_folders_imports_them(
    qtbot: Any, page: LibraryPage, models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = _answer_copy(monkeypatch)
    single = _model(tmp_path / "desk" / "Dropped-F32.gguf", name="Dropped File")
    _model(tmp_path / "stash" / "inner" / "Folder-F32.gguf", name="From A Folder")
    with qtbot.waitSignal(page.scanned, timeout=10_000, check_params_cb=lambda e: len(e) == 6):
        assert _drop(qtbot, page, [single, tmp_path / "stash"])
    assert asked == ["2 files"]
    assert (models / "imported" / "Dropped-F32" / "Dropped-F32.gguf").is_file()
    assert (models / "imported" / "stash" / "inner" / "Folder-F32.gguf").is_file()
    assert _cells(page, "From A Folder")[COL_QUANT] == "F32"


def test_a_drag_without_files_is_not_taken(qtbot: Any, page: LibraryPage) -> None:
    from PySide6.QtCore import QMimeData, QPoint
    from PySide6.QtGui import QDragEnterEvent
    from PySide6.QtWidgets import QApplication

    mime = QMimeData()
    mime.setText("just text")
    enter = QDragEnterEvent(
        QPoint(5, 5),
        library_page.Qt.DropAction.CopyAction,
        mime,
        library_page.Qt.MouseButton.LeftButton,
        library_page.Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(page, enter)
    assert not enter.isAccepted()


def test_a_text_file_named_gguf_is_refused_before_anything_is_copied(
    qtbot: Any,
    page: LibraryPage,
    models: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    messages: list[tuple[str, str]],
) -> None:
    _answer_copy(monkeypatch)
    notes = tmp_path / "desk" / "notes.gguf"
    notes.parent.mkdir()
    notes.write_text("this is not a model\n")
    before = sorted(models.rglob("*"))
    with qtbot.waitSignal(page.import_finished, timeout=10_000):
        assert _drop(qtbot, page, [notes])
    assert sorted(models.rglob("*")) == before
    assert not any("Imported" in text for _level, text in messages)
    errors = [text for level, text in messages if level == "error"]
    assert errors and "notes.gguf" in errors[-1] and "not a GGUF file" in errors[-1]
    assert page.model.rowCount() == 4


def test_a_drop_on_the_window_opens_the_library_and_imports(
    qtbot: Any, window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _answer_copy(monkeypatch)
    window.settings.update(models_dir=str(tmp_path / "win-models"))
    window.navigate("settings")
    window.show()
    dropped = _model(tmp_path / "desk" / "Win-F32.gguf", name="Dropped On The Window")
    assert _drop(qtbot, window, [dropped])
    qtbot.waitUntil(lambda: window.current_page_name() == "library", timeout=10_000)
    library = window.page("library")
    qtbot.waitUntil(lambda: library.model.rowCount() == 1, timeout=10_000)
    assert library.model.entry(0).name == "Dropped On The Window"
    picture = tmp_path / "desk" / "cat.png"
    picture.write_bytes(b"\x89PNG")
    assert not _drop(qtbot, window, [picture])  # not a model: left to whatever page wants it
    window.close()


# Rows that can be told apart, the details pane (#16 item 8) ----------------------------------------------------


def test_rows_of_one_model_show_their_file_and_quant(qtbot: Any, ctx: AppContext, models: Path) -> None:
    for quant in ("Q8_0", "F16", "F32"):
        _model(models / "google" / "gemma-GGUF" / f"gemma-3-270m-{quant}.gguf", name="Gemma 3 270m", tensor_type=quant)
    page = LibraryPage(ctx)
    qtbot.addWidget(page)
    with qtbot.waitSignal(page.scanned, timeout=10_000):
        page.show()
    try:
        rows = {(page.proxy.index(r, COL_FILE).data(), page.proxy.index(r, COL_QUANT).data()) for r in range(3)}
        assert rows == {(f"gemma-3-270m-{q}.gguf", q) for q in ("Q8_0", "F16", "F32")}
        assert {page.proxy.index(r, COL_NAME).data() for r in range(3)} == {"Gemma 3 270m"}
    finally:
        page.shutdown()


def test_details_pane_shows_the_model_and_loads_it_in_chat(
    qtbot: Any, page: LibraryPage, nav: Navigation, models: Path
) -> None:
    path = models / "org" / "Tiny-GGUF" / "Tiny-F32.gguf"
    assert page.details.placeholder.isVisible()
    with qtbot.waitSignal(page.details_shown, timeout=10_000):
        page.table.selectRow(_row(page, "Tiny One"))
    details = page.details
    assert details.text("File") == "Tiny-F32.gguf"
    assert details.path.toPlainText() == str(path)
    assert details.text("Architecture") == "llama" and details.text("Quant") == "F32"
    assert details.text("Trained context") == "4,096 tokens"
    assert details.text("Size").endswith(("KiB", "MiB")) and details.text("Quality").startswith("not measured")
    assert details.text("Chat template").startswith("none")
    assert "general.architecture = llama" in details.metadata.toPlainText()
    details.chat_button.click()
    assert nav.calls == [("chat", {"model": str(path)})]
    page.grab().save(str(models.parent / "library-details.png"))


def test_details_pane_says_when_a_template_is_there(qtbot: Any, ctx: AppContext, models: Path) -> None:
    _model(models / "pub" / "Chat-GGUF" / "Chat-F32.gguf", name="Chatty", chat_template="{{ messages }}")
    page = LibraryPage(ctx)
    qtbot.addWidget(page)
    with qtbot.waitSignal(page.scanned, timeout=10_000):
        page.show()
    try:
        with qtbot.waitSignal(page.details_shown, timeout=10_000):
            page.table.selectRow(0)
        assert page.details.text("Chat template") == "present (14 characters)"
    finally:
        page.shutdown()


def test_a_vision_model_shows_its_projector_and_the_projector_is_no_model(
    qtbot: Any, ctx: AppContext, models: Path
) -> None:
    from tests.support.tiny_vision import write_projector_header

    model = _model(models / "pub" / "Eyes-GGUF" / "Eyes-F32.gguf", name="Eyes")
    write_projector_header(model.parent / "mmproj-Eyes-F16.gguf", 64)  # TinySpec's embeddings are 64 wide
    write_projector_header(model.parent / "mmproj-Other-F16.gguf", 128)  # another model's: never paired
    page = LibraryPage(ctx)
    qtbot.addWidget(page)
    with qtbot.waitSignal(page.scanned, timeout=10_000):
        page.show()
    try:
        assert page.proxy.rowCount() == 1  # the projectors are not listed as models
        with qtbot.waitSignal(page.details_shown, timeout=10_000):
            page.table.selectRow(0)
        assert page.details.text("Images").startswith("yes, with mmproj-Eyes-F16.gguf (")
        assert page.details.values["Images"].isVisibleTo(page.details)
        page.resize(1200, 500)
        page.grab().save(str(models.parent / "library-vision.png"))
    finally:
        page.shutdown()


# Scans off the GUI thread (#15 item 6) -------------------------------------------------------------------------


def test_a_folder_of_hostile_headers_is_scanned_in_a_worker(
    qtbot: Any, ctx: AppContext, models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import struct
    import threading

    from app.library import summary

    hostile = models / "hostile"
    hostile.mkdir()
    strings = struct.pack("<Q", 0) * 200_000
    key = b"tokenizer.ggml.tokens"
    array = struct.pack("<Q", len(key)) + key + struct.pack("<IIQ", 9, 8, 200_000) + strings
    (hostile / "empty-strings.gguf").write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + array)
    (hostile / "million-entries.gguf").write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 1_000_000) + bytes(64))
    (hostile / "text.gguf").write_text("not a model")
    threads: list[int] = []
    real = summary.summarize_file

    def recording(path: Path) -> Any:
        threads.append(threading.get_ident())
        return real(path)

    monkeypatch.setattr(summary, "summarize_file", recording)
    page = LibraryPage(ctx)  # the first scan starts here
    qtbot.addWidget(page)
    try:
        assert page.model.rowCount() == 0  # results come back through the event loop, never inline
        with qtbot.waitSignal(page.scanned, timeout=10_000, check_params_cb=lambda e: len(e) == 3):
            page.show()
        assert len(threads) == 3 and threading.get_ident() not in threads
        errors = {e.path.name: e.error or "" for e in page.model.entries()}
        assert "metadata entries" in errors["million-entries.gguf"] and "not a GGUF file" in errors["text.gguf"]
        assert all(errors.values()), errors
    finally:
        page.shutdown()
