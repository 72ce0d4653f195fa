"""Fusion with a light or dark palette (following the OS unless the user chose), plus resources/style.qss."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QApplication

from app.core.resources import resource

_DARK = {
    QPalette.ColorRole.Window: "#202124",
    QPalette.ColorRole.WindowText: "#e8eaed",
    QPalette.ColorRole.Base: "#17181a",
    QPalette.ColorRole.AlternateBase: "#26272b",
    QPalette.ColorRole.ToolTipBase: "#2d2e31",
    QPalette.ColorRole.ToolTipText: "#e8eaed",
    QPalette.ColorRole.PlaceholderText: "#9aa0a6",
    QPalette.ColorRole.Text: "#e8eaed",
    QPalette.ColorRole.Button: "#2d2e31",
    QPalette.ColorRole.ButtonText: "#e8eaed",
    QPalette.ColorRole.BrightText: "#ff6b6b",
    QPalette.ColorRole.Highlight: "#5b5bf0",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: "#8ab4f8",
    QPalette.ColorRole.Light: "#3c4043",
    QPalette.ColorRole.Midlight: "#34363a",
    QPalette.ColorRole.Mid: "#3c4043",
    QPalette.ColorRole.Dark: "#111214",
    QPalette.ColorRole.Shadow: "#000000",
}
_LIGHT_ACCENTS = {
    QPalette.ColorRole.Highlight: "#5b5bf0",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.AlternateBase: "#f1f3f4",
    QPalette.ColorRole.Midlight: "#e8eaed",
    QPalette.ColorRole.Mid: "#dadce0",
    QPalette.ColorRole.PlaceholderText: "#5f6368",
}


def os_prefers_dark() -> bool:
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


def resolve_theme(choice: str) -> str:
    if choice in ("light", "dark"):
        return choice
    return "dark" if os_prefers_dark() else "light"


def build_palette(theme: str) -> QPalette:
    palette = QApplication.style().standardPalette()
    roles = _DARK if theme == "dark" else _LIGHT_ACCENTS
    for role, colour in roles.items():
        palette.setColor(role, QColor(colour))
    if theme == "dark":
        disabled = QColor("#6f7378")
        for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
            palette.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return palette


def check_box_palette(palette: QPalette, theme: str) -> QPalette:
    """Fusion outlines check boxes with the Window colour darkened, which vanishes on a dark background; check
    boxes and item views get a lighter Window (neither paints its background with it)."""
    outlined = QPalette(palette)
    if theme == "dark":
        outlined.setColor(QPalette.ColorRole.Window, QColor("#7a7f86"))
    return outlined


def apply_theme(app: QApplication, choice: str) -> str:
    """Apply the chosen theme ('system', 'light' or 'dark'); returns the one in effect."""
    if app.style().name().lower() != "fusion":
        app.setStyle("Fusion")
    theme = resolve_theme(choice)
    palette = build_palette(theme)
    app.setPalette(palette)
    outlined = check_box_palette(palette, theme)
    for widget_class in ("QAbstractItemView", "QCheckBox", "QRadioButton"):
        app.setPalette(outlined, widget_class)  # type: ignore[arg-type]  # the stub says bytes; PySide wants str
    app.setStyleSheet(resource("style.qss").read_text(encoding="utf-8"))
    app.setProperty("appTheme", theme)
    return theme


def app_icon() -> QIcon:
    return QIcon(str(resource("icons", "gguf-studio.svg")))
