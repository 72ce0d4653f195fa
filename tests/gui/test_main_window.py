from __future__ import annotations

import logging

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtWidgets import QApplication, QCheckBox, QTableView, QToolButton

from app.core import paths
from app.core.settings import Settings
from app.hardware import HardwareInfo
from app.ui.main_window import MINIMUM_SIZE, MainWindow
from app.ui.messages import message_bridge
from app.ui.pages.broken import BrokenPage
from app.ui.pages.registry import PAGES
from app.ui.theme import apply_theme
from tests.fakehub import GATED_REPO, TINY_REPO, FakeHub


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


def check_every_page_opens(window: MainWindow) -> None:
    """Every page builds (none is replaced by the broken-page notice), shows and paints something."""
    for spec in PAGES:
        window.navigate(spec.name)
        assert window.current_page_name() == spec.name
        page = window.current_page()
        assert page is window.page(spec.name)
        assert not isinstance(page, BrokenPage), f"the {spec.name} page failed to build: {page.problem}"
        assert page.isVisible()
        assert not _is_blank(window.grab().toImage())
    assert window.open_every_page() == {}


def test_every_page_opens(window: MainWindow) -> None:
    check_every_page_opens(window)


class _Boom(Exception):
    pass


def _broken_page(*_args: object, **_kwargs: object) -> None:
    raise _Boom("the page's constructor raised")


def test_a_page_that_fails_to_build_fails_the_check(
    qtbot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The window stays up and shows what broke, but the check (and so the suite) fails."""
    from app.ui.pages import library

    monkeypatch.setattr(library, "LibraryPage", _broken_page)
    window = MainWindow(Settings())
    qtbot.addWidget(window)
    window.show()
    with pytest.raises(AssertionError, match="library page failed to build"):
        check_every_page_opens(window)
    assert window.open_every_page() == {"library": "_Boom: the page's constructor raised"}
    page = window.page("library")
    assert isinstance(page, BrokenPage)
    assert "the page's constructor raised" in page.body.text() and str(paths.log_file()) in page.body.text()
    records = [r for r in caplog.records if r.levelno == logging.ERROR and "library" in r.getMessage()]
    assert records and records[0].exc_info is not None  # logged at ERROR, with the traceback
    window.navigate("settings")  # the other pages still work
    assert not isinstance(window.page("settings"), BrokenPage)


def test_the_self_test_fails_when_a_page_fails_to_build(monkeypatch: pytest.MonkeyPatch) -> None:
    from app import selftest
    from app.ui.pages import settings

    monkeypatch.setattr(settings, "SettingsPage", _broken_page)
    monkeypatch.setattr(selftest, "_check_engine", lambda _model: "skipped here")  # the window is the point
    lines: list[str] = []
    assert selftest.run_self_test(lines.append) != 0
    assert any(line.startswith("FAIL  window") and "settings" in line and "_Boom" in line for line in lines), lines


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


def test_every_page_fits_a_small_screen_by_scrolling(window: MainWindow) -> None:
    """A page wider or taller than the window scrolls inside it; the window never grows past a small laptop
    screen because one page (Chat's load panel, the Server page) needs more room."""
    width, height = MINIMUM_SIZE
    window.resize(width, height)
    for spec in PAGES:
        window.navigate(spec.name)
        QApplication.processEvents()
        assert (window.width(), window.height()) == (width, height), spec.name
        page = window.current_page()
        assert page is window.page(spec.name) and page.isVisible()
        needed = page.minimumSizeHint()
        if needed.width() > page.parentWidget().width():
            assert window.stack.currentWidget().horizontalScrollBar().isVisible(), spec.name


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


def test_services_start_after_paint_and_stop_on_close(window: MainWindow, qtbot) -> None:
    downloads = window.context.downloads  # every service exists before the first page; none has started
    assert not downloads.started
    with qtbot.waitSignals([window.hardware.ready, window.services_started], timeout=30_000):
        window.start_services()
    assert downloads.started and window.context.downloads is downloads
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
    assert not window.context.downloads.started


TINY_FILE = "Tiny-Llama-F32.gguf"


def _has_colour(image: QImage, colour: QColor) -> bool:
    return any(image.pixelColor(x, y) == colour for x in range(image.width()) for y in range(0, image.height(), 2))


def test_a_message_floats_over_the_page_without_moving_it(window: MainWindow) -> None:
    """#16 item 9: showing or hiding the banner never moves the page (a click lands where the user aimed)."""
    window.navigate("settings")
    page = window.current_page()
    before = (page.mapTo(window, QPoint(0, 0)), page.size())
    message_bridge().error("Could not reach the Hub")
    QApplication.processEvents()
    assert window.banner.isVisible() and window.banner.geometry().top() == 0
    assert (page.mapTo(window, QPoint(0, 0)), page.size()) == before
    window.banner.findChild(QToolButton).click()  # ✕
    QApplication.processEvents()
    assert not window.banner.isVisible() and (page.mapTo(window, QPoint(0, 0)), page.size()) == before
    assert window.page_message("settings") is None


def test_a_message_stays_on_the_page_that_raised_it(window: MainWindow) -> None:
    """#16 items 3 and 9: an error raised on one page does not follow the user to the others."""
    window.navigate("settings")
    message_bridge().error("The models folder is not writable")
    window.navigate("library")
    assert not window.banner.isVisible()
    window.navigate("settings")
    assert window.banner.isVisible() and window.banner.label.text() == "The models folder is not writable"
    message_bridge().error("Download of x.gguf failed: gated", page="downloads")  # raised for another page
    assert window.banner.label.text() == "The models folder is not writable"
    assert window.statusBar().currentMessage() == "Download of x.gguf failed: gated — see Downloads"
    window.navigate("downloads")
    assert window.banner.label.text() == "Download of x.gguf failed: gated"


def test_a_failed_download_message_goes_when_the_download_does(window: MainWindow, qtbot, fake_hub: FakeHub) -> None:
    """#16 item 3: the status bar no longer says "Queued" after the failure; removing the failed download takes
    its message back."""
    window.navigate("discover")
    service = window.context.downloads
    name = next(n for n in fake_hub.repo(GATED_REPO).files if n.endswith(".gguf"))
    message_bridge().info(f"Queued {name}")  # what Discover says on a Download click
    item = service.enqueue(GATED_REPO, [name])
    qtbot.waitUntil(lambda: window.page_message("downloads") is not None, timeout=30_000)
    assert "Queued" not in window.statusBar().currentMessage()
    assert "failed" in window.statusBar().currentMessage()
    window.navigate("downloads")
    assert window.banner.isVisible() and "failed" in window.banner.label.text()
    service.remove(item.id)
    qtbot.waitUntil(lambda: not window.banner.isVisible(), timeout=10_000)
    assert window.page_message("downloads") is None


def test_the_sidebar_counts_downloads_and_quitting_asks_while_they_run(
    window: MainWindow, qtbot, fake_hub: FakeHub
) -> None:
    """#16 item 4: a count on the Downloads entry; closing the window while downloads run asks first."""
    service = window.context.downloads
    entry = window.sidebar.item([p.name for p in PAGES].index("downloads"))
    assert entry.text() == "Downloads" and window.download_badge() == 0
    fake_hub.stall(100_000, seconds=30, match=TINY_FILE)
    item = service.enqueue(TINY_REPO, [TINY_FILE])
    qtbot.waitUntil(lambda: window.download_badge() == 1, timeout=10_000)

    window.close()
    box = window.quit_box
    assert window.isVisible() and box is not None and box.isVisible()
    assert "1 download is still running" in box.text()
    image = window.sidebar.viewport().grab(window.sidebar.visualItemRect(entry)).toImage()
    assert _has_colour(image, window.sidebar.palette().color(QPalette.ColorRole.Highlight))  # the pill
    keep = next(b for b in box.buttons() if b.text() == "Keep running")
    keep.click()
    qtbot.waitUntil(lambda: window.quit_box is None, timeout=5_000)
    assert window.isVisible() and not service.manager._closing.is_set()

    service.pause(item.id)
    qtbot.waitUntil(lambda: window.download_badge() == 0, timeout=10_000)
    service.resume(item.id)
    qtbot.waitUntil(lambda: window.download_badge() == 1, timeout=10_000)
    window.close()
    box = window.quit_box
    assert box is not None
    next(b for b in box.buttons() if b.text() == "Quit").click()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5_000)
    assert service.manager._closing.is_set()  # stopped; the queue stays on disk for the next start


def test_news_never_hides_a_problem_on_the_same_page(window: MainWindow) -> None:
    window.navigate("downloads")
    message_bridge().error("Download of a.gguf failed: gated", page="downloads", key="k")
    message_bridge().info("Downloaded and verified b.gguf")
    assert window.banner.label.text() == "Download of a.gguf failed: gated"
    assert window.statusBar().currentMessage() == "Downloaded and verified b.gguf"
    message_bridge().dismiss("k")
    assert not window.banner.isVisible()
