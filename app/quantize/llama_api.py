"""Small helpers over llama-cpp-python's low-level binding: log capture, model/context lifetime, tokens."""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.core.errors import QuantizeError

LineFn = Callable[[int, str], None]  # (ggml log level, one complete line without newline)


def llama() -> Any:
    import llama_cpp

    return llama_cpp


@contextmanager
def captured_log(on_line: LineFn) -> Iterator[list[str]]:
    """Route llama.cpp's log into on_line, one whole line at a time; the lines are also kept."""
    lib = llama()
    lines: list[str] = []
    pending = [""]
    level_of_line = [1]

    @lib.llama_log_callback
    def callback(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
        if level != 5:  # 5 continues the previous message at its level
            level_of_line[0] = level
        chunk = pending[0] + text.decode("utf-8", errors="replace")
        *complete, pending[0] = chunk.split("\n")
        for line in complete:
            lines.append(line)
            on_line(level_of_line[0], line)
        if pending[0].startswith("[") and "]" in pending[0]:
            on_line(level_of_line[0], pending[0])  # a tensor's progress line, before its size arrives

    lib.llama_log_set(callback, ctypes.c_void_p(0))
    try:
        yield lines
    finally:
        if pending[0]:
            lines.append(pending[0])
        from llama_cpp import _logger

        lib.llama_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))


@contextmanager
def loaded_model(path: Path, *, vocab_only: bool = False) -> Iterator[Any]:
    lib = llama()
    lib.llama_backend_init()
    params = lib.llama_model_default_params()
    params.vocab_only = vocab_only
    params.n_gpu_layers = 0
    model = lib.llama_model_load_from_file(str(path).encode(), params)
    if not model:
        raise QuantizeError(f"llama.cpp could not load {path.name}")
    try:
        yield model
    finally:
        lib.llama_model_free(model)


@contextmanager
def context(model: Any, n_ctx: int, n_threads: int, **fields: Any) -> Iterator[Any]:
    lib = llama()
    params = lib.llama_context_default_params()
    params.n_ctx = n_ctx
    params.n_batch = n_ctx
    params.n_ubatch = n_ctx
    params.n_threads = n_threads
    params.n_threads_batch = n_threads
    for key, value in fields.items():
        setattr(params, key, value)
    ctx = lib.llama_init_from_model(model, params)
    if not ctx:
        raise QuantizeError("llama.cpp could not create a context for the model")
    try:
        yield ctx
    finally:
        lib.llama_free(ctx)


def tokenize(model: Any, text: str) -> list[int]:
    lib = llama()
    vocab = lib.llama_model_get_vocab(model)
    data = text.encode("utf-8")
    capacity = len(data) + 8
    buf = (lib.llama_token * capacity)()
    n = lib.llama_tokenize(vocab, data, len(data), buf, capacity, True, False)
    if n < 0:
        raise QuantizeError("the text could not be tokenized")
    return list(buf[:n])


def decode(ctx: Any, tokens: list[int], start: int = 0) -> None:
    """Evaluate tokens at positions start.. with logits for every token: otherwise llama.cpp skips the
    last layer's work for all but the final token, and that layer's weights would see too few rows."""
    lib = llama()
    batch = lib.llama_batch_init(len(tokens), 0, 1)
    try:
        for i, tok in enumerate(tokens):
            batch.token[i] = tok
            batch.pos[i] = start + i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = True
        batch.n_tokens = len(tokens)
        rc = lib.llama_decode(ctx, batch)
    finally:
        lib.llama_batch_free(batch)
    if rc != 0:
        raise QuantizeError(f"llama.cpp failed to evaluate the text (code {rc})")


def clear_memory(ctx: Any) -> None:
    lib = llama()
    lib.llama_memory_clear(lib.llama_get_memory(ctx), True)
