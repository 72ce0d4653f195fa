from __future__ import annotations

import pytest

from app.ui import qt_diagnose


@pytest.mark.parametrize(
    ("soname", "package"),
    [
        ("libxcb-icccm.so.4", "libxcb-icccm4"),
        ("libxcb-cursor.so.0", "libxcb-cursor0"),
        ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
        ("libEGL.so.1", "libEGL1"),
        ("weird", "weird"),
    ],
)
def test_debian_package_names(soname: str, package: str) -> None:
    assert qt_diagnose.debian_package(soname) == package


def test_hint_names_missing_libraries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qt_diagnose, "missing_xcb_libraries", lambda: ["libxcb-keysyms.so.1"])
    assert "sudo apt install libxcb-keysyms1" in qt_diagnose.platform_failure_hint()
    monkeypatch.setattr(qt_diagnose, "missing_xcb_libraries", lambda: [])
    assert "display" in qt_diagnose.platform_failure_hint()


def test_this_machine_has_what_the_xcb_plugin_needs_or_says_so() -> None:
    assert all(name.startswith("lib") for name in qt_diagnose.missing_xcb_libraries())
