"""The API server beside llama.cpp's llama-server, same model (Gemma 3 270M Q4_K_M), same threads, same slots:

- single-stream decode tok/s (target: ours >= 0.95 x llama-server),
- aggregate decode tok/s of 4 concurrent streams (target >= 0.9 x llama-server with 4 slots),
- time to first token for a 512-token prompt (target <= 1.1 x),
- and, as a check that survives a busy machine, generated tokens per CPU-second of each server's processes.

Both servers run as their own processes and are measured the same way, from the client side, through
/v1/completions streamed (temperature 0, usage from `stream_options.include_usage`). Decode rate of a
stream = (completion tokens - 1) / (last chunk - first chunk); aggregate = all completion tokens / (last
chunk of any stream - first chunk of any). Each prompt starts with a distinct number, so neither server
reuses a cached prefix. llama-server is built once from the pinned llama.cpp (benchmarks/_llama_server.py).
Runs alternate between the servers and the best of N is compared (other work on a shared machine only
ever slows a run down); every run is in the JSON, with the load average before and after each figure.
`ours-nice5` is our server with its engines 5 nice steps down, as the app's Server page runs them
(app.server.config.GUI_ENGINE_NICE): its decode figures show what the lower priority costs when nothing
else wants the CPU. Each target prints PASS or FAIL.
Run: PYTHONPATH=. .venv/bin/python benchmarks/server.py [--threads T] [--runs N] [--only single,aggregate,ttft]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import print_table, write_results
from _llama_server import llama_server_binary

MODEL_ID = "bench/gemma-3-270m"
SLOTS = 4
CTX_PER_SLOT = 2048
MAX_TOKENS = 128
LONG_PROMPT_TOKENS = 512
SERVE = "--serve-ours"  # internal: this script runs our server in a child process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], limit: float = 300.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited ({proc.returncode})")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} never became healthy")


def serve_ours(port: int, library: str, threads: int, parallel: int, nice: int = 0) -> None:
    """The child: our server in the foreground, on `library`, with the engine settings of the comparison."""
    from app.chat.protocol import EngineSettings
    from app.server.config import ServerConfig
    from app.server.runner import make_state, uvicorn_server

    engine = EngineSettings(n_ctx=CTX_PER_SLOT, n_threads=threads, n_batch=512, n_parallel=parallel)
    config = ServerConfig(port=port, folders=(Path(library),), engine=engine, models_ttl=0, engine_nice=nice)
    uvicorn_server(make_state(config, None)).run()


class Server:
    def __init__(self, name: str, cmd: list[str], port: int, model: str) -> None:
        self.name, self.port, self.model = name, port, model
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_healthy(self.url, self.proc)
        stream(self, "Warm-up.", 4)  # loads the model (ours loads on the first request)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def stream(server: Server, prompt: str, max_tokens: int) -> dict[str, float]:
    """One streamed completion: start, first and last chunk times and the completion tokens."""
    body = json.dumps({
        "model": server.model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "stream": True,
        "stream_options": {"include_usage": True},
    }).encode()
    request = urllib.request.Request(f"{server.url}/v1/completions", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    first = last = 0.0
    tokens = 0
    with urllib.request.urlopen(request, timeout=600) as response:
        for raw in response:
            line = raw.decode().strip()
            if not line.startswith("data:") or line == "data: [DONE]":
                continue
            data = json.loads(line[5:])
            if data.get("usage"):
                tokens = int(data["usage"]["completion_tokens"])
            if any(choice.get("text") for choice in data.get("choices") or []):
                now = time.perf_counter()
                first = first or now
                last = now
    return {"start": started, "first": first, "last": last, "tokens": tokens}


def story(i: int) -> str:
    return f"{i}. Once upon a time, in a village by the sea, there lived an old sailor who"


def single(server: Server, run: int) -> float:
    r = stream(server, story(1000 + run), MAX_TOKENS)
    return (r["tokens"] - 1) / (r["last"] - r["first"])


def cpu_seconds(server: Server) -> float:
    """User + system CPU time of the server and its children (our engine runs in a child process)."""
    import psutil

    root = psutil.Process(server.proc.pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def tokens_per_cpu_second(server: Server, run: int) -> float:
    """Generated tokens per CPU-second of the whole server for one 128-token stream (prompt included): what
    a run costs, which other work on a shared machine changes far less than its wall time."""
    before = cpu_seconds(server)
    r = stream(server, story(4000 + run), MAX_TOKENS)
    return r["tokens"] / (cpu_seconds(server) - before)


def concurrent(server: Server, run: int) -> float:
    with ThreadPoolExecutor(SLOTS) as pool:
        results = list(pool.map(lambda i: stream(server, story(2000 + 10 * run + i), MAX_TOKENS), range(SLOTS)))
    tokens = sum(r["tokens"] for r in results)
    return tokens / (max(r["last"] for r in results) - min(r["first"] for r in results))


def ttft(server: Server, run: int, prompt_words: int) -> float:
    words = " ".join(f"river{k % 97}" for k in range(prompt_words))
    r = stream(server, f"{3000 + run}: {words}", 1)
    return r["first"] - r["start"]


def prompt_words_for(server: Server) -> tuple[int, int]:
    """Words of the TTFT prompt that make it LONG_PROMPT_TOKENS tokens (llama-server's /tokenize)."""
    def count(n: int) -> int:
        words = " ".join(f"river{k % 97}" for k in range(n))
        body = json.dumps({"content": f"3000: {words}", "add_special": True}).encode()
        request = urllib.request.Request(f"{server.url}/tokenize", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return len(json.loads(response.read())["tokens"])

    n = LONG_PROMPT_TOKENS // 2
    while count(n) < LONG_PROMPT_TOKENS:
        n += 8
    while count(n) > LONG_PROMPT_TOKENS:
        n -= 1
    return n, count(n)


def load_average() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def best_of(runs: int, servers: list[Server], measure: Callable[[Server, int], float]) -> dict[str, Any]:
    values: dict[str, Any] = {s.name: [] for s in servers}
    values["load_before"] = load_average()
    for run in range(runs):
        for server in servers:  # alternating, so a busy moment of the machine hits both
            values[server.name].append(measure(server, run))
    values["load_after"] = load_average()
    return values


TARGETS = {  # figure prefix -> (ours / llama-server must be at least (+1) or at most (-1) this)
    "single_stream_decode_tok_s": (+1, 0.95),
    "aggregate_decode_4_streams_tok_s": (+1, 0.9),
    "ttft_": (-1, 1.1),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="single,cpu,aggregate,ttft",
                        help="comma-separated figures: single, cpu, aggregate, ttft")
    args = parser.parse_args()
    only = set(args.only.split(","))
    from tests.support.models import gemma_path

    model = gemma_path()
    binary = llama_server_binary()
    library = Path(tempfile.mkdtemp(prefix="bench-server-"))
    (library / "bench").mkdir()
    (library / "bench" / "gemma-3-270m.gguf").symlink_to(model)
    t = str(args.threads)
    servers: list[Server] = []
    try:
        port = free_port()
        servers.append(Server("llama-server", [str(binary), "-m", str(model), "--host", "127.0.0.1", "--port",
                                               str(port), "-t", t, "-tb", t, "-c", str(CTX_PER_SLOT * SLOTS),
                                               "-np", str(SLOTS), "--no-webui"], port, MODEL_ID))
        port = free_port()
        servers.append(Server("ours", [sys.executable, __file__, SERVE, str(port), str(library), t, str(SLOTS)],
                              port, MODEL_ID))
        port = free_port()  # the default --parallel 1: one sequence, the engine's single-stream path
        single_slot = Server("ours-parallel-1", [sys.executable, __file__, SERVE, str(port), str(library), t, "1"],
                             port, MODEL_ID)
        servers.append(single_slot)
        nicer: list[Server] = []
        if only & {"single", "aggregate"}:
            port = free_port()  # as the Server page runs it: engines below the app's priority
            nicer.append(Server("ours-nice5", [sys.executable, __file__, SERVE, str(port), str(library), t,
                                               str(SLOTS), "5"], port, MODEL_ID))
            servers.extend(nicer)
        pair = servers[:2]
        words, n_tokens = prompt_words_for(servers[0])
        measures: dict[str, tuple[str, list[Server], Callable[[Server, int], float]]] = {
            "single": ("single_stream_decode_tok_s", servers, single),
            "cpu": ("single_stream_tokens_per_cpu_second", servers[:3], tokens_per_cpu_second),
            "aggregate": ("aggregate_decode_4_streams_tok_s", pair + nicer, concurrent),
            "ttft": (f"ttft_{n_tokens}_token_prompt_s", servers[:3], lambda s, r: ttft(s, r, words)),
        }
        figures = {name: best_of(args.runs, who, measure)
                   for key, (name, who, measure) in measures.items() if key in only}
    finally:
        for server in servers:
            server.close()
    rows = []
    summary: dict[str, Any] = {}
    verdicts: list[str] = []
    for name, values in figures.items():
        lower = name.startswith("ttft")
        pick = min if lower else max
        theirs = pick(values["llama-server"])
        load = f"{values['load_before']} -> {values['load_after']}"
        for who in [w for w in values if w not in ("llama-server", "load_before", "load_after")]:
            ours = pick(values[who])
            ratio = ours / theirs
            summary.setdefault(name, {"llama-server": theirs, "runs": values})[who] = {"value": ours, "ratio": ratio}
            rows.append((f"{name} ({who})", f"{ours:.3f}", f"{theirs:.3f}", f"{ratio:.2f}x", load))
            target = next((t for prefix, t in TARGETS.items() if name.startswith(prefix)), None)
            if target is not None and who == "ours":
                sign, bound = target
                ok = ratio * sign >= bound * sign
                summary[name]["pass"] = ok
                verdicts.append(f"{'PASS' if ok else 'FAIL'}: {name} ours/llama-server {ratio:.2f}x "
                                f"(target {'>=' if sign > 0 else '<='} {bound}; load average {load})")
    print(f"Gemma 3 270M Q4_K_M, {args.threads} threads, {SLOTS} slots of {CTX_PER_SLOT} tokens, best of {args.runs}")
    print_table(["figure", "ours", "llama-server", "ours / llama-server", "load average (1, 5, 15 min)"], rows)
    for verdict in verdicts:
        print(verdict)
    name = "server" if len(only) == 4 else "server-" + "-".join(sorted(only))  # a partial run keeps the full one
    path = write_results(name, {"threads": args.threads, "slots": SLOTS, "runs": args.runs, "figures": summary})
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == SERVE:
        serve_ours(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]),
                   int(sys.argv[6]) if len(sys.argv) > 6 else 0)
    else:
        sys.exit(main())
