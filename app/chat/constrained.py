"""Grammar-constrained sampling that stays fast on a large vocabulary.

llama.cpp's grammar sampler checks every candidate token against the grammar; over Gemma's 262k tokens
that costs about a second per token. As llama.cpp's own common sampler does, the token is first sampled
without the grammar and only checked; when the grammar rejects it, the grammar filters the candidates
and the chain samples again: first among the best-scored few hundred (the best allowed token of the whole
vocabulary is among them whenever any of them is allowed), then, if none is allowed, the whole vocabulary.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

from app.core.errors import EngineError

SHORTLIST = 512
_TOKEN_DATA = np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")])


class ConstrainedSampler:
    def __init__(self, L: Any, vocab: Any, grammar: str) -> None:
        self.L = L
        self._grammar = L.llama_sampler_init_grammar(vocab, grammar.encode("utf-8"), b"root")
        if not self._grammar:
            raise EngineError("llama.cpp could not parse the output grammar", hint="see the log for its reason")
        self._n_vocab = int(L.llama_vocab_n_tokens(vocab))
        self._one = (L.llama_token_data * 1)()
        self._all = np.zeros(self._n_vocab, dtype=_TOKEN_DATA)
        self._ids = np.arange(self._n_vocab, dtype=np.int32)

    def _allowed(self, token: int) -> bool:
        L = self.L
        self._one[0].id, self._one[0].logit, self._one[0].p = token, 0.0, 0.0
        array = L.llama_token_data_array(self._one, 1, -1, False)
        L.llama_sampler_apply(self._grammar, ctypes.byref(array))
        return bool(np.isfinite(self._one[0].logit))

    def _pick(self, chain: Any, candidates: np.ndarray) -> int | None:
        """Grammar, then the chain, over `candidates` (a contiguous token-data array); None if none is allowed."""
        L = self.L
        pointer = candidates.ctypes.data_as(ctypes.POINTER(L.llama_token_data))
        array = L.llama_token_data_array(pointer, len(candidates), -1, False)
        L.llama_sampler_apply(self._grammar, ctypes.byref(array))
        if not np.isfinite(candidates["logit"][: array.size]).any():
            return None
        L.llama_sampler_apply(chain, ctypes.byref(array))
        if not 0 <= array.selected < array.size:
            return None
        return int(array.data[array.selected].id)  # the samplers may sort or move the candidates

    def sample(self, chain: Any, ctx: Any, idx: int = -1) -> int:
        """The token for the logits of batch position `idx` (-1: the last output)."""
        L = self.L
        token = int(L.llama_sampler_sample(chain, ctx, idx))
        if not self._allowed(token):
            logits = np.ctypeslib.as_array(L.llama_get_logits_ith(ctx, idx), shape=(self._n_vocab,))
            short = np.argpartition(logits, -SHORTLIST)[-SHORTLIST:] if self._n_vocab > SHORTLIST else self._ids
            shortlist = np.zeros(len(short), dtype=_TOKEN_DATA)
            shortlist["id"], shortlist["logit"] = short, logits[short]
            picked = self._pick(chain, shortlist)
            if picked is None:
                everything = self._all
                everything["id"], everything["logit"], everything["p"] = self._ids, logits, 0.0
                picked = self._pick(chain, everything)
            if picked is None:
                raise EngineError("The output grammar allows no token here", hint="check the JSON schema")
            token = picked
        L.llama_sampler_accept(self._grammar, token)
        return token

    def free(self) -> None:
        if self._grammar:
            self.L.llama_sampler_free(self._grammar)
            self._grammar = None
