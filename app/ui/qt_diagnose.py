"""Explain why Qt could not open a window: the system libraries its X11 plugin cannot find."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)


def debian_package(soname: str) -> str:
    """libxcb-icccm.so.4 → libxcb-icccm4; libxkbcommon-x11.so.0 → libxkbcommon-x11-0 (Debian's naming)."""
    match = re.fullmatch(r"(lib.+?)\.so\.(\d+).*", soname)
    if not match:
        return soname
    stem, version = match.groups()
    return f"{stem}-{version}" if stem[-1].isdigit() else f"{stem}{version}"


def missing_xcb_libraries() -> list[str]:
    if not sys.platform.startswith("linux"):
        return []
    import PySide6

    qt = Path(PySide6.__file__).parent / "Qt"
    candidates = [qt / "plugins" / "platforms" / "libqxcb.so", *sorted((qt / "lib").glob("libQt6XcbQpa.so*"))[:1]]
    missing: list[str] = []
    for library in candidates:
        if not library.exists():
            continue
        try:
            output = subprocess.run(["ldd", str(library)], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            return []
        missing.extend(name for name in _NOT_FOUND.findall(output) if name not in missing)
    return missing


def platform_failure_hint() -> str:
    missing = missing_xcb_libraries()
    if not missing:
        return "check that a display is available (DISPLAY or WAYLAND_DISPLAY), or set QT_QPA_PLATFORM"
    packages = " ".join(debian_package(name) for name in missing)
    return f"missing system libraries {', '.join(missing)}; on Debian/Ubuntu: sudo apt install {packages}"
