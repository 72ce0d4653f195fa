"""Cold start to the first painted main window, median of 5, beside a bare PySide6 window.

Each run is a new Python process (offscreen Qt platform). The time runs from just before the process is
spawned to the window's first paint event, so interpreter start-up and imports are included.
Target: ≤ 2× the bare window and ≤ 1.5 s; llama_cpp and pynvml must not be imported before the first paint.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median, print_table, write_results

REPO = Path(__file__).resolve().parents[1]
RUNS = 5

_CHILD = r"""
import json, sys, time
from PySide6.QtCore import QEvent, QObject, QTimer
kind = sys.argv[1]
if kind == "app":
    from PySide6.QtWidgets import QApplication
    from app.ui.application import launch
    window = launch()  # the same path as `gguf-studio`: shown, probe scheduled after the first paint
    qt_app = QApplication.instance()
else:
    from PySide6.QtWidgets import QApplication, QMainWindow
    qt_app = QApplication([])
    window = QMainWindow()
    window.resize(1280, 800)

report = {}

def done():
    print(json.dumps(report), flush=True)
    qt_app.quit()

class FirstPaint(QObject):
    def __init__(self, key, last):
        super().__init__()
        self.key, self.last = key, last
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and self.key not in report:
            report[self.key] = time.time()
            if self.key == "painted":
                report["llama_cpp"] = "llama_cpp" in sys.modules
                report["pynvml"] = "pynvml" in sys.modules
            obj.removeEventFilter(self)
            if self.last:
                QTimer.singleShot(0, done)
        return False

watchers = []
def watch(widget, key, last):
    watchers.append(FirstPaint(key, last))
    widget.installEventFilter(watchers[-1])

if kind == "app":
    watch(window, "painted", False)
    # the start page is built right after the window's first paint: time its own first paint too
    window.page_opened.connect(lambda name, page: watch(page, "page_painted", True))
else:
    watch(window, "painted", True)
window.show()  # already shown for the app: painting happens in the event loop, after this filter is in place
qt_app.exec()
"""


def one_run(kind: str, home: str) -> dict[str, float | bool]:
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
           "GGUF_STUDIO_HOME": home}
    start = time.time()
    result = subprocess.run([sys.executable, "-c", _CHILD, kind], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=60, check=True)
    line = [ln for ln in result.stdout.splitlines() if ln.startswith("{")][-1]
    report = json.loads(line)
    return {"seconds": report["painted"] - start, "page_seconds": report.get("page_painted", report["painted"]) - start,
            "llama_cpp": report["llama_cpp"], "pynvml": report["pynvml"]}


def main() -> int:
    with tempfile.TemporaryDirectory() as home:
        one_run("app", home)  # warm the OS file cache once, as a second launch of the app would be
        one_run("bare", home)
        bare = [one_run("bare", home) for _ in range(RUNS)]
        studio = [one_run("app", home) for _ in range(RUNS)]
    bare_s = median([float(r["seconds"]) for r in bare])
    app_s = median([float(r["seconds"]) for r in studio])
    page_s = median([float(r["page_seconds"]) for r in studio])
    heavy = any(r["llama_cpp"] or r["pynvml"] for r in studio)
    ratio = app_s / bare_s
    print_table(
        ["window", "median first paint (s)", "runs"],
        [["bare PySide6 QMainWindow", f"{bare_s:.3f}", RUNS], ["GGUF Studio main window", f"{app_s:.3f}", RUNS],
         ["GGUF Studio start page (Discover) painted", f"{page_s:.3f}", RUNS]],
    )
    ok = ratio <= 2.0 and app_s <= 1.5 and not heavy
    print(f"start page painted {page_s:.3f} s ({page_s / bare_s:.2f}× the bare window)")
    print(f"ratio {ratio:.2f}× (target ≤ 2×), {app_s:.3f} s (target ≤ 1.5 s), "
          f"llama_cpp/pynvml imported before first paint: {heavy} → {'PASS' if ok else 'FAIL'}")
    path = write_results("startup", {
        "bare_median_s": bare_s, "app_median_s": app_s, "start_page_median_s": page_s, "ratio": ratio,
        "heavy_imports_before_paint": heavy,
        "bare_runs_s": [r["seconds"] for r in bare], "app_runs_s": [r["seconds"] for r in studio], "pass": ok,
    })
    print(f"wrote {path}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
