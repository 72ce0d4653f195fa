"""Small helpers over llama-cpp-python's low-level binding: model/context lifetime, tokens (its log: see
app.process.native_log)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.core.errors import QuantizeError


def llama() -> Any:
    from app.process.llama_lib import low_level

    return low_level()


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
