"""Run the fake Hub by hand: `python -m tests.fakehub [--port N] [--latency S] [--gemma]`.

Prints the URL to use as HF_ENDPOINT, e.g. for a README screenshot of Discover:

    python -m tests.fakehub --port 8765 &
    HF_ENDPOINT=http://127.0.0.1:8765 gguf-studio screenshot --page discover --out discover.png
"""

from __future__ import annotations

import argparse
import signal
import threading

from tests.fakehub.catalogue import build_default_catalogue
from tests.fakehub.server import FakeHub


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakehub", description="serve the fake Hugging Face Hub")
    parser.add_argument("--port", type=int, default=0, help="port of the Hub (default: any free port)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    parser.add_argument("--gemma", action="store_true", help="also serve the real Gemma 3 270M file")
    args = parser.parse_args()
    gemma = None
    if args.gemma:
        from tests.support.models import gemma_path

        gemma = gemma_path()
    hub = build_default_catalogue(FakeHub(), gemma=gemma)
    hub.start(port=args.port)
    hub.latency = args.latency
    print(hub.url, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    hub.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
