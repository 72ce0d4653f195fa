"""Names with bidirectional overrides or zero-width characters are shown escaped in the tables."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from app.downloads.items import DownloadItem
from app.ui.models.download_table import COL_NAME, DownloadTableModel

SPOOF = "model\u202efgg.exe"


def test_download_rows_show_spoofing_characters_escaped(qtmodeltester: Any) -> None:
    model = DownloadTableModel()
    model.reset([DownloadItem(id="1", repo_id="org/m", filenames=(SPOOF,), revision="main", models_dir="/m")], {})
    qtmodeltester.check(model)
    index = model.index(0, COL_NAME)
    assert model.data(index) == "model\\u202efgg.exe"
    assert model.data(index, Qt.ItemDataRole.ToolTipRole) == "model\\u202efgg.exe"
