"""Settings ▸ Performance: connections per download reach the settings file and the running download queue."""

from __future__ import annotations

from pathlib import Path

from app.core.settings import Settings
from app.downloads.store import QueueStore
from app.ui.context import AppContext
from app.ui.models.download_service import DownloadService
from app.ui.pages.settings import SettingsPage


def test_connections_spin_box_updates_settings_and_the_queue(qtbot, tmp_path: Path) -> None:
    settings = Settings()
    service = DownloadService(settings, store=QueueStore(tmp_path / "queue.json"))
    ctx = AppContext.create(settings, downloads=service)
    page = SettingsPage(ctx)
    qtbot.addWidget(page)
    page.resize(900, 1000)
    page.show()
    try:
        assert page.segments.value() == settings.values.download_segments == 8
        assert service.manager.segments == 8
        page.segments.setValue(3)
        assert Settings().values.download_segments == 3  # saved
        assert service.manager.segments == 3  # new transfers use it
        page.grab().save(str(tmp_path / "settings-download-connections.png"))
    finally:
        service.shutdown()
