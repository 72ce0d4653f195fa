"""Compute an importance matrix from a calibration text with the native collector."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from pathlib import Path

import numpy as np

from app.core.errors import QuantizeError
from app.core.resources import resource
from app.quantize import llama_api
from app.quantize.imatrix_file import Imatrix, ImatrixEntry, save_imatrix

MIN_TOKENS = 16  # llama-imatrix ignores smaller batches, and so do we


def default_calibration() -> Path:
    return resource("calibration", "default.txt")


def compute_imatrix(
    model_path: Path,
    text: str,
    out: Path | None = None,
    *,
    n_ctx: int = 512,
    n_threads: int = 2,
    dataset: str = "calibration",
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    on_log: Callable[[str], None] | None = None,
) -> Imatrix:
    """Feed the text through the model in chunks of n_ctx tokens, collecting squared activations."""
    from app import _native

    lib = llama_api.llama()
    collector = _native.ImatrixCollector(process_output=False, min_tokens=MIN_TOKENS)
    callback, user_data = collector.addresses()
    with (
        llama_api.captured_log(lambda _level, line: on_log(line) if on_log and line.strip() else None),
        llama_api.loaded_model(model_path) as model,
    ):
        tokens = llama_api.tokenize(model, text)
        if len(tokens) < MIN_TOKENS:
            raise QuantizeError(f"the calibration text is too short ({len(tokens)} tokens, need {MIN_TOKENS})")
        chunks = [tokens[i : i + n_ctx] for i in range(0, len(tokens), n_ctx)]
        chunks = [c for c in chunks if len(c) >= MIN_TOKENS]
        eval_cb = ctypes.cast(ctypes.c_void_p(callback), lib.ggml_backend_sched_eval_callback)
        with llama_api.context(
            model, n_ctx, n_threads, cb_eval=eval_cb, cb_eval_user_data=ctypes.c_void_p(user_data)
        ) as ctx:
            for i, chunk in enumerate(chunks, 1):
                if cancelled is not None and cancelled():
                    raise QuantizeError("importance matrix cancelled")
                llama_api.clear_memory(ctx)
                llama_api.decode(ctx, chunk)
                if progress is not None:
                    progress(i, len(chunks))
    try:
        raw = collector.entries()
    except RuntimeError as exc:
        raise QuantizeError(f"importance matrix failed: {exc}") from exc
    if not raw:
        raise QuantizeError("no matrix multiplication was observed; is this a language model?")
    entries = {}
    for name, (sums, counts) in raw.items():
        n_mat = len(counts)
        entries[name] = ImatrixEntry(
            sums=np.frombuffer(sums, dtype=np.float32).reshape(n_mat, -1).copy(),
            counts=np.array(counts, dtype=np.int64),
        )
    result = Imatrix(entries=entries, datasets=(dataset,), chunk_count=len(chunks), chunk_size=n_ctx)
    if out is not None:
        save_imatrix(out, result)
    return result
