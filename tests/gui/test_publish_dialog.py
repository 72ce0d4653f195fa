"""The Library's Publish… dialog against the fake Hub: the card preview is what gets published (edits
included), progress shows while uploading, a repository with other content is asked about, and the Library
page offers the action for a usable model with the other quants of the same model beside it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import HfApi
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.core.settings import Settings
from app.gguf.synthetic import TinySpec, write_tiny_gguf
from app.share.card import MARKER
from app.share.publish import PublishResult
from app.ui.context import AppContext
from app.ui.pages.library import LibraryPage
from app.ui.pages.publish_dialog import PublishDialog
from tests.fakehub import FakeHub
from tests.fakehub.upload import uploads
from tests.support.quality import save_score
from tests.support.shots import save_shot

TOKEN = "hf_write_alice"


@pytest.fixture
def hub(fake_hub_empty: FakeHub, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    fake_hub_empty.add_token(TOKEN, "alice", role="write")
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    yield fake_hub_empty


@pytest.fixture
def quants(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "models" / "alice" / "Tiny-GGUF"
    folder.mkdir(parents=True)
    files = [write_tiny_gguf(folder / f"Tiny-{t}.gguf", TinySpec(tensor_type=t, name="Tiny")) for t in ("Q8_0", "F16")]
    save_score(files[0], folder / "Tiny-F32.src", quant_type="Q8_0")
    return files


def _dialog(qtbot: Any, files: list[Path], candidates: list[Path]) -> PublishDialog:
    dialog = PublishDialog(files, candidates)
    qtbot.addWidget(dialog)
    dialog.show()
    with qtbot.waitSignal(dialog.card_ready, timeout=30_000):
        pass
    return dialog


def test_the_edited_card_is_what_gets_published(qtbot: Any, hub: FakeHub, quants: list[Path]) -> None:
    dialog = _dialog(qtbot, [quants[0]], [quants[1]])
    assert dialog.repo.text() == "alice/Tiny-GGUF"
    assert dialog.chosen_files() == [quants[0]]
    card = dialog.card.toPlainText()
    assert MARKER in card and "Tiny-Q8_0.gguf" in card and "Tiny-F16.gguf" not in card
    dialog.files.item(1).setCheckState(Qt.CheckState.Checked)  # not edited yet: the card is written again
    qtbot.waitUntil(lambda: "Tiny-F16.gguf" in dialog.card.toPlainText(), timeout=30_000)
    dialog.card.appendPlainText("\nA note from the publisher.\n")
    edited = dialog.card.toPlainText()
    dialog.card_tabs.setCurrentIndex(1)
    shown = dialog.rendered.toPlainText()
    assert "A note from the publisher." in shown and "Tiny GGUF" in shown and "library_name" not in shown
    save_shot(dialog, "library-publish-preview")
    seen: list[str] = []
    with qtbot.waitSignal(dialog.published, timeout=60_000) as blocker:
        task = dialog.start()
        assert task is not None
        task.progress.connect(lambda e: seen.append(e.stage))
        assert dialog.progress.isVisible() and dialog.close_button.text() == "Cancel"
    result = blocker.args[0]
    assert isinstance(result, PublishResult)
    readme = b"".join(hub.repo("alice/Tiny-GGUF").files["README.md"].content.read()).decode()
    assert readme == edited
    assert {"Tiny-Q8_0.gguf", "Tiny-F16.gguf"} <= set(HfApi(endpoint=hub.url, token=TOKEN).list_repo_files(
        "alice/Tiny-GGUF"))
    assert "upload" in seen
    assert dialog.status.text().startswith("Published 3 files to")
    dialog.card_tabs.setCurrentIndex(0)
    save_shot(dialog, "library-publish-dialog")


def test_a_repository_with_other_content_is_asked_about(
    qtbot: Any, hub: FakeHub, quants: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    api = HfApi(endpoint=hub.url, token=TOKEN)
    api.create_repo("Tiny-GGUF")
    api.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id="alice/Tiny-GGUF")
    asked: list[str] = []

    def answer(_parent: object, _title: str, text: str, *_args: object) -> QMessageBox.StandardButton:
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", staticmethod(answer))
    dialog = _dialog(qtbot, [quants[0]], [])
    with qtbot.waitSignal(dialog.published, timeout=60_000):
        dialog.start()
    assert len(asked) == 1 and "config.json" in asked[0]
    assert "Tiny-Q8_0.gguf" in api.list_repo_files("alice/Tiny-GGUF")
    assert len(uploads(hub).commits) == 2  # the config.json one, then this publish


def test_library_offers_publish_for_the_selected_model(qtbot: Any, quants: list[Path], tmp_path: Path) -> None:
    settings = Settings()
    settings.update(models_dir=str(tmp_path / "models"))
    ctx = AppContext.create(settings)
    page = LibraryPage(ctx)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=10_000)
    action = page.publish_action  # type: ignore[attr-defined]
    assert not action.isEnabled()
    page.select(str(quants[1]))
    assert action.isEnabled()
    page.resize(1200, 420)
    save_shot(page, "library-share-actions")
    action.trigger()
    dialog = page.publish_dialog  # type: ignore[attr-defined]
    assert isinstance(dialog, PublishDialog)
    assert dialog.chosen_files() == [quants[1]]
    offered = [dialog.files.item(i).data(Qt.ItemDataRole.UserRole) for i in range(dialog.files.count())]
    assert offered == [quants[1], quants[0]]
    dialog.reject()
    page.shutdown()
    ctx.shutdown()


def test_library_splits_and_merges_a_model(
    qtbot: Any, quants: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.ui.pages import split_actions

    settings = Settings()
    settings.update(models_dir=str(tmp_path / "models"))
    ctx = AppContext.create(settings)
    page = LibraryPage(ctx)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=10_000)
    source = quants[1]
    original = source.read_bytes()
    monkeypatch.setattr(split_actions, "ask_max_size", lambda _parent, _entry: len(original) // 2)
    page.select(str(source))
    assert page.split_action.isEnabled() and not page.merge_action.isEnabled()  # type: ignore[attr-defined]
    page.split_action.trigger()  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: page.model.rowCount() == 3, timeout=20_000)  # the split set joins the list
    parts = sorted(source.parent.glob("Tiny-F16-*-of-*.gguf"))
    assert len(parts) >= 2
    source.unlink()  # merge writes Tiny-F16.gguf again
    qtbot.waitUntil(lambda: page.model.row_of(str(parts[0])) is not None and page.model.rowCount() == 2,
                    timeout=20_000)
    page.select(str(parts[0]))
    assert page.merge_action.isEnabled() and not page.split_action.isEnabled()  # type: ignore[attr-defined]
    page.merge_action.trigger()  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: source.is_file() and page.model.rowCount() == 3, timeout=20_000)
    assert source.read_bytes() == original
    page.shutdown()
    ctx.shutdown()
