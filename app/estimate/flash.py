"""Architectures the pinned llama.cpp cannot run with flash attention, and the setting that is then used.

The engine (app/chat/engine_core.py) turns flash attention off for these before it creates the context, and
the memory model (app.estimate.kv) lays the cache out the same way (V transposed), so the estimate is what
is allocated:

* grok: llama_init_from_model forces it off itself ("flash_attn is not compatible with Grok").
* plm: its graph (src/models/plm.cpp) hands build_attn a V of merged heads, `{head size × heads, tokens}`,
  where every other graph passes `{head size, heads, tokens}`. With flash attention the V cache is not
  transposed, and llama_kv_cache::cpy_v reads V's three dimensions as head size, heads and tokens: it views
  the whole ubatch as one row and `ggml_set_rows` aborts the process (`GGML_ASSERT(a->ne[0] == b->ne[0])`)
  as soon as a ubatch holds more than one token, which the context's own graph reservation does. "auto"
  does not help: its probe reserves a one-token graph, which passes. The transposed (non-flash) path copies
  element by element and works.
"""

from __future__ import annotations

from app.estimate.settings import FlashAttn

NO_FLASH_ATTN: dict[str, str] = {
    "grok": "llama.cpp never uses flash attention for Grok models",
    "plm": "llama.cpp cannot run PLM models with flash attention (its PLM graph aborts)",
}


def flash_attn_supported(arch: str) -> bool:
    return arch not in NO_FLASH_ATTN


def usable_flash_attn(arch: str, requested: FlashAttn) -> FlashAttn:
    """`requested`, or off for an architecture llama.cpp cannot run with flash attention."""
    return requested if flash_attn_supported(arch) else FlashAttn.OFF
