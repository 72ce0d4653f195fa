"""Chat speed on Gemma 3 270M Q4_K_M with 2 threads, one run of this script:

- generation tokens/s through our engine process (stats from the engine, and as seen by the client),
  and through the GUI path (ChatPage) when it can be built,
- beside a bare low-level decode loop (llama-bench equivalent: native greedy sampler chain + one-token
  decode, nothing else per token) and llama-cpp-python's create_completion(stream=True);
- time to first token at turn 10 vs turn 1 of a conversation (KV cache reuse);
- the longest Qt event-loop stall while the chat page streams.

Targets: engine >= 0.90 x raw; TTFT turn 10 <= 1.5 x turn 1; stall <= 50 ms; Stop -> Done <= 200 ms.
Raw and engine runs alternate and the best of N is compared (other sessions share this machine's cores;
they only ever slow a run down); medians and every run are in the JSON.
Run: PYTHONPATH=. .venv/bin/python benchmarks/chat_speed.py
"""

from __future__ import annotations

import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import print_table, write_results

THREADS = 2
N_CTX = 2048
GEN_TOKENS = 128
HL_TOKENS = 48
GUI_TOKENS = 256  # create_completion is slow; fewer tokens keep the run short
REPEATS = 5
PROMPT = "Write a long story about a lighthouse keeper who finds a message in a bottle."


class RawLoop:
    """The leanest loop over the low-level API (llama-bench's tg equivalent): native greedy sampler chain
    and a one-token decode per token, nothing else. Same context parameters as our engine."""

    def __init__(self, model_path: str) -> None:
        import llama_cpp as L

        from app.chat.engine_core import OUTPUTS_MAX
        from app.process import native_log

        native_log.install()
        L.llama_backend_init()
        self.L = L
        self.model = L.llama_model_load_from_file(model_path.encode(), L.llama_model_default_params())
        cparams = L.llama_context_default_params()
        cparams.n_ctx, cparams.n_batch, cparams.n_ubatch = N_CTX, 512, 512
        cparams.n_threads = cparams.n_threads_batch = THREADS
        cparams.swa_full = False
        cparams.n_outputs_max = OUTPUTS_MAX
        cparams.no_perf = True
        self.ctx = L.llama_init_from_model(self.model, cparams)
        vocab = L.llama_model_get_vocab(self.model)
        data = PROMPT.encode()
        self.tokens = (L.llama_token * 256)()
        self.n = L.llama_tokenize(vocab, data, len(data), self.tokens, 256, True, True)
        self.chain = L.llama_sampler_chain_init(L.llama_sampler_chain_default_params())
        L.llama_sampler_chain_add(self.chain, L.llama_sampler_init_greedy())

    def run(self) -> float:
        L, ctx, chain = self.L, self.ctx, self.chain
        one = (L.llama_token * 1)()
        L.llama_memory_clear(L.llama_get_memory(ctx), True)
        L.llama_decode(ctx, L.llama_batch_get_one(self.tokens, self.n))
        token = L.llama_sampler_sample(chain, ctx, -1)
        started = time.perf_counter()
        for _ in range(GEN_TOKENS - 1):
            one[0] = token
            L.llama_decode(ctx, L.llama_batch_get_one(one, 1))
            token = L.llama_sampler_sample(chain, ctx, -1)
        return (GEN_TOKENS - 1) / (time.perf_counter() - started)

    def close(self) -> None:
        self.L.llama_sampler_free(self.chain)
        self.L.llama_free(self.ctx)
        self.L.llama_model_free(self.model)


def engine_run(client: Any, sampling: Any = None) -> tuple[float, float]:
    """One raw-prompt generation (greedy unless `sampling`) through the engine process:
    (engine-side, client-side) tokens/s."""
    from app.chat import protocol as p

    sampling = sampling or p.Sampling(temperature=0, max_tokens=GEN_TOKENS)
    first_at = 0.0
    done: p.Done | None = None
    for event in client.stream(prompt=PROMPT, sampling=sampling):
        if isinstance(event, p.Token):
            if not first_at:
                first_at = time.perf_counter()
        else:
            done = event
    ended = time.perf_counter()
    assert done is not None
    # Text arrives in ~30 ms batches: the rate runs from the first text to the end, over the tokens after it.
    return done.stats.tokens_per_second, (done.stats.generated_tokens - 1) / (ended - first_at)


def raw_and_engine(model_path: str) -> dict[str, Any]:
    """Raw loop and engine runs alternate, so a busy machine slows both alike; medians are reported."""
    from app.chat import protocol as p
    from app.chat.client import EngineClient

    raw = RawLoop(model_path)
    raw_rates, engine_rates, client_rates = [], [], []
    with EngineClient() as client:
        client.load(model_path, p.EngineSettings(n_ctx=N_CTX, n_threads=THREADS))
        raw.run()  # warm-up of both
        engine_run(client)
        for _ in range(REPEATS):
            raw_rates.append(raw.run())
            engine_tps, client_tps = engine_run(client)
            engine_rates.append(engine_tps)
            client_rates.append(client_tps)
        turns = conversation_ttft(client)
        stop_ms = stop_latency(client)
    raw.close()
    # Other work on a shared machine only ever slows a run down: the best of N is the closest to an
    # undisturbed run, for both sides alike (medians are kept in the JSON too).
    return {
        "raw_tps": max(raw_rates), "engine_tps": max(engine_rates), "client_tps": max(client_rates),
        "raw_median": statistics.median(raw_rates), "client_median": statistics.median(client_rates),
        "turns": turns, "raw_runs": raw_rates, "client_runs": client_rates, "stop_ms": stop_ms,
    }


def stop_latency(client: Any) -> list[float]:
    """Milliseconds from Stop sent (mid-generation) to the Done event, over a few tries."""
    from app.chat import protocol as p

    results = []
    for _ in range(3):
        stream = client.stream(prompt=PROMPT, sampling=p.Sampling(temperature=0.8, seed=1, max_tokens=400))
        next(stream)  # some text has arrived: generation is under way
        sent = time.perf_counter()
        client.stop()
        for _event in stream:
            pass
        results.append((time.perf_counter() - sent) * 1000)
    return results


def conversation_ttft(client: Any, passes: int = 2) -> list[dict[str, float]]:
    """Ten turns of a templated conversation, `passes` times with different system prompts (so no pass
    starts from another's cache); per turn the fastest pass is kept, as for the throughput figures."""
    systems = ("You are a helpful assistant.", "Answer like a patient teacher would.", "Be brief and exact.")
    runs = [one_conversation(client, systems[n % len(systems)]) for n in range(passes)]
    return [min(turn_runs, key=lambda t: t["ttft_ms"]) for turn_runs in zip(*runs, strict=True)]


def one_conversation(client: Any, system: str) -> list[dict[str, float]]:
    """TTFT as the client sees it (request sent -> first text) for each of ten turns."""
    from app.chat import protocol as p

    messages = [p.ChatMessage("system", system)]
    questions = [f"Tell me one fact about the number {i}, in two sentences." for i in range(1, 11)]
    turns = []
    for question in questions:
        messages.append(p.ChatMessage("user", question))
        sent = time.perf_counter()
        first = 0.0
        for event in client.stream(messages, template="gemma", sampling=p.Sampling(temperature=0, max_tokens=48)):
            if isinstance(event, p.Token) and not first:
                first = time.perf_counter()
            elif isinstance(event, p.Done):
                done = event
        first = first or time.perf_counter()
        messages.append(p.ChatMessage("assistant", done.text))
        turns.append({
            "ttft_ms": (first - sent) * 1000,
            "engine_ttft_ms": done.stats.ttft_seconds * 1000,
            "prompt_tokens": done.stats.prompt_tokens,
            "evaluated": done.stats.prompt_evaluated,
        })
    return turns


# Sampled generation, the way a chat runs (llama-cpp-python's create_completion defaults are close to this).
SAMPLED: dict[str, Any] = {"temperature": 0.8, "top_k": 40, "top_p": 0.95, "min_p": 0.05, "repeat_penalty": 1.1}


def high_level_stream(model_path: str) -> dict[str, float]:
    """llama-cpp-python's create_completion(stream=True): greedy, and sampled with SAMPLED."""
    from llama_cpp import Llama

    llm = Llama(model_path=model_path, n_ctx=N_CTX, n_threads=THREADS, n_threads_batch=THREADS, verbose=False)
    rates = {}
    greedy: dict[str, Any] = {"temperature": 0.0}
    runs = (("greedy", greedy), ("sampled", {**SAMPLED, "seed": 1}))
    for name, params in runs:
        first_at = 0.0
        count = 0
        for _chunk in llm.create_completion(PROMPT, max_tokens=HL_TOKENS, stream=True, **params):
            count += 1
            if not first_at:
                first_at = time.perf_counter()
        rates[name] = (count - 1) / (time.perf_counter() - first_at)
    del llm
    return rates


def engine_sampled(model_path: str) -> float:
    """Best of 3 sampled generations (SAMPLED) through the engine process, tokens/s as the client sees them."""
    from app.chat import protocol as p
    from app.chat.client import EngineClient

    sampling = p.Sampling(max_tokens=GEN_TOKENS, seed=1, **SAMPLED)
    rates = []
    with EngineClient() as client:
        client.load(model_path, p.EngineSettings(n_ctx=N_CTX, n_threads=THREADS))
        for _ in range(3):
            rates.append(engine_run(client, sampling)[1])
    return max(rates)


def gui_path(model_path: str) -> dict[str, Any]:
    """The GUI measurement in a process of its own, like the app: Qt and the engine process, no llama.cpp
    in the GUI process (the benchmark's own process holds llama-cpp-python's high-level Llama and the raw
    loop; with a Qt page beside them the interpreter once crashed at exit in bool_dealloc)."""
    import json
    import subprocess

    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    result = subprocess.run([sys.executable, __file__, "--gui-only", model_path], capture_output=True, text=True,
                            env=env, timeout=900, check=True)
    measured: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def gui_measure(model_path: str) -> dict[str, Any]:
    """Streams through the chat page (offscreen). Tokens/s as the page receives them, and the longest gap
    between ticks of a 5 ms timer while streaming (the event loop's worst stall, markdown painting included)."""
    import dataclasses

    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from app.chat import protocol as p
    from app.core.settings import Settings
    from app.ui.context import AppContext
    from app.ui.pages.chat import ChatPage

    # The page keeps a history: a throwaway home, never the user's real one.
    os.environ["GGUF_STUDIO_HOME"] = tempfile.mkdtemp(prefix="chat-bench-")
    app = QApplication.instance() or QApplication([])
    page = ChatPage(AppContext.create(Settings()))
    page.resize(1100, 750)
    page.show()

    def wait_for(signal: Any, timeout_ms: int = 120_000) -> None:
        loop = QEventLoop()
        signal.connect(loop.quit)
        QTimer.singleShot(timeout_ms, loop.quit)
        loop.exec()

    page.load_model(model_path, p.EngineSettings(n_ctx=N_CTX, n_threads=THREADS))
    wait_for(page.modelLoaded)
    page.template.setCurrentIndex(page.template.findData("raw"))
    page.preset.setCurrentText("Greedy")
    page.prefs = dataclasses.replace(page.prefs, max_tokens=GUI_TOKENS)
    arrivals: list[float] = []  # Token and Done events as the GUI thread receives them
    page.engine.received.connect(
        lambda e: arrivals.append(time.perf_counter()) if isinstance(e, (p.Token, p.Done)) else None)
    ticks: list[float] = []
    ticker = QTimer()
    ticker.setInterval(5)
    ticker.timeout.connect(lambda: ticks.append(time.perf_counter()))

    def reply(probe: bool) -> tuple[float, float]:
        """One reply in a new chat: (tokens/s as received, longest stall if probing)."""
        arrivals.clear()
        ticks.clear()
        page.new_conversation()
        if probe:
            ticker.start()
        page.input.setPlainText(PROMPT)
        page.send()
        wait_for(page.replyFinished)
        ticker.stop()
        assert page.last_stats is not None
        start, end = arrivals[0], arrivals[-1]
        window = [t for t in ticks if start <= t <= end]
        stall = max((b - a for a, b in itertools.pairwise(window)), default=0.0)
        tokens = page.last_stats.generated_tokens
        return ((tokens - 1) / (end - start) if tokens > 1 else 0.0), stall

    # The 5 ms probe timer wakes the GUI thread 200 times a second, competing with the engine for the
    # cores: throughput is measured in replies without it, the stall in replies with it.
    rates = [reply(probe=False)[0] for _ in range(3)]
    stalls = [reply(probe=True)[1] for _ in range(2)]
    page.shutdown()
    app.processEvents()
    return {"tps": max(rates), "tps_runs": rates, "stall_ms": min(stalls) * 1000,
            "stall_runs_ms": [s * 1000 for s in stalls]}


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from tests.support.models import gemma_path

    model = str(gemma_path())
    engine = raw_and_engine(model)
    raw = engine["raw_tps"]
    hl = high_level_stream(model)
    sampled = engine_sampled(model)
    gui = gui_path(model)
    turns = engine["turns"]
    ttft1, ttft10 = turns[0]["ttft_ms"], turns[-1]["ttft_ms"]
    rows: list[list[object]] = [
        ["raw low-level loop (llama-bench equivalent)", f"{raw:.1f}", "1.00", ""],
        ["engine process (engine stats)", f"{engine['engine_tps']:.1f}", f"{engine['engine_tps'] / raw:.2f}",
         ">= 0.90"],
        ["engine process (seen by client)", f"{engine['client_tps']:.1f}", f"{engine['client_tps'] / raw:.2f}",
         ">= 0.90"],
    ]
    if gui:
        rows.append(["chat page (GUI path)", f"{gui['tps']:.1f}", f"{gui['tps'] / raw:.2f}", ">= 0.90"])
    rows.append(["llama-cpp-python create_completion(stream)", f"{hl['greedy']:.1f}", f"{hl['greedy'] / raw:.2f}",
                 ""])
    rows.append(["engine process, sampled (T 0.8, top-k/p, min-p, rep 1.1)", f"{sampled:.1f}",
                 f"{sampled / raw:.2f}", ""])
    rows.append(["create_completion(stream), same sampling", f"{hl['sampled']:.1f}", f"{hl['sampled'] / raw:.2f}",
                 ""])
    print(f"Gemma 3 270M Q4_K_M, {THREADS} threads, greedy, {GEN_TOKENS} tokens, best of {REPEATS} "
          f"(medians: raw {engine['raw_median']:.1f}, engine {engine['client_median']:.1f})\n")
    print_table(["path", "tokens/s", "x raw", "target"], rows)
    print()
    print_table(["turn", "prompt tokens", "evaluated", "TTFT ms (client)", "TTFT ms (engine)"],
                [[i + 1, t["prompt_tokens"], t["evaluated"], f"{t['ttft_ms']:.1f}", f"{t['engine_ttft_ms']:.1f}"]
                 for i, t in enumerate(turns)])
    print(f"\nTTFT turn 10 / turn 1: {ttft10 / ttft1:.2f} (target <= 1.5)")
    print(f"Stop -> Done: {', '.join(f'{ms:.0f}' for ms in engine['stop_ms'])} ms (target <= 200)")
    if gui:
        runs = ", ".join(f"{ms:.1f}" for ms in gui["stall_runs_ms"])
        print(f"longest UI event-loop stall while streaming: {gui['stall_ms']:.1f} ms, best of {runs} "
              "(target <= 50)")
    write_results("chat_speed", {
        "threads": THREADS, "n_ctx": N_CTX, "gen_tokens": GEN_TOKENS, "repeats": REPEATS,
        "raw_tps": raw, "engine_tps": engine["engine_tps"], "client_tps": engine["client_tps"],
        "raw_runs": engine["raw_runs"], "client_runs": engine["client_runs"],
        "raw_median": engine["raw_median"], "client_median": engine["client_median"],
        "create_completion_tps": hl["greedy"], "create_completion_sampled_tps": hl["sampled"],
        "engine_sampled_tps": sampled, "engine_ratio": engine["client_tps"] / raw,
        "turns": turns, "ttft_ratio": ttft10 / ttft1, "stop_ms": engine["stop_ms"],
        "gui": gui,
    })
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--gui-only":
        import json

        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        print(json.dumps(gui_measure(sys.argv[2])))
        raise SystemExit(0)
    raise SystemExit(main())
