"""The button on each Discover quant row, with the state of that quant on this machine.

Download (nothing yet) → Queued / Downloading 42% / Paused 42% (opens its row in Downloads) → Open in Chat (the
files are in the models folder). A failed download offers Retry (the same row in Downloads, never a second one);
a gated repository the user cannot open yet offers Request access (its page on the Hub) instead of a Download
that can only fail.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QPushButton

from app.core.errors import AppError
from app.downloads.items import DownloadItem, ItemProgress, ItemState
from app.downloads.layout import split_repo_id, target_path
from app.hub.models import Quant
from app.ui.context import AppContext

if TYPE_CHECKING:
    from app.library.presence import LibraryPresence

BUTTON_TEXTS = ("Download", "↓ 100%", "Open in Chat", "Request access", "Paused 100%")  # for the column width


class QuantAction(str, enum.Enum):
    DOWNLOAD = "download"
    SHOW_DOWNLOAD = "show-download"  # queued, running or paused: its row in Downloads
    RETRY = "retry"
    OPEN_IN_CHAT = "open-in-chat"
    REQUEST_ACCESS = "request-access"


@dataclass(frozen=True, slots=True)
class QuantState:
    action: QuantAction
    text: str
    tip: str
    item_id: str | None = None
    model_path: Path | None = None  # OPEN_IN_CHAT: the file (a split set's first part)


def local_files(models_dir: Path, repo_id: str, quant: Quant) -> list[Path] | None:
    """Where a quant's files land in the models folder; None when a name cannot be a local path."""
    try:
        return [target_path(models_dir, repo_id, name) for name in quant.paths]
    except AppError:
        return None


def quant_state(
    quant: Quant,
    files: list[Path] | None,
    item: DownloadItem | None,
    progress: ItemProgress | None,
    *,
    denied: bool,
    library: LibraryPresence | None,
) -> QuantState:
    """What the row's button says and does, from the download queue's item for these files (if any), the
    files the last library scan found (no disk access here; none while no scan has ended), and whether the Hub
    refused this user the repository."""
    on_disk = files is not None and library is not None and library.has_files(files)
    if item is not None and item.state.active:
        fraction = progress.fraction if progress is not None else None
        percent = f" {fraction * 100:.0f}%" if fraction is not None else ""
        words = {ItemState.QUEUED: "Queued", ItemState.RUNNING: "↓", ItemState.PAUSED: "Paused"}
        text = words[item.state] + (percent if item.state != ItemState.QUEUED else "")
        doing = {ItemState.QUEUED: "Queued", ItemState.RUNNING: "Downloading", ItemState.PAUSED: "Paused"}
        tip = f"{doing[item.state]}{percent}: click to show it in Downloads"
        return QuantState(QuantAction.SHOW_DOWNLOAD, text, tip, item.id)
    if on_disk and files:
        return QuantState(QuantAction.OPEN_IN_CHAT, "Open in Chat", f"In your library: {files[0]}", model_path=files[0])
    if denied:
        return QuantState(
            QuantAction.REQUEST_ACCESS,
            "Request access",
            "This model is gated: open its page on the Hub to accept the license, then sign in (Settings)",
        )
    if item is not None and item.state == ItemState.FAILED:
        return QuantState(QuantAction.RETRY, "Retry", f"The download failed: {item.error}", item.id)
    return QuantState(QuantAction.DOWNLOAD, "Download", f"Queue {len(quant.files)} file(s)")


class QuantButton(QPushButton):
    """The button in a quant row's last column; `state` says what a click does."""

    def __init__(self, quant: Quant, on_click: Callable[[Quant, QuantState], None]) -> None:
        super().__init__("Download")
        self.quant = quant
        self.state = QuantState(QuantAction.DOWNLOAD, "Download", "")
        self.setObjectName(f"download-{quant.label}")
        self.clicked.connect(lambda _checked=False: on_click(self.quant, self.state))

    def set_state(self, state: QuantState) -> None:
        if state == self.state:
            return
        self.state = state
        self.setText(state.text)
        self.setToolTip(state.tip)


def repo_on_machine(repo_id: str, ctx: AppContext, library: LibraryPresence | None) -> str | None:
    """What the results list says beside a repository: being downloaded, or in the models folder (as the last
    library scan found it: no disk access here; None while no scan has ended)."""
    downloads = ctx.downloads
    states = {i.state for i in downloads.items() if i.repo_id == repo_id} if downloads.started else set()
    for state, words in (
        (ItemState.RUNNING, "downloading"),
        (ItemState.QUEUED, "queued"),
        (ItemState.PAUSED, "paused"),
    ):
        if state in states:
            return words
    try:
        folder = PurePosixPath(*split_repo_id(repo_id))
    except AppError:
        return None
    return "in your library" if library is not None and library.holds(folder) else None
