"""Upload throughput of `publish` (app.share.publish: access check, card, hashing, LFS upload, commit) beside a
plain `huggingface_hub.HfApi.upload_file` of the same bytes, both to the local fake Hub (LFS path, multipart).

Each run gets a fresh fake Hub in its own process (so nothing is already stored and the server does not share
this process's interpreter lock) and an empty app cache (publish's sha256 cache starts cold, as the plain
upload's hashing does). The file is the real Gemma 3 270M Q4_K_M (253 MB). Runs alternate; medians reported.

Target: publish throughput >= 0.9x the plain upload's.
Usage: PYTHONPATH=. .venv/bin/python benchmarks/publish.py [--runs N]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import median, print_table, write_results

TARGET_RATIO = 0.9
TOKEN = "hf_bench_writer"


def _serve(conn: Connection) -> None:
    from tests.fakehub.server import FakeHub

    hub = FakeHub()
    hub.add_token(TOKEN, "bench", role="write")
    hub.start()
    conn.send(hub.url)
    conn.recv()  # until the parent says stop
    hub.stop()


class _Hub:
    def __enter__(self) -> str:
        self._conn, child = mp.Pipe()
        self._proc = mp.get_context("spawn").Process(target=_serve, args=(child,), daemon=True)
        self._proc.start()
        url: str = self._conn.recv()
        return url

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        self._proc.join(10)


def _plain(url: str, path: Path, repo: str) -> float:
    from huggingface_hub import HfApi

    api = HfApi(endpoint=url, token=TOKEN)
    start = time.perf_counter()
    api.create_repo(repo)
    api.upload_file(path_or_fileobj=str(path), path_in_repo=path.name, repo_id=f"bench/{repo}")
    return time.perf_counter() - start


def _publish(url: str, path: Path, repo: str) -> float:
    from app.share.publish import PublishRequest, publish

    start = time.perf_counter()
    publish(PublishRequest((path,), f"bench/{repo}"), token=TOKEN)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from huggingface_hub import constants
    from huggingface_hub.utils import disable_progress_bars

    from tests.support.models import gemma_path

    constants.HF_HUB_DISABLE_XET = True  # the fake Hub speaks the LFS protocol, not Xet's
    disable_progress_bars()
    path = gemma_path()
    size = path.stat().st_size
    plain: list[float] = []
    ours: list[float] = []
    for run in range(args.runs):
        for name, fn, times in (("plain", _plain, plain), ("publish", _publish, ours)):
            with tempfile.TemporaryDirectory() as home, _Hub() as url:
                os.environ["GGUF_STUDIO_HOME"] = home
                os.environ["HF_ENDPOINT"] = url
                times.append(fn(url, path, f"run{run}-{name}"))
    mb = size / 1e6
    plain_rate, our_rate = mb / median(plain), mb / median(ours)
    ratio = our_rate / plain_rate
    rows = [
        (label, f"{median(times):.2f}", f"{mb / median(times):.0f}", ", ".join(f"{t:.2f}" for t in times))
        for label, times in (("huggingface_hub upload_file", plain), ("gguf-studio publish", ours))
    ]
    print(f"{path.name}: {mb:.0f} MB, {args.runs} runs each, fresh fake Hub per run\n")
    print_table(("upload", "median s", "MB/s", "runs (s)"), rows)
    verdict = "ok" if ratio >= TARGET_RATIO else "BELOW TARGET"
    print(f"\npublish / plain throughput: {ratio:.2f} (target >= {TARGET_RATIO}) {verdict}")
    out = write_results(
        "publish",
        {
            "file": path.name,
            "bytes": size,
            "plain_s": plain,
            "publish_s": ours,
            "plain_mb_s": plain_rate,
            "publish_mb_s": our_rate,
            "ratio": ratio,
            "target_ratio": TARGET_RATIO,
        },
    )
    print(f"results: {out}")
    return 0 if ratio >= TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
