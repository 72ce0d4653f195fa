"""Download throughput beside curl, memory growth and UI responsiveness while downloading at full speed.

A 1 GiB sparse GGUF-named file in /tmp is served by the fake Hub (in its own process, as the LFS "CDN",
with sendfile so the server's CPU stays out of the comparison); curl and our downloader fetch the same URL
after one untimed round each. Ours (default settings: 8 ranged segments for a file this size) is timed to
the last byte (transfer) and to the verified, fsynced, renamed file (end to end; curl neither hashes nor
fsyncs), interleaved with ours as one stream (the engine before segments). Then the Downloads page is
opened in an offscreen Qt app with a 10 ms heartbeat timer and the same
file is downloaded through the UI service: the longest gap between heartbeats is the event-loop stall.

Per-connection limit: a second fake Hub process serves a 256 MiB file at 10 MB/s per connection (what a CDN
edge or a shaped link allows one stream). curl's single stream against ours with the default segments,
whole process (ours: transfer + sha256 + fsync + rename; curl also with `sha256sum` and `mv` after it).
Both cases also run ours with the sha256 as a second pass over the finished part instead of the prefix
being hashed while segments arrive, to say which is faster. Everything in /tmp is deleted afterwards.
Ours starts each file on 2 connections and doubles them while that raises the rate (app/downloads/ramp.py);
the same download with all 8 connections from the start (session 4's engine) runs interleaved as an anchor, and
so does ours with one request per piece (session 5's engine: no runs of pieces on a fast link, no cap on the ramp).

Far server: a third fake Hub process waits FAR_LATENCY before answering each CDN request (a round trip and a
handshake to a distant CDN edge) and serves 256 MiB unthrottled: ours against ours with one request per piece.
The UI stall is measured with 8 connections from the start. The load average is printed at start and end.
Targets (each printed PASS/FAIL): unthrottled ≥ 1.0× curl; throttled ≥ 5× curl; RSS growth ≤ 100 MB;
event-loop stall ≤ 50 ms.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median, print_table, write_results

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SIZE = 1 << 30
RUNS = 7
UI_RUNS = 3
REPO_ID = "bench/Bench-GGUF"
FILE = "Bench-Q4_K_M.gguf"
THROTTLED_SIZE = 256 << 20
THROTTLE = 10_000_000  # bytes per second, per connection
THROTTLED_RUNS = 3
FAR_SIZE = 256 << 20
FAR_LATENCY = 0.06  # seconds before each CDN reply
FAR_RUNS = 3
HEARTBEAT_MS = 10
_KEEP: list[object] = []

_SERVER = r"""
import json, socketserver, sys
from pathlib import Path
from tests.fakehub import FakeHub, FakeRepo
# A client closing a connection early (a tail handed over, the end of a run) is no error worth a traceback.
socketserver.BaseServer.handle_error = lambda self, request, client_address: None
path = Path(sys.argv[1])
hub = FakeHub()
hub.add_repo(FakeRepo(sys.argv[2])).add_file(path.name, path)
hub.throttle(float(sys.argv[3]))
hub.latency, hub.latency_match = float(sys.argv[4]), "cdn-lfs"
hub.start()
print(json.dumps({"url": hub.url}), flush=True)
sys.stdin.read()
"""


def start_server(source: Path, rate: float = 0.0, latency: float = 0.0) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(source), REPO_ID, str(rate), str(latency)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None
    url = json.loads(proc.stdout.readline())["url"]
    return proc, url


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def curl_run(url: str, out: Path, size: int = SIZE, whole: bool = False) -> tuple[float, float]:
    """(seconds to the last byte, CPU seconds); `whole`: the seconds include `sha256sum` and `mv` after it."""
    os.sync()  # see ours_run: each client starts with no dirty pages left by the other
    cpu = _cpu(resource.RUSAGE_CHILDREN)  # counts curl only: the server child has not ended
    start = time.perf_counter()
    result = subprocess.run(
        ["curl", "-sS", "-L", "-o", str(out), "-w", "%{time_total}", url], capture_output=True, text=True, check=True
    )
    seconds = float(result.stdout)
    if whole:
        subprocess.run(["sha256sum", str(out)], capture_output=True, check=True)
        moved = out.with_name(out.name + ".done")
        subprocess.run(["mv", str(out), str(moved)], check=True)
        seconds = time.perf_counter() - start
        out = moved
    cpu = _cpu(resource.RUSAGE_CHILDREN) - cpu
    assert out.stat().st_size == size
    out.unlink()
    return seconds, cpu


class _Timing:
    """JobListener that notes when the last byte arrived."""

    def __init__(self) -> None:
        self.last_byte = 0.0
        self.total = 0

    def resolved(self, files: Any, done_bytes: int) -> None:
        self.total = sum(f.size for f in files)

    def progress(self, done_bytes: int) -> None:
        if done_bytes >= self.total and not self.last_byte:
            self.last_byte = time.perf_counter()

    def retrying(self, message: str, delay: float) -> None:
        raise RuntimeError(f"unexpected retry during the benchmark: {message}")

    def file_done(self, filename: str) -> None:
        pass


def ours_run(
    models: Path,
    size: int = SIZE,
    hash_in_flight: bool = True,
    segments: int | None = None,
    start: int | None = None,
    fast_link: float | None = None,
) -> tuple[float, float, float, int]:
    """(seconds to the last byte, seconds to the verified file in place, CPU seconds, most connections at once).
    `start`: connections to begin with (default: the ramp's; `segments` for all of them at once)."""
    from app.downloads.job import DownloadConfig, run_job
    from app.downloads.transfer import StopToken

    timing = _Timing()
    # curl leaves 1 GiB of unsynced pages behind; written back during our run they would slow it down
    os.sync()
    config = DownloadConfig(disk_margin=0, hash_in_flight=hash_in_flight)
    if segments is not None:
        config = replace(config, segments=segments)
    if start is not None:
        config = replace(config, start_segments=start)
    if fast_link is not None:
        config = replace(config, fast_link=fast_link)
    seen: list[int] = []  # connections at once
    cpu = _cpu(resource.RUSAGE_SELF)
    began = time.perf_counter()
    paths = run_job(
        REPO_ID,
        [FILE],
        "main",
        models,
        StopToken(),
        timing,
        config,
        on_segments=lambda states: seen.append(sum(1 for s in states if s.state == "active")),
    )
    end = time.perf_counter()
    cpu = _cpu(resource.RUSAGE_SELF) - cpu
    assert paths[0].stat().st_size == size
    connections = max(seen, default=1)
    if start is not None and start >= config.segments:
        assert connections == config.segments, f"{connections} connections at once"
    shutil.rmtree(models)
    return timing.last_byte - began, end - began, cpu, connections


def throttled_runs(work: Path) -> dict[str, Any]:
    """256 MiB at 10 MB/s per connection: curl's one stream (about 27 s, so once each) against ours."""
    source = work / "src-throttled" / FILE
    source.parent.mkdir()
    with open(source, "wb") as handle:
        handle.truncate(THROTTLED_SIZE)
    server, url = start_server(source, THROTTLE)
    endpoint = os.environ["HF_ENDPOINT"]
    os.environ["HF_ENDPOINT"] = url
    try:
        from app.downloads.remote import resolve_file

        resolve_file(REPO_ID, FILE, "main")  # the server hashes the file before any timing
        file_url = f"{url}/{REPO_ID}/resolve/main/{FILE}"
        curl, _ = curl_run(file_url, work / "curl-t.out", THROTTLED_SIZE)
        curl_whole, _ = curl_run(file_url, work / "curl-t.out", THROTTLED_SIZE, whole=True)
        ours = [ours_run(work / "models-t", THROTTLED_SIZE) for _ in range(THROTTLED_RUNS)]
        second = [ours_run(work / "models-t", THROTTLED_SIZE, hash_in_flight=False) for _ in range(THROTTLED_RUNS)]
    finally:
        os.environ["HF_ENDPOINT"] = endpoint
        server.kill()
        server.wait()
    return {
        "curl": curl,
        "curl_whole": curl_whole,
        "ours_transfer": median([o[0] for o in ours]),
        "ours_whole": median([o[1] for o in ours]),
        "ours_second_pass": median([o[1] for o in second]),
        "ours_runs": [
            {"transfer_seconds": t, "end_to_end_seconds": e, "cpu_seconds": c, "connections": n} for t, e, c, n in ours
        ],
        "second_pass_runs": [{"transfer_seconds": t, "end_to_end_seconds": e} for t, e, _, _ in second],
    }


def far_runs(work: Path) -> dict[str, Any]:
    """256 MiB from a server FAR_LATENCY away per request: ours against ours with a request per piece."""
    source = work / "src-far" / FILE
    source.parent.mkdir()
    with open(source, "wb") as handle:
        handle.truncate(FAR_SIZE)
    server, url = start_server(source, latency=FAR_LATENCY)
    endpoint = os.environ["HF_ENDPOINT"]
    os.environ["HF_ENDPOINT"] = url
    try:
        from app.downloads.remote import resolve_file

        resolve_file(REPO_ID, FILE, "main")
        ours, per_piece = [], []
        for _ in range(FAR_RUNS):
            ours.append(ours_run(work / "models-f", FAR_SIZE))
            per_piece.append(ours_run(work / "models-f", FAR_SIZE, fast_link=float("inf")))
    finally:
        os.environ["HF_ENDPOINT"] = endpoint
        server.kill()
        server.wait()
    return {
        "ours_whole": median([o[1] for o in ours]),
        "per_piece_whole": median([o[1] for o in per_piece]),
        "ours_runs": [{"end_to_end_seconds": e, "cpu_seconds": c, "connections": n} for _, e, c, n in ours],
        "per_piece_runs": [{"end_to_end_seconds": e, "cpu_seconds": c, "connections": n} for _, e, c, n in per_piece],
    }


def ui_run(models: Path, start: int | None = None) -> dict[str, float]:
    """The Downloads page while the file arrives through the UI service; `start`: connections to begin with
    (8 measures the stall with every connection fetching from the first second)."""
    import psutil
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from app.core.settings import Settings
    from app.ui.context import AppContext
    from app.ui.pages.downloads import DownloadsPage

    qt_app = QApplication.instance() or QApplication([])
    _KEEP.append(qt_app)  # the application must outlive every widget, until the interpreter exits
    settings = Settings()
    settings.update(models_dir=str(models))
    from app.downloads.job import DownloadConfig
    from app.ui.models.download_service import DownloadService

    config = DownloadConfig() if start is None else DownloadConfig(start_segments=start)
    ctx = AppContext.create(settings, downloads=DownloadService(settings, config=config))
    page = DownloadsPage(ctx)
    page.resize(1100, 400)
    page.show()
    qt_app.processEvents()
    process = psutil.Process()
    rss_before = process.memory_info().rss
    gaps: list[float] = []
    peak = [rss_before]
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]

    def beat() -> None:
        now = clock.nsecsElapsed()
        gaps.append((now - last[0]) / 1e6)
        last[0] = now
        if len(gaps) % 10 == 0:
            peak[0] = max(peak[0], process.memory_info().rss)

    heartbeat = QTimer()
    heartbeat.setInterval(HEARTBEAT_MS)
    heartbeat.timeout.connect(beat)
    finished: list[float] = []

    def on_completed(_item: object) -> None:
        finished.append(time.perf_counter())
        qt_app.quit()

    def on_changed(item: Any) -> None:
        if item.state.value == "failed":
            qt_app.quit()

    segments: list[int] = []
    page.service.completed.connect(on_completed)
    page.service.item_changed.connect(on_changed)
    page.service.progress.connect(
        lambda progress: segments.append(sum(1 for s in progress.segments if s.state == "active"))
    )
    heartbeat.start()
    start = time.perf_counter()
    page.service.enqueue(REPO_ID, [FILE])
    qt_app.exec()
    heartbeat.stop()
    peak[0] = max(peak[0], process.memory_info().rss)
    ctx.shutdown()
    page.close()
    page.deleteLater()
    qt_app.processEvents()
    if not finished:
        raise RuntimeError("the UI download did not finish")
    stalls = sorted(g - HEARTBEAT_MS for g in gaps)
    return {
        "seconds": finished[0] - start,
        "max_stall_ms": max(stalls),
        "p99_stall_ms": stalls[int(len(stalls) * 0.99)],
        "heartbeats": len(gaps),
        "rss_growth_mb": (peak[0] - rss_before) / 1e6,
        "segments": max(segments, default=0),
    }


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    load_start = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="gguf-bench-download-", dir="/tmp"))
    os.environ["GGUF_STUDIO_HOME"] = str(work / "home")
    os.environ["HF_HOME"] = str(work / "hf-home")
    server: subprocess.Popen[str] | None = None
    try:
        source = work / "src" / FILE
        source.parent.mkdir()
        with open(source, "wb") as handle:
            handle.truncate(SIZE)  # sparse: 1 GiB that takes no disk space
        server, url = start_server(source)
        os.environ["HF_ENDPOINT"] = url
        from app.downloads.remote import resolve_file

        remote = resolve_file(REPO_ID, FILE, "main")  # the server hashes the file once, before any timing
        file_url = f"{url}/{REPO_ID}/resolve/main/{FILE}"
        # One untimed round each: the first 1 GiB written on this VM often lands on guest memory the host has
        # not backed yet, which costs whoever runs first up to 2 s of kernel time.
        curl_run(file_url, work / "curl.out")
        ours_run(work / "models")
        curl: list[tuple[float, float]] = []
        ours: list[tuple[float, float, float, int]] = []
        at_once: list[tuple[float, float, float, int]] = []
        single: list[tuple[float, float, float, int]] = []
        per_piece: list[tuple[float, float, float, int]] = []
        for _ in range(RUNS):  # interleaved, so all see the same machine load
            curl.append(curl_run(file_url, work / "curl.out"))
            ours.append(ours_run(work / "models"))
            at_once.append(ours_run(work / "models", start=8))  # session 4: every connection from the start
            single.append(ours_run(work / "models", segments=1))
            per_piece.append(ours_run(work / "models", fast_link=float("inf")))  # session 5: a request per piece
        second_pass = [ours_run(work / "models", hash_in_flight=False) for _ in range(3)]
        curl_whole = median([curl_run(file_url, work / "curl.out", whole=True)[0] for _ in range(3)])
        throttled = throttled_runs(work)
        far = far_runs(work)
        ui_runs = []
        for i in range(UI_RUNS):
            ui_runs.append(ui_run(work / f"ui-models-{i}", start=8))  # the stall with 8 connections at once
            shutil.rmtree(work / f"ui-models-{i}", ignore_errors=True)
        ui: dict[str, Any] = {
            "seconds": median([u["seconds"] for u in ui_runs]),
            "max_stall_ms": max(u["max_stall_ms"] for u in ui_runs),
            "p99_stall_ms": max(u["p99_stall_ms"] for u in ui_runs),
            "rss_growth_mb": max(u["rss_growth_mb"] for u in ui_runs),
            "segments": min(u["segments"] for u in ui_runs),
            "runs": ui_runs,
        }
    finally:
        if server is not None:
            server.kill()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)

    gib = SIZE / (1 << 30)
    curl_s = median([c[0] for c in curl])
    transfer_s = median([o[0] for o in ours])
    e2e_s = median([o[1] for o in ours])
    single_e2e = median([o[1] for o in single])
    pair_ratio = median([c[0] / o[0] for c, o in zip(curl, ours, strict=True)])
    e2e_pair = median([c[0] / o[1] for c, o in zip(curl, ours, strict=True)])
    at_once_e2e = median([o[1] for o in at_once])
    per_piece_e2e = median([o[1] for o in per_piece])
    rows = [
        ("curl (to last byte)", f"{curl_s:.2f}", f"{gib / curl_s:.2f}", "1.00", f"{median([c[1] for c in curl]):.2f}"),
        (
            "ours: to the last byte",
            f"{transfer_s:.2f}",
            f"{gib / transfer_s:.2f}",
            f"{pair_ratio:.2f}",
            f"{median([o[2] for o in ours]):.2f}",
        ),
        ("ours: + sha256 + fsync + rename", f"{e2e_s:.2f}", f"{gib / e2e_s:.2f}", f"{curl_s / e2e_s:.2f}", ""),
        ("  the same, run by run × curl (median)", "", "", f"{e2e_pair:.2f}", ""),
        (
            "ours, 8 connections from the start: end to end",
            f"{at_once_e2e:.2f}",
            f"{gib / at_once_e2e:.2f}",
            f"{curl_s / at_once_e2e:.2f}",
            f"{median([o[2] for o in at_once]):.2f}",
        ),
        (
            "ours, a request per piece (session 5): end to end",
            f"{per_piece_e2e:.2f}",
            f"{gib / per_piece_e2e:.2f}",
            f"{curl_s / per_piece_e2e:.2f}",
            f"{median([o[2] for o in per_piece]):.2f}",
        ),
        (
            "ours, one stream: end to end",
            f"{single_e2e:.2f}",
            f"{gib / single_e2e:.2f}",
            f"{curl_s / single_e2e:.2f}",
            f"{median([o[2] for o in single]):.2f}",
        ),
        ("curl + sha256sum + mv (median of 3)", f"{curl_whole:.2f}", f"{gib / curl_whole:.2f}", "", ""),
        ("ours end to end × (curl + sha256sum + mv)", "", "", f"{curl_whole / e2e_s:.2f}", ""),
        (
            f"ours via the UI (median of {UI_RUNS})",
            f"{ui['seconds']:.2f}",
            f"{gib / ui['seconds']:.2f}",
            f"{curl_s / ui['seconds']:.2f}",
            "",
        ),
    ]
    second_e2e = median([o[1] for o in second_pass])
    rows.append(
        (
            "ours: sha256 as a second pass",
            f"{second_e2e:.2f}",
            f"{gib / second_e2e:.2f}",
            f"{curl_s / second_e2e:.2f}",
            "",
        )
    )
    print(f"1 GiB from the fake Hub (sha256 {remote.checksum.hexdigest[:12]}…), median of {RUNS} interleaved runs")
    load_end = os.getloadavg()[0]
    print(f"machine load average: {load_start:.1f} at the start, {load_end:.1f} at the end, {os.cpu_count()} CPUs")
    print(f"connections the ramp chose (per run): {[o[3] for o in ours]}")
    print_table(("client", "seconds", "GiB/s", "× curl", "CPU s"), rows)
    print()
    t = throttled
    t_mib = THROTTLED_SIZE >> 20
    print(f"{t_mib} MiB at {THROTTLE / 1e6:g} MB/s per connection, ours with the default segments")
    print_table(
        ("client", "seconds", "MB/s", "× curl", "× curl+sha256+mv"),
        [
            ("curl, one stream", f"{t['curl']:.2f}", f"{THROTTLED_SIZE / t['curl'] / 1e6:.1f}", "1.00", ""),
            (
                "curl + sha256sum + mv",
                f"{t['curl_whole']:.2f}",
                f"{THROTTLED_SIZE / t['curl_whole'] / 1e6:.1f}",
                "",
                "1.00",
            ),
            *(
                (
                    label,
                    f"{t[key]:.2f}",
                    f"{THROTTLED_SIZE / t[key] / 1e6:.1f}",
                    f"{t['curl'] / t[key]:.2f}",
                    f"{t['curl_whole'] / t[key]:.2f}",
                )
                for label, key in (
                    ("ours: to the last byte", "ours_transfer"),
                    ("ours: verified, renamed (whole)", "ours_whole"),
                    ("ours: sha256 as a second pass", "ours_second_pass"),
                )
            ),
        ],
    )
    print()
    far_mib = FAR_SIZE >> 20
    print(f"{far_mib} MiB from a server {FAR_LATENCY * 1000:g} ms away per request, median of {FAR_RUNS}")
    print_table(
        ("client", "seconds", "MB/s", "× a request per piece"),
        [
            (
                "ours: runs of pieces on a fast link",
                f"{far['ours_whole']:.2f}",
                f"{FAR_SIZE / far['ours_whole'] / 1e6:.1f}",
                f"{far['per_piece_whole'] / far['ours_whole']:.2f}",
            ),
            (
                "ours, a request per piece (session 5)",
                f"{far['per_piece_whole']:.2f}",
                f"{FAR_SIZE / far['per_piece_whole'] / 1e6:.1f}",
                "1.00",
            ),
        ],
    )
    print()
    print_table(
        ("UI measure", "value", "target"),
        [
            ("event-loop stall, max of all runs", f"{ui['max_stall_ms']:.1f} ms", "≤ 50 ms"),
            ("event-loop stall, p99 (worst run)", f"{ui['p99_stall_ms']:.1f} ms", ""),
            ("RSS growth while downloading (worst)", f"{ui['rss_growth_mb']:.1f} MB", "≤ 100 MB"),
            ("connections at once (fewest of all runs)", str(ui["segments"]), "8"),
        ],
    )
    path = write_results(
        "download",
        {
            "size_bytes": SIZE,
            "runs": RUNS,
            "load_average": os.getloadavg()[0],
            "load_average_start": load_start,
            "curl": [{"seconds": t, "cpu_seconds": c} for t, c in curl],
            "ours": [
                {"transfer_seconds": t, "end_to_end_seconds": e, "cpu_seconds": c, "connections": n}
                for t, e, c, n in ours
            ],
            "all_connections_at_once": [
                {"transfer_seconds": t, "end_to_end_seconds": e, "cpu_seconds": c} for t, e, c, _ in at_once
            ],
            "ratio_end_to_end_vs_curl_paired": e2e_pair,
            "ratio_transfer_vs_curl": pair_ratio,
            "ratio_end_to_end_vs_curl": curl_s / e2e_s,
            "curl_sha256_mv_seconds": curl_whole,
            "request_per_piece": [
                {"transfer_seconds": t, "end_to_end_seconds": e, "cpu_seconds": c, "connections": n}
                for t, e, c, n in per_piece
            ],
            "one_stream": [{"transfer_seconds": t, "end_to_end_seconds": e, "cpu_seconds": c} for t, e, c, _ in single],
            "ratio_end_to_end_one_stream_vs_curl": curl_s / single_e2e,
            "ratio_end_to_end_vs_curl_sha256_mv": curl_whole / e2e_s,
            "second_pass": [
                {"transfer_seconds": t, "end_to_end_seconds": e, "cpu_seconds": c} for t, e, c, _ in second_pass
            ],
            "ratio_end_to_end_second_pass_vs_curl": curl_s / second_e2e,
            "throttled": {
                "size_bytes": THROTTLED_SIZE,
                "bytes_per_second_per_connection": THROTTLE,
                **throttled,
                "ratio_whole_vs_curl": throttled["curl"] / throttled["ours_whole"],
                "ratio_whole_vs_curl_sha256_mv": throttled["curl_whole"] / throttled["ours_whole"],
            },
            "far": {"size_bytes": FAR_SIZE, "latency_seconds": FAR_LATENCY, **far},
            "ui": ui,
            "targets": {"ratio": 1.0, "throttled_ratio": 5.0, "rss_growth_mb": 100, "max_stall_ms": 50},
        },
    )
    print(f"\nwrote {path}")
    verdicts = [
        ("unthrottled end to end ≥ 1.0× curl", curl_s / e2e_s, 1.0, "×"),
        (
            f"{far_mib} MiB {FAR_LATENCY * 1000:g} ms away: runs no slower than a request per piece (≥ 0.95×)",
            far["per_piece_whole"] / far["ours_whole"],
            0.95,
            "×",
        ),
        (f"{t_mib} MiB at {THROTTLE / 1e6:g} MB/s per connection ≥ 5× curl", t["curl"] / t["ours_whole"], 5.0, "×"),
    ]
    print()
    for label, value, target, unit in verdicts:
        print(f"{'PASS' if value >= target else 'FAIL'}  {label}: {value:.2f}{unit}")
    for label, value, limit, unit in (
        ("event-loop stall ≤ 50 ms with 8 connections", ui["max_stall_ms"], 50.0, " ms"),
        ("RSS growth ≤ 100 MB", ui["rss_growth_mb"], 100.0, " MB"),
    ):
        print(f"{'PASS' if value <= limit else 'FAIL'}  {label}: {value:.1f}{unit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
