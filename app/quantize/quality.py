"""How close a quant stays to its source: mean KL divergence and top-1 agreement of next-token
distributions over a short text, both computed from llama.cpp's logits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core.errors import QuantizeError
from app.process import native_log
from app.quantize import llama_api


@dataclass(frozen=True, slots=True)
class Quality:
    mean_kld: float
    top1_agreement: float  # 0..1
    n_tokens: int


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float64)
    x -= x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def model_logits(path: Path, tokens: list[int], n_threads: int = 2) -> np.ndarray:
    lib = llama_api.llama()
    with native_log.captured(lambda _level, _line: None), llama_api.loaded_model(path) as model:
        n_vocab = lib.llama_vocab_n_tokens(lib.llama_model_get_vocab(model))
        with llama_api.context(model, len(tokens), n_threads) as ctx:
            llama_api.decode(ctx, tokens)
            ptr = lib.llama_get_logits(ctx)
            return np.ctypeslib.as_array(ptr, shape=(len(tokens), n_vocab)).copy()


def source_tokens(path: Path, text: str, max_tokens: int) -> list[int]:
    with native_log.captured(lambda _level, _line: None), llama_api.loaded_model(path, vocab_only=True) as model:
        tokens = llama_api.tokenize(model, text)[:max_tokens]
    if len(tokens) < 2:
        raise QuantizeError("the text for the quality check is too short")
    return tokens


def compare(source: Path, quant: Path, text: str, max_tokens: int = 128, n_threads: int = 2) -> Quality:
    tokens = source_tokens(source, text, max_tokens)
    p_log = _log_softmax(model_logits(source, tokens, n_threads))
    q_log = _log_softmax(model_logits(quant, tokens, n_threads))
    if p_log.shape != q_log.shape:
        raise QuantizeError("the quant has a different vocabulary from its source")
    kld = (np.exp(p_log) * (p_log - q_log)).sum(axis=-1)
    agree = (p_log.argmax(axis=-1) == q_log.argmax(axis=-1)).mean()
    return Quality(mean_kld=float(kld.mean()), top1_agreement=float(agree), n_tokens=len(tokens))
