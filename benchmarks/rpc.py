"""What an RPC pool costs, on Gemma 3 270M Q4_K_M: model-load time, prompt and decode tokens/s through our
engine process, locally and over one and two loopback RPC workers (`gguf-studio rpc-worker`'s process).

Loopback shows the protocol's own overhead; a real LAN adds its latency per token (users report 3-50 %
slower decode over 1-2.5 GbE). The local run keeps weight repacking off, as a pool's workers compute
without it, so the columns compare the same kernels. Best of N (other work shares the cores).
Run: PYTHONPATH=. .venv/bin/python benchmarks/rpc.py
"""

from __future__ import annotations

import dataclasses
import socket
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import print_table, write_results

THREADS = 2
REPEATS = 3
GEN_TOKENS = 64
PROMPT = "Write a long story about a lighthouse keeper who finds a message in a bottle. " * 8


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(model: str, settings: Any) -> dict[str, float]:
    from app.chat import protocol as p
    from app.chat.client import EngineClient

    with EngineClient() as client:
        started = time.perf_counter()
        client.load(model, settings)
        load_s = time.perf_counter() - started
        done = client.generate(prompt=PROMPT, sampling=p.Sampling(temperature=0.0, max_tokens=GEN_TOKENS))
    s = done.stats
    # Prompt speed from the time to the first token: with RPC, llama_decode returns before the workers have
    # computed (the graph is sent asynchronously), so the engine's own prompt timing would flatter a pool.
    return {"load_s": load_s, "prompt_tps": s.prompt_evaluated / s.ttft_seconds, "decode_tps": s.tokens_per_second,
            "prompt_tokens": s.prompt_evaluated, "generated": s.generated_tokens}


def main() -> int:
    from app.chat import protocol as p
    from app.remote.ggml_backend import rpc_supported
    from app.remote.worker import WorkerProcess
    from tests.support.models import gemma_path

    if not rpc_supported():
        print("llama.cpp built without GGML_RPC: nothing to measure", file=sys.stderr)
        return 1
    model = str(gemma_path())
    workers = [WorkerProcess("127.0.0.1", _port(), threads=THREADS) for _ in range(2)]
    for worker in workers:
        worker.start()
    base = p.EngineSettings(n_ctx=2048, n_threads=THREADS, repack=False)
    setups = {
        "local": base,
        "1 worker": dataclasses.replace(base, n_gpu_layers=999, rpc_workers=(workers[0].endpoint,)),
        "2 workers": dataclasses.replace(base, n_gpu_layers=999, rpc_workers=tuple(w.endpoint for w in workers)),
    }
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in setups}
    try:
        for _ in range(REPEATS):  # interleaved, so a busy moment of the machine hits every setup alike
            for name, settings in setups.items():
                runs[name].append(_run(model, settings))
    finally:
        for worker in workers:
            worker.stop()
    best = {name: {"load_s": min(r["load_s"] for r in rs), "prompt_tps": max(r["prompt_tps"] for r in rs),
                   "decode_tps": max(r["decode_tps"] for r in rs)} for name, rs in runs.items()}
    local = best["local"]
    rows = [[name, f"{b['load_s']:.2f}", f"{b['prompt_tps']:.0f}", f"{b['decode_tps']:.1f}",
             f"{b['decode_tps'] / local['decode_tps']:.2f}x"] for name, b in best.items()]
    print_table(["setup", "load s", "prompt tok/s", "decode tok/s", "decode vs local"], rows)
    path = write_results("rpc", {"threads": THREADS, "generated_tokens": GEN_TOKENS, "best": best, "runs": runs})
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
