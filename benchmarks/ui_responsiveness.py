"""Discover stays responsive while the Hub is slow: the longest event-loop stall while searching and paging.

The fake Hub (tests/fakehub, default catalogue) runs in its own process with 300 ms added to every request,
so its work never competes with the GUI process. The Discover page (offscreen) is driven like a user:
typing queries a key every 80 ms (debounced searches), opening a repository (detail, remote header read,
fit verdicts), changing the context length, and scrolling to load further result pages. A 5 ms QTimer
heartbeat records the gap between its ticks; the stall is the longest gap minus the interval.
Target: longest stall ≤ 50 ms.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median, print_table, write_results

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
LATENCY_S = 0.3
HEARTBEAT_MS = 5
TARGET_MS = 50.0
RUNS = 3
PHASES = ("first show", "typing searches", "open repo + context", "paging")

_SERVER = r"""
import sys, time
from tests.fakehub import FakeHub, build_default_catalogue
hub = build_default_catalogue(FakeHub()).start()
for repo in hub.repos.values():  # digests computed (or read from cache) before timing starts
    for f in repo.files.values():
        f.content.sha256
hub.latency = float(sys.argv[1])
print(hub.url, flush=True)
sys.stdin.read()
hub.stop()
"""


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["GGUF_STUDIO_HOME"] = tempfile.mkdtemp(prefix="gguf-studio-bench-")
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(LATENCY_S)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    runs: list[dict[str, Any]] = []
    try:
        assert server.stdout is not None
        os.environ["HF_ENDPOINT"] = server.stdout.readline().strip()
        os.environ["HF_HUB_OFFLINE"] = "0"
        for _ in range(RUNS):
            result = run_scenario()
            result["load_average"] = os.getloadavg()[0]
            runs.append(result)
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(10)

    def cells(stats: dict[str, Any]) -> list[object]:
        return [
            f"{stats['max_stall_ms']:.1f}",
            f"{stats['gui_cpu_in_worst_gap_ms']:.1f}",
            f"{stats['max_gui_cpu_per_gap_ms']:.1f}",
            f"{stats['p99_gap_ms']:.1f}",
            stats["gaps_over_target"],
        ]

    stats_headers = [
        "longest stall ms",
        "GUI CPU in it ms",
        "most GUI CPU in a gap ms",
        "p99 gap ms",
        f"gaps > {TARGET_MS:.0f} ms",
    ]
    print(f"Discover with {LATENCY_S * 1000:.0f} ms Hub latency, heartbeat every {HEARTBEAT_MS} ms, {RUNS} runs")
    print_table(
        ["run", *stats_headers, "seconds", "load avg"],
        [[i + 1, *cells(r), f"{r['seconds']:.1f}", f"{r['load_average']:.1f}"] for i, r in enumerate(runs)],
    )
    print()
    worst = {name: max((r["phases"][name] for r in runs), key=lambda st: st["max_stall_ms"]) for name in PHASES}
    print_table(["phase (worst run)", *stats_headers], [[name, *cells(st)] for name, st in worst.items()])
    stalls = sorted(r["max_stall_ms"] for r in runs)
    headline = median(stalls)
    print(
        f"\nlongest stall: median of runs {headline:.1f} ms, worst {stalls[-1]:.1f} ms, on {os.cpu_count()} CPUs "
        "shared with other work (a stall with little GUI CPU in it is time the GUI thread waited for a CPU or the GIL)"
    )
    verdict = "PASS" if headline <= TARGET_MS else "FAIL"
    print(f"target ≤ {TARGET_MS:.0f} ms (median of runs): {verdict}")
    path = write_results(
        "ui_responsiveness",
        {
            "latency_ms": LATENCY_S * 1000,
            "heartbeat_ms": HEARTBEAT_MS,
            "target_ms": TARGET_MS,
            "median_longest_stall_ms": headline,
            "worst_longest_stall_ms": stalls[-1],
            "runs": runs,
        },
    )
    print(f"results: {path}")
    return 0 if verdict == "PASS" else 1


def run_scenario() -> dict[str, Any]:
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QObject, QTimer
    from PySide6.QtWidgets import QApplication

    from app.core.settings import Settings
    from app.hardware import GpuInfo, HardwareInfo, LlamaBackend
    from app.ui.context import AppContext
    from app.ui.hardware_watch import HardwareWatch
    from app.ui.pages.discover import DiscoverPage
    from app.ui.theme import apply_theme

    gib = 1024**3

    class Machine(HardwareWatch):  # a fixed machine: no llama.cpp import competing for the GIL
        @property
        def info(self) -> HardwareInfo:
            return HardwareInfo(
                ram_total=16 * gib,
                ram_available=10 * gib,
                cpu_name="bench",
                cpu_physical_cores=4,
                cpu_logical_cores=8,
                os="Linux",
                machine="x86_64",
                gpus=(GpuInfo(0, "bench GPU", 8 * gib, 6 * gib),),
                llama=LlamaBackend("bench", True, ("cpu", "cuda"), ""),
            )

    app = QApplication.instance() or QApplication([])
    apply_theme(app, "light")  # type: ignore[arg-type]
    ctx = AppContext.create(Settings(), hardware=Machine())
    page = DiscoverPage(ctx)
    page.resize(1400, 860)

    clock = QElapsedTimer()
    clock.start()
    gaps: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}  # GUI-thread CPU time within each gap: work done vs time spent waiting
    phase = ["start"]
    last = [0.0]
    last_cpu = [time.thread_time()]

    def beat() -> None:
        now, now_cpu = clock.nsecsElapsed() / 1e6, time.thread_time()
        gaps.setdefault(phase[0], []).append(now - last[0])
        cpu.setdefault(phase[0], []).append((now_cpu - last_cpu[0]) * 1000)
        last[0], last_cpu[0] = now, now_cpu

    heart = QTimer()
    heart.setInterval(HEARTBEAT_MS)
    heart.timeout.connect(beat)

    def wait_for(signal: object, timeout_ms: int = 20_000, until: object = None) -> None:
        loop = QEventLoop()
        deadline = time.monotonic() + timeout_ms / 1000

        def check(*_args: object) -> None:
            if until is None or until():  # type: ignore[operator]
                loop.quit()

        signal.connect(check)  # type: ignore[attr-defined]
        guard = QTimer()
        guard.setInterval(50)
        guard.timeout.connect(lambda: loop.quit() if time.monotonic() > deadline else None)
        guard.start()
        loop.exec()
        guard.stop()
        signal.disconnect(check)  # type: ignore[attr-defined]
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out in phase {phase[0]}")

    def type_text(text: str) -> None:
        page.search_box.clear()
        holder = QObject()
        chars = list(text)

        def key() -> None:
            if chars:
                page.search_box.setText(page.search_box.text() + chars.pop(0))
            else:
                typer.stop()

        typer = QTimer(holder)
        typer.setInterval(80)
        typer.timeout.connect(key)
        typer.start()
        wait_for(page.results_loaded, until=lambda: not chars and page.search_box.text() == text)

    last[0] = clock.nsecsElapsed() / 1e6
    heart.start()
    phases_s: dict[str, float] = {}

    def timed(name: str, fn: object) -> None:
        phase[0] = name
        last[0], last_cpu[0] = clock.nsecsElapsed() / 1e6, time.thread_time()
        t0 = time.monotonic()
        fn()  # type: ignore[operator]
        phases_s[name] = time.monotonic() - t0

    def first_show() -> None:
        page.show()
        wait_for(page.results_loaded)

    def searches() -> None:
        for query in ("llama", "fake", "filler 1", "tiny"):
            type_text(query)

    def open_repo() -> None:
        type_text("fake")
        page.results_view.selectRow(0)
        wait_for(page.detail.fit_ready, until=lambda: page.detail.fit is not None and page.detail.fit.exact)
        for n_ctx in (8192, 32768, 2048):
            page.detail.ctx_spin.setValue(n_ctx)
            wait_for(
                page.detail.fit_ready, until=lambda n=n_ctx: page.detail.fit is not None and page.detail.fit.n_ctx == n
            )

    def paging() -> None:
        type_text("")
        while page.results_model.has_more:
            page.results_view.scrollToBottom()
            wait_for(page.results_loaded)

    timed("first show", first_show)
    timed("typing searches", searches)
    timed("open repo + context", open_repo)
    timed("paging", paging)
    heart.stop()

    phases = {}
    everything: list[float] = []
    everything_cpu: list[float] = []
    for name, values in gaps.items():
        if name == "start":
            continue
        everything += values
        everything_cpu += cpu[name]
        phases[name] = _stats(values, cpu[name], phases_s.get(name, 0.0))
    overall = _stats(everything, everything_cpu, sum(phases_s.values()))
    rows_loaded = page.results_model.rowCount()
    page.close()
    page.deleteLater()
    return {**overall, "phases": phases, "rows_loaded": rows_loaded}


def _stats(values: list[float], cpu_ms: list[float], seconds: float) -> dict[str, float | int]:
    ordered = sorted(values) or [0.0]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    worst = max(range(len(values)), key=values.__getitem__) if values else None
    return {
        "max_stall_ms": max(0.0, ordered[-1] - HEARTBEAT_MS),
        "p99_gap_ms": p99,
        "gui_cpu_in_worst_gap_ms": cpu_ms[worst] if worst is not None else 0.0,
        "max_gui_cpu_per_gap_ms": max(cpu_ms, default=0.0),
        "gaps_over_target": sum(1 for v in values if v - HEARTBEAT_MS > TARGET_MS),
        "ticks": len(values),
        "seconds": seconds,
    }


if __name__ == "__main__":
    sys.exit(main())
