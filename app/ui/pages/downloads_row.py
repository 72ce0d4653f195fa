"""The buttons at the end of each Downloads row: what can be done with this one download, in its state."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QHBoxLayout, QPushButton, QWidget

from app.downloads.items import DownloadItem, ItemState

# state → (primary action, secondary action); an action is a (verb, label) pair, verb "" for none
_ACTIONS: dict[ItemState, tuple[tuple[str, str], tuple[str, str]]] = {
    ItemState.QUEUED: (("pause", "Pause"), ("cancel", "Cancel")),
    ItemState.RUNNING: (("pause", "Pause"), ("cancel", "Cancel")),
    ItemState.PAUSED: (("resume", "Resume"), ("cancel", "Cancel")),
    ItemState.FAILED: (("retry", "Retry"), ("remove", "Remove")),
    ItemState.CANCELLED: (("retry", "Retry"), ("remove", "Remove")),
    ItemState.DONE: (("chat", "Load in Chat"), ("remove", "Remove")),
}
_TIPS = {
    "pause": "Stop for now; Resume continues where it stopped",
    "resume": "Continue where it stopped",
    "cancel": "Stop and delete what was downloaded of this file",
    "retry": "Try again (a partial file is resumed)",
    "remove": "Remove from this list (the downloaded file stays)",
    "chat": "Open the Chat page with this model",
    "access": "This model is gated: open its page on the Hub to accept the license, then sign in (Settings) and Retry",
}
ACTIONS_WIDTH = 210  # both buttons side by side, the longest labels ("Load in Chat", "Remove") included


class RowActions(QWidget):
    """Two buttons that follow the row's state; `on_action(verb, item_id)` does the work."""

    def __init__(self, on_action: Callable[[str, str], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._on_action = on_action
        self._item_id = ""
        self._verbs = ("", "")
        self.primary = QPushButton()
        self.primary.setObjectName("row-primary")
        self.secondary = QPushButton()
        self.secondary.setObjectName("row-secondary")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 1, 4, 1)
        layout.setSpacing(4)
        layout.addWidget(self.primary)
        layout.addWidget(self.secondary)
        self.primary.clicked.connect(lambda: self._clicked(0))
        self.secondary.clicked.connect(lambda: self._clicked(1))

    def set_item(self, item: DownloadItem) -> None:
        (verb1, text1), (verb2, text2) = _ACTIONS[item.state]
        if item.state == ItemState.FAILED and item.error_kind == "GatedRepoError":
            (verb1, text1), (verb2, text2) = ("access", "Request access"), ("retry", "Retry")
        if item.id == self._item_id and self._verbs == (verb1, verb2):
            return  # progress ticks change nothing here
        self._item_id = item.id
        self._verbs = (verb1, verb2)
        for button, verb, text in ((self.primary, verb1, text1), (self.secondary, verb2, text2)):
            button.setText(text)
            button.setToolTip(_TIPS[verb])

    def _clicked(self, which: int) -> None:
        verb = self._verbs[which]
        if verb and self._item_id:
            self._on_action(verb, self._item_id)
