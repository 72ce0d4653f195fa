"""Compute an importance matrix from a calibration text with the native collector."""

from __future__ import annotations

import ctypes
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.errors import QuantizeError
from app.core.resources import resource
from app.process import native_log
from app.quantize import llama_api

if TYPE_CHECKING:  # numpy and gguf load only when a matrix is computed: the page validates through this module
    from app.quantize.imatrix_file import Imatrix

MIN_TOKENS = 16  # llama-imatrix ignores smaller batches, and so do we
DEFAULT_CHUNK = 512  # tokens per chunk, as llama-imatrix


def default_calibration() -> Path:
    return resource("calibration", "default.txt")


def training_context(source: Path) -> int | None:
    """The context length a model was trained with (GGUF metadata or config.json); None when it is not stated."""
    if source.is_dir():
        try:
            config = json.loads((source / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(config, dict):
            return None
        text = config.get("text_config")
        hp = {**config, **text} if isinstance(text, dict) else config
        value = hp.get("max_position_embeddings", hp.get("n_positions"))
    else:
        from app.gguf.reader import read_header

        meta = read_header(source).metadata
        value = meta.get(f"{meta.get('general.architecture')}.context_length")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def check_chunk_size(n_ctx: int, n_ctx_train: int | None, model_name: str = "the model") -> None:
    """Refuse a chunk the collector would skip (fewer than MIN_TOKENS) or longer than the model was trained on."""
    if n_ctx < MIN_TOKENS:
        raise QuantizeError(
            f"imatrix chunk size {n_ctx} is too small: the collector ignores batches under {MIN_TOKENS} tokens"
        )
    if n_ctx_train is not None and n_ctx > n_ctx_train:
        raise QuantizeError(
            f"imatrix chunk size {n_ctx} is larger than the {n_ctx_train}-token context {model_name} "
            f"was trained with; use at most {n_ctx_train}"
        )


def chunk_summary(path: Path) -> str:
    """'12 chunks of 512 tokens', as an imatrix file records it."""
    from app.gguf.reader import read_header
    from app.quantize.imatrix_file import KEY_CHUNK_COUNT, KEY_CHUNK_SIZE

    meta = read_header(path).metadata
    return f"{meta.get(KEY_CHUNK_COUNT)} chunks of {meta.get(KEY_CHUNK_SIZE)} tokens"


def compute_imatrix(
    model_path: Path,
    text: str,
    out: Path | None = None,
    *,
    n_ctx: int = DEFAULT_CHUNK,
    n_threads: int = 2,
    dataset: str = "calibration",
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    on_log: Callable[[str], None] | None = None,
) -> Imatrix:
    """Feed the text through the model in chunks of n_ctx tokens, collecting squared activations."""
    import numpy as np

    from app import _native
    from app.quantize.imatrix_file import Imatrix, ImatrixEntry, save_imatrix

    lib = llama_api.llama()
    collector = _native.ImatrixCollector(process_output=False, min_tokens=MIN_TOKENS)
    callback, user_data = collector.addresses()
    with (
        native_log.captured(lambda _level, line: on_log(line) if on_log and line.strip() else None),
        llama_api.loaded_model(model_path) as model,
    ):
        check_chunk_size(n_ctx, lib.llama_model_n_ctx_train(model) or None, model_path.name)
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
