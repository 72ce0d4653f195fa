"""Build a ModelShape from a GGUF header (app.gguf): the only place that knows app.gguf's types.

Architecture-level rules taken from the pinned llama.cpp (llama-model.cpp create_memory, models/*.cpp):

* Encoder-only and diffusion models (BERT family, gemma-embedding, dream, llada, …) have no KV cache.
* Recurrent and hybrid models (mamba, rwkv, jamba, qwen3next, lfm2, …) keep a recurrent state, and a
  few recent architectures (DeepSeek 3.2/4, GLM-DSA, MiniMax-M3, …) keep extra indexer caches: their
  cache is not modelled here, so estimating them raises EstimateError rather than guessing.
* Multi-token-prediction layers (`nextn_predict_layers`) have no KV cache in the main context.
* Gemma 3n / Gemma 4 layers past `n_layer - shared_kv_layers` reuse earlier layers' caches.
* MLA: when the file carries both `key_length_mla` and `value_length_mla`, llama.cpp keeps only the
  compressed K (`key_length` × `head_count_kv` values per cell) and no V.
"""

from __future__ import annotations

from app.core.errors import EstimateError
from app.estimate.model import ModelShape, group_weights
from app.gguf import GGUFHeader, GGUFModel, ModelFacts, model_facts

NO_KV_CACHE = frozenset(
    {
        "bert", "jina-bert-v2", "jina-bert-v3", "nomic-bert", "nomic-bert-moe", "neo-bert", "eurobert",
        "wavtokenizer-dec", "modern-bert", "gemma-embedding", "dream", "llada", "llada-moe", "rnd1",
    }
)  # fmt: skip
NOT_MODELLED = frozenset(
    {
        "mamba", "mamba2", "rwkv6", "rwkv6qwen2", "rwkv7", "arwkv7", "jamba", "falcon-h1", "plamo2",
        "granitehybrid", "lfm2", "lfm2moe", "nemotron_h", "nemotron_h_moe", "qwen3next", "kimi-linear",
        "bailingmoe3", "kimi-k3", "glm5-next", "qwen35", "qwen35moe", "qwen4exp", "deepseek4",
        "minimax-01", "minimax-m3", "glm-dsa", "deepseek32", "hy_v4", "dots3note", "dflash",
        "gemma4-assistant", "eagle3", "t5", "t5encoder",
    }
)  # fmt: skip
GEMMA3N_KV_LAYERS = 20  # llama.cpp hard-codes gemma3n's first 20 layers as the ones owning a cache


def _kv_layers(facts: ModelFacts, shared_kv_layers: int) -> tuple[bool, ...]:
    n = facts.n_layer
    if facts.architecture in NO_KV_CACHE:
        return (False,) * n
    last = n
    if facts.n_nextn_layers and n > facts.n_nextn_layers:
        last = n - facts.n_nextn_layers
    if facts.architecture == "gemma3n":
        last = min(last, GEMMA3N_KV_LAYERS)
    elif facts.architecture == "gemma4":
        last = min(last, n - shared_kv_layers)
    return tuple(il < last for il in range(n))


def shape_from_facts(facts: ModelFacts, tensors: tuple[tuple[str, int], ...], shared_kv_layers: int = 0) -> ModelShape:
    """`tensors`: (name, bytes) of every tensor of the model."""
    if facts.architecture in NOT_MODELLED:
        raise EstimateError(
            f"memory estimates for {facts.architecture} models are not available yet",
            hint="this architecture keeps a recurrent state or extra caches that the estimate does not model",
        )
    if facts.n_layer < 1:
        raise EstimateError("the model declares no layers")
    groups = group_weights(tensors, facts.n_layer)
    return ModelShape(
        arch=facts.architecture,
        n_layer=facts.n_layer,
        n_embd=facts.n_embd,
        n_vocab=facts.vocab_size,
        n_ctx_train=facts.context_length,
        n_head=facts.n_head,
        n_head_kv=facts.n_head_kv,
        head_k=facts.head_k,
        head_v=facts.head_v,
        head_k_swa=facts.head_k_swa,
        head_v_swa=facts.head_v_swa,
        swa_layers=facts.swa_layers,
        n_swa=facts.sliding_window,
        mla=facts.key_length_mla > 0 and facts.value_length_mla > 0,
        kv_layers=_kv_layers(facts, shared_kv_layers),
        n_ff=facts.n_ff,
        input_bytes=groups.input_bytes,
        layer_bytes=groups.layer_bytes,
        output_bytes=groups.output_bytes,
        tied_output_bytes=groups.tied_output_bytes,
        n_expert=facts.n_expert,
        n_expert_used=facts.n_expert_used,
    )


def shape_from_header(source: GGUFHeader | GGUFModel) -> ModelShape:
    """The shape of a model from its header (a single file or a split set read as one)."""
    facts = model_facts(source)
    shared = source.metadata.get(f"{facts.architecture}.attention.shared_kv_layers")
    shared_kv = shared if isinstance(shared, int) and not isinstance(shared, bool) else 0
    return shape_from_facts(facts, tuple((t.name, t.n_bytes) for t in source.tensors), shared_kv)
