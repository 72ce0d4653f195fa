"""Architecture classes: what kind of cache a model gets, and whether a chat estimate makes sense at all.

A model gets an estimate unless its class rules it out; the class, not the architecture's name, is what
the user is told. The classes follow the pinned llama.cpp:

* encoder-only (BERT family, embedding models, the WavTokenizer decoder) and diffusion models (Dream,
  LLaDA, RND1): create_memory makes no cache at all — estimated, with no KV cache;
* encoder–decoder (llama-model.cpp `llama_model_has_encoder`, T5): the encoder runs once per prompt and
  the decoder keeps self- and cross-attention caches — not a causal chat model;
* draft heads (EAGLE-3, DFlash, the Gemma 4 assistant): speculative-decoding heads that run only beside
  their target model and share its context (create_memory's `ctx_other` / `mem_other`).

Every other cache the pinned create_memory makes is modelled: recurrent and hybrid state (Qwen4-Exp's PLE
convolution history included), the indexer caches of DeepSeek 3.2, GLM-DSA, GLM5-Next, HY-V4, MiniMax-M3,
dots3note and Qwen4-Exp, and DeepSeek-V4's compressed caches and compressor states (layout.py, state.py).
"""

from __future__ import annotations

from enum import Enum

from app.core.errors import EstimateError


class ArchClass(Enum):
    ENCODER_ONLY = "an encoder-only model (embeddings or an audio codec: no causal LM head, no KV cache)"
    DIFFUSION = "a diffusion language model (no KV cache)"
    ENCODER_DECODER = "an encoder–decoder model (no causal language-model head to chat with)"
    DRAFT_HEAD = "a speculative-decoding draft head (it runs only beside its target model)"


_ENCODERS = (
    "bert", "jina-bert-v2", "jina-bert-v3", "nomic-bert", "nomic-bert-moe", "neo-bert", "eurobert",
    "modern-bert", "gemma-embedding", "wavtokenizer-dec",
)  # fmt: skip

# The one table of architectures that are not plain decoders, by class.
ARCH_CLASSES: dict[str, ArchClass] = {
    **dict.fromkeys(_ENCODERS, ArchClass.ENCODER_ONLY),
    **dict.fromkeys(("dream", "llada", "llada-moe", "rnd1"), ArchClass.DIFFUSION),
    "t5": ArchClass.ENCODER_DECODER,
    "t5encoder": ArchClass.ENCODER_DECODER,
    "eagle3": ArchClass.DRAFT_HEAD,
    "dflash": ArchClass.DRAFT_HEAD,
    "gemma4-assistant": ArchClass.DRAFT_HEAD,
}

_HINTS = {
    ArchClass.ENCODER_DECODER: "encoder–decoder models are used for translation or embeddings, not chat",
    ArchClass.DRAFT_HEAD: "load the target model; the draft head's memory comes on top of it",
}


NO_CACHE_CLASSES = frozenset({ArchClass.ENCODER_ONLY, ArchClass.DIFFUSION})
REFUSED_CLASSES = frozenset({ArchClass.ENCODER_DECODER, ArchClass.DRAFT_HEAD})


def arch_class(arch: str) -> ArchClass | None:
    """None for a plain decoder (transformer, recurrent or hybrid)."""
    return ARCH_CLASSES.get(arch)


def has_no_cache(arch: str) -> bool:
    """Encoder-only and diffusion models: llama.cpp makes no KV cache for them."""
    return arch_class(arch) in NO_CACHE_CLASSES


def check_estimable(arch: str) -> None:
    """Raise EstimateError naming the class of an architecture that gets no chat estimate."""
    found = arch_class(arch)
    if found is not None and found in REFUSED_CLASSES:
        raise EstimateError(f"no memory estimate: {arch} is {found.value}", hint=_HINTS[found])
