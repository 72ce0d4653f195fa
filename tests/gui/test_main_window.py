from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QCheckBox, QTableView

from app.core.settings import Settings
from app.hardware import HardwareInfo
from app.ui.main_window import MainWindow
from app.ui.messages import message_bridge
from app.ui.pages.registry import PAGES
from app.ui.theme import apply_theme


@pytest.fixture
def window(window: MainWindow, qtbot) -> MainWindow:
    window.show()
    qtbot.waitExposed(window)
    return window


def _is_blank(image: QImage) -> bool:
    first = image.pixel(0, 0)
    step = max(1, image.width() // 64)
    return all(
        image.pixel(x, y) == first for x in range(0, image.width(), step) for y in range(0, image.height(), step)
    )


def test_every_page_opens(window: MainWindow) -> None:
    for spec in PAGES:
        window.navigate(spec.name)
        assert window.current_page_name() == spec.name
        page = window.stack.currentWidget()
        assert page is window.page(spec.name)
        assert page.isVisible()
        assert not _is_blank(window.grab().toImage())


def test_keyboard_shortcuts_switch_pages(window: MainWindow, qtbot) -> None:
    qtbot.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert window.current_page_name() == PAGES[2].name
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.current_page_name() == PAGES[0].name


def test_hardware_summary_reaches_the_status_bar(window: MainWindow, qtbot) -> None:
    with qtbot.waitSignal(window.hardware.ready, timeout=30_000) as blocker:
        window.hardware.start()
    info = blocker.args[0]
    assert isinstance(info, HardwareInfo)
    assert window.hardware_label.text().startswith("RAM ")
    assert "llama.cpp" in window.hardware_label.text()


def test_geometry_and_last_page_persist(window: MainWindow, qtbot) -> None:
    window.resize(700, 500)  # the offscreen screen is 800x600; restore clamps to it
    window.navigate("library")
    window.close()
    again = MainWindow(Settings())
    qtbot.addWidget(again)
    assert again.current_page_name() == "library"
    assert (again.size().width(), again.size().height()) == (700, 500)


def test_messages_show_in_the_banner(window: MainWindow) -> None:
    message_bridge().error("Could not reach the Hub")
    assert window.banner.isVisible()
    assert window.banner.label.text() == "Could not reach the Hub"


def test_settings_page_applies_changes(window: MainWindow) -> None:
    window.navigate("settings")
    page = window.page("settings")
    page.threads.setValue(3)
    page.theme.setCurrentIndex(page.theme.findData("dark"))
    assert window.settings.values.threads == 3
    assert window.settings.values.theme == "dark"
    assert QApplication.instance().property("appTheme") == "dark"
    assert Settings().values.threads == 3


def test_placeholder_pages_say_which_issue_fills_them(window: MainWindow, tmp_path: Path) -> None:
    from app.ui.pages.placeholder import PlaceholderPage

    for spec in PAGES:
        page = window.page(spec.name)
        if isinstance(page, PlaceholderPage):
            text = " ".join(label.text() for label in page.findChildren(type(window.hardware_label)))
            assert f"issue {spec.issue}" in text or "could not be opened" in text


def test_services_start_after_paint_and_stop_on_close(window: MainWindow, qtbot) -> None:
    with qtbot.waitSignals([window.hardware.ready, window.services_started], timeout=30_000):
        window.start_services()
    downloads = window.context.downloads
    assert downloads is window.context.services["downloads"]
    assert not downloads.manager._closing.is_set()
    window.close()
    assert downloads.manager._closing.is_set()  # transfers stopped; the queue stays on disk for next time


def test_system_theme_follows_the_os(window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.ui import theme

    app = QApplication.instance()
    monkeypatch.setattr(theme, "os_prefers_dark", lambda: True)
    window._os_theme_changed(Qt.ColorScheme.Dark)
    assert app.property("appTheme") == "dark"
    monkeypatch.setattr(theme, "os_prefers_dark", lambda: False)
    window._os_theme_changed(Qt.ColorScheme.Light)
    assert app.property("appTheme") == "light"
    window.settings.update(theme="dark")  # a fixed choice ignores the OS
    window._os_theme_changed(Qt.ColorScheme.Light)
    assert app.property("appTheme") == "light"  # unchanged: only the Settings page applies a fixed choice


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_check_boxes_have_a_visible_outline(qtbot, theme: str) -> None:
    """Fusion outlines a check box with the Window colour darkened; it must stand out from the Base it sits on."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    try:
        apply_theme(app, theme)
        for widget in (QCheckBox(), QTableView()):
            qtbot.addWidget(widget)
            palette = QApplication.palette(widget)
            outline = palette.window().color().darker(140)
            base = palette.base().color()
            assert abs(outline.lightness() - base.lightness()) >= 40, (widget, outline.name(), base.name())
    finally:
        apply_theme(app, "system")


def test_a_window_closed_before_its_services_start_starts_none(window: MainWindow, qtbot) -> None:
    window.start_services()
    window.close()
    with qtbot.waitSignal(window._services_task.finished, timeout=30_000):
        pass
    assert "downloads" not in window.context.services
