"""Tiny Hugging Face checkpoints for every architecture we convert: random weights, real tokenizers.

Tokenizers are trained here on the project's calibration text with the `tokenizers` and `sentencepiece`
libraries; weights come from transformers' own model classes (test-only dependency), saved as safetensors.
Column counts are multiples of 256 so K- and IQ-quants apply to every matrix.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.resources import resource

LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SAMPLE_TEXTS = (
    "Hello world",
    "The lighthouse keeper wrote in her log at 7:45, 3.14 and 12345.",
    "  two  spaces\nand a new line\n\n\tindented",
    "I've been told he's there; 'RE you sure? We'Ve a'lL",
    "Сегодня хорошая погода. 今日は晴れです。我想在花园里工作。 🦙",
    "def mean(values: list[float]) -> float:\n    return sum(values) / len(values)",
)


@dataclass(frozen=True)
class TinySpec:
    name: str
    model_type: str  # transformers config model_type
    tokenizer: str  # "llama3-bpe", "qwen2-bpe", "glm-bpe", "llama-spm", "gemma-spm", "phi3-spm", "gemma4"
    config: dict[str, Any] = field(default_factory=dict)


BASE = {
    "hidden_size": 256,
    "intermediate_size": 512,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 512,
    "tie_word_embeddings": False,
}

_QWEN_LINEAR = {
    "head_dim": 64,
    "layer_types": ["linear_attention", "full_attention"],
    "full_attention_interval": 2,
    "linear_num_key_heads": 2,
    "linear_num_value_heads": 4,
    "linear_key_head_dim": 64,
    "linear_value_head_dim": 64,
}
_QWEN_MOE = {
    "num_experts": 4,
    "num_experts_per_tok": 2,
    "moe_intermediate_size": 256,
    "shared_expert_intermediate_size": 256,
}
# DeepSeek V3's grouped expert routing, which GLM-4.5 (glm4_moe) shares
_GROUPED_ROUTING = {
    "n_routed_experts": 4,
    "num_experts_per_tok": 2,
    "moe_intermediate_size": 256,
    "n_shared_experts": 1,
    "first_k_dense_replace": 1,
    "n_group": 1,
    "topk_group": 1,
    "routed_scaling_factor": 2.5,
}

_PER_LAYER_VOCAB = "_per_layer_vocab"  # vocab_size_per_layer_input = the tokenizer's (the default is 262144)
_EXTRA_VOCAB = "_extra_vocab"  # config rows past the tokenizer's: vocab_size grows, vocab_size_per_layer_input not

SPECS: dict[str, TinySpec] = {
    s.name: s
    for s in (
        TinySpec("llama3", "llama", "llama3-bpe", {"rms_norm_eps": 1e-5, "rope_theta": 500000.0}),
        TinySpec("llama2", "llama", "llama-spm", {"rms_norm_eps": 1e-5, "rope_theta": 10000.0}),
        TinySpec(
            "llama31",  # Llama 3.1 long-context rope scaling, which llama.cpp takes as a rope_freqs tensor
            "llama",
            "llama3-bpe",
            {
                "rms_norm_eps": 1e-5,
                "rope_theta": 500000.0,
                "rope_scaling": {
                    "rope_type": "llama3",
                    "factor": 8.0,
                    "low_freq_factor": 1.0,
                    "high_freq_factor": 4.0,
                    "original_max_position_embeddings": 64,
                },
            },
        ),
        TinySpec("mistral", "mistral", "llama-spm", {"sliding_window": None, "head_dim": 64}),
        TinySpec("qwen2", "qwen2", "qwen2-bpe", {"tie_word_embeddings": True}),
        TinySpec("qwen3", "qwen3", "qwen2-bpe", {"head_dim": 64}),
        TinySpec(
            "gemma2",
            "gemma2",
            "gemma-spm",
            {
                "head_dim": 64,
                "query_pre_attn_scalar": 64,
                "sliding_window": 128,
                "attn_logit_softcapping": 50.0,
                "final_logit_softcapping": 30.0,
                "hidden_activation": "gelu_pytorch_tanh",
                "tie_word_embeddings": True,
            },
        ),
        TinySpec(
            "gemma3",
            "gemma3_text",
            "gemma-spm",
            {
                "head_dim": 64,
                "query_pre_attn_scalar": 64,
                "sliding_window": 128,
                "rope_theta": 1000000.0,
                "rope_local_base_freq": 10000.0,
                "hidden_activation": "gelu_pytorch_tanh",
                "tie_word_embeddings": True,
            },
        ),
        TinySpec(
            "phi3",
            "phi3",
            "phi3-spm",
            {"num_key_value_heads": 4, "original_max_position_embeddings": 512, "rope_theta": 10000.0},
        ),
        # --- MoE and newer families (issue 14). Experts: 4, two per token; MoE columns stay multiples of 256.
        TinySpec(
            "qwen3moe",
            "qwen3_moe",
            "qwen2-bpe",
            {
                "head_dim": 64,
                "num_experts": 4,
                "num_experts_per_tok": 2,
                "moe_intermediate_size": 256,
                "norm_topk_prob": True,  # llama.cpp's qwen3moe always renormalises the chosen experts' weights
            },
        ),
        TinySpec(
            "mixtral",
            "mixtral",
            "llama-spm",
            {"num_local_experts": 4, "num_experts_per_tok": 2, "sliding_window": None, "rope_theta": 1000000.0},
        ),
        TinySpec(
            "qwen2moe",
            "qwen2_moe",
            "qwen2-bpe",
            {
                "num_experts": 4,
                "num_experts_per_tok": 2,
                "moe_intermediate_size": 256,
                "shared_expert_intermediate_size": 512,
                "norm_topk_prob": False,
            },
        ),
        TinySpec(
            "olmoe",
            "olmoe",
            "qwen2-bpe",
            # llama.cpp sizes OLMoE's k-norm by n_embd: as in the real model, as many KV heads as heads.
            {"num_experts": 4, "num_experts_per_tok": 2, "intermediate_size": 256, "num_key_value_heads": 4},
        ),
        TinySpec("smollm3", "smollm3", "llama3-bpe", {"rope_theta": 2000000.0}),
        TinySpec(
            "granite",
            "granite",
            "llama3-bpe",
            {
                "attention_multiplier": 0.015625,
                "embedding_multiplier": 12.0,
                "residual_multiplier": 0.22,
                "logits_scaling": 8.0,
                "rope_theta": 10000.0,
            },
        ),
        TinySpec(
            "granitemoe",
            "granitemoe",
            "llama3-bpe",
            {
                "num_local_experts": 4,
                "num_experts_per_tok": 2,
                "intermediate_size": 256,
                "attention_multiplier": 0.015625,
                "embedding_multiplier": 12.0,
                "residual_multiplier": 0.22,
                "logits_scaling": 8.0,
            },
        ),
        TinySpec("olmo2", "olmo2", "qwen2-bpe", {"rope_theta": 500000.0}),
        TinySpec(
            "olmo3",  # sliding-window layers except every fourth, as OLMo 3 ships
            "olmo3",
            "qwen2-bpe",
            {
                "num_hidden_layers": 4,
                "sliding_window": 128,
                "layer_types": ["sliding_attention"] * 3 + ["full_attention"],
                "rope_theta": 500000.0,
            },
        ),
        TinySpec(
            "granitemoeshared",
            "granitemoeshared",
            "llama3-bpe",
            {
                "num_local_experts": 4,
                "num_experts_per_tok": 2,
                "intermediate_size": 256,
                "shared_intermediate_size": 512,
                "attention_multiplier": 0.015625,
                "embedding_multiplier": 12.0,
                "residual_multiplier": 0.22,
                "logits_scaling": 8.0,
            },
        ),
        TinySpec("seedoss", "seed_oss", "qwen2-bpe", {"head_dim": 64}),
        TinySpec(
            "exaone4",
            "exaone4",
            "qwen2-bpe",
            # llama.cpp uses EXAONE 4's sliding window only at 64 layers (the 32B); this is the 1.2B's shape.
            {"sliding_window": None, "layer_types": ["full_attention", "full_attention"]},
        ),
        TinySpec(
            "cohere2",
            "cohere2",
            "llama3-bpe",
            {
                "logit_scale": 0.25,
                "sliding_window": 128,
                "rotary_pct": 1.0,  # what llama.cpp's converter reads; transformers' Cohere2 rotates whole heads
                # llama.cpp's Cohere2 fixes the pattern at three sliding layers then one full (NoPE) layer.
                "num_hidden_layers": 4,
                "layer_types": ["sliding_attention"] * 3 + ["full_attention"],
                "tie_word_embeddings": True,
            },
        ),
        TinySpec("glm4", "glm4", "glm-bpe", {"head_dim": 64}),
        TinySpec(
            "glm4moe",
            "glm4_moe",
            "glm-bpe",
            {
                "head_dim": 64,
                **_GROUPED_ROUTING,
                # transformers saves no multi-token-prediction layer, which llama.cpp would expect to load
                "num_nextn_predict_layers": 0,
            },
        ),
        TinySpec(
            "deepseekv3",
            "deepseek_v3",
            "qwen2-bpe",
            {
                "num_attention_heads": 4,
                "num_key_value_heads": 4,
                **_GROUPED_ROUTING,
                "scoring_func": "sigmoid",  # as DeepSeek V3's own config.json says (transformers assumes it)
                "kv_lora_rank": 256,
                "q_lora_rank": 256,
                "qk_rope_head_dim": 32,
                "qk_nope_head_dim": 64,
                "v_head_dim": 64,
            },
        ),
        TinySpec(
            "deepseekv2",  # DeepSeek-V2-Lite's shape: no query compression, softmax routing
            "deepseek_v2",
            "qwen2-bpe",
            {
                # llama.cpp recognises a DeepSeek without query compression by its 27 layers (V2-Lite)
                "num_hidden_layers": 27,
                "hidden_size": 64,
                "intermediate_size": 128,
                "num_attention_heads": 2,
                "num_key_value_heads": 2,
                "n_routed_experts": 4,
                "num_experts_per_tok": 2,
                "moe_intermediate_size": 64,
                "n_shared_experts": 1,
                "first_k_dense_replace": 1,
                "scoring_func": "softmax",
                "kv_lora_rank": 64,
                "q_lora_rank": None,
                "qk_rope_head_dim": 16,
                "qk_nope_head_dim": 32,
                "v_head_dim": 32,
            },
        ),
        TinySpec(
            "gptoss",  # experts in BF16/F32 (transformers saves them so); MXFP4 checkpoints are another matter
            "gpt_oss",
            "qwen2-bpe",
            {
                "num_local_experts": 4,
                "num_experts_per_tok": 2,
                "head_dim": 64,
                "intermediate_size": 256,
                "sliding_window": 128,
                "layer_types": ["sliding_attention", "full_attention"],
                "max_position_embeddings": 131072,  # YaRN's factor 32 over its 4096-token original context
                # llama.cpp rounds YaRN's correction range as truncate=True does; gpt-oss ships truncate=False,
                # where positions past the first drift by up to 0.7% of the logits' scale from Transformers.
                "rope_parameters": {
                    "rope_type": "yarn",
                    "rope_theta": 150000.0,
                    "factor": 32.0,
                    "beta_fast": 32.0,
                    "beta_slow": 1.0,
                    "original_max_position_embeddings": 4096,
                    "truncate": True,
                },
            },
        ),
        TinySpec(
            "llama4",  # the text model of Llama 4 Scout's shape: every layer MoE with a shared expert
            "llama4_text",
            "llama3-bpe",
            {
                "num_local_experts": 4,
                "num_experts_per_tok": 1,
                "intermediate_size": 256,
                "intermediate_size_mlp": 512,
                "head_dim": 64,
                "interleave_moe_layer_step": 1,
                # llama.cpp fixes Llama 4's pattern at three chunked-attention layers, then a full one without rope
                "num_hidden_layers": 4,
                # Scout's long-context rope (llama.cpp takes it as a rope_freqs tensor)
                "rope_parameters": {
                    "rope_type": "llama3",
                    "rope_theta": 500000.0,
                    "factor": 16.0,
                    "low_freq_factor": 1.0,
                    "high_freq_factor": 1.0,
                    "original_max_position_embeddings": 8192,
                },
            },
        ),
        TinySpec(
            "lfm2",
            "lfm2",
            "llama3-bpe",
            {"layer_types": ["conv", "full_attention"], "intermediate_size": 768, "tie_word_embeddings": True},
        ),
        TinySpec(
            "lfm2moe",
            "lfm2_moe",
            "llama3-bpe",
            {
                "num_hidden_layers": 3,
                "layer_types": ["conv", "full_attention", "conv"],
                "num_experts": 4,
                "num_experts_per_tok": 2,
                "num_dense_layers": 1,
                "moe_intermediate_size": 256,
                "tie_word_embeddings": True,
            },
        ),
        TinySpec(
            "mamba2",
            "mamba2",
            "llama3-bpe",
            {"num_heads": 8, "head_dim": 64, "expand": 2, "state_size": 64, "n_groups": 1, "layer_norm_epsilon": 1e-5},
        ),
        TinySpec("apertus", "apertus", "llama3-bpe", {"rope_theta": 12000000.0}),
        TinySpec("ernie4_5", "ernie4_5", "llama-spm", {"head_dim": 64, "tie_word_embeddings": False}),
        TinySpec(
            "ernie4_5_moe",
            "ernie4_5_moe",
            "llama-spm",
            {
                "moe_num_experts": 4,
                "moe_k": 2,
                "moe_intermediate_size": 256,
                "moe_num_shared_experts": 2,
                # llama.cpp sizes the shared experts as intermediate_size / num_key_value_heads, which is their
                # width (2 x moe_intermediate_size) in the real 21B-A3B: the tiny one keeps that proportion.
                "intermediate_size": 1024,
                "moe_layer_start_index": 1,
                "moe_layer_end_index": 1,
                "moe_layer_interval": 1,
                "tie_word_embeddings": False,
            },
        ),
        # --- hybrid attention + linear attention (Gated DeltaNet). Two key heads, four value heads: Qwen3.5's
        # value-head reordering applies. Without MTP layers (Transformers saves none), see NO_MTP_REFERENCE.
        TinySpec("qwen3next", "qwen3_next", "qwen2-bpe", {**_QWEN_LINEAR, **_QWEN_MOE}),
        TinySpec("qwen35", "qwen3_5_text", "qwen2-bpe", _QWEN_LINEAR),
        TinySpec("qwen35moe", "qwen3_5_moe_text", "qwen2-bpe", {**_QWEN_LINEAR, **_QWEN_MOE}),
        TinySpec(
            "granitehybrid",  # Granite 4.0-H: Mamba-2, attention, Mamba-2, attention; experts and a shared MLP
            "granitemoehybrid",
            "llama3-bpe",
            {
                "num_hidden_layers": 4,
                "layer_types": ["linear_attention", "full_attention"] * 2,
                "num_local_experts": 4,
                "num_experts_per_tok": 2,
                "intermediate_size": 256,
                "shared_intermediate_size": 512,
                "mamba_n_heads": 8,
                "mamba_n_groups": 1,
                "mamba_d_state": 64,
                "mamba_d_head": 64,
                "mamba_expand": 2,
                "attention_multiplier": 0.015625,
                "embedding_multiplier": 12.0,
                "residual_multiplier": 0.22,
                "logits_scaling": 8.0,
                "position_embedding_type": "nope",
            },
        ),
        TinySpec(
            "falconh1",  # multipliers that round differently in float32, as the 0.5B-34B models ship theirs
            "falcon_h1",
            "llama3-bpe",
            {
                "head_dim": 64,
                "mamba_d_ssm": 512,
                "mamba_n_heads": 8,
                "mamba_d_head": 64,
                "mamba_d_state": 64,
                "mamba_n_groups": 1,
                # With the gated RMS norm on, llama.cpp's Falcon-H1 departs from Transformers' (logits off by 10%)
                "mamba_rms_norm": False,
                "lm_head_multiplier": 0.0390625,
                "embedding_multiplier": 5.656854249492381,
                "mlp_multipliers": [0.8838834764831844, 0.5859375],
                "key_multiplier": 0.390625,
                "attention_out_multiplier": 0.9375,
                "attention_in_multiplier": 1.1,
                "ssm_multipliers": [0.3535533905932738, 0.25, 0.3535533905932738, 0.5, 0.3535533905932738],
                "ssm_in_multiplier": 1.25,
                "ssm_out_multiplier": 0.2357022603955159,
                "rope_theta": 100000000000.0,
            },
        ),
        TinySpec(
            "nemotronh",  # dense Nemotron-H: Mamba-2, MLP, attention, MLP (see nemotron_h_as_published)
            "nemotron_h",
            "llama3-bpe",
            {
                "layers_block_type": ["mamba", "mlp", "attention", "mlp"],
                "mamba_num_heads": 8,
                "mamba_head_dim": 32,
                "ssm_state_size": 64,
                "n_groups": 2,
                "head_dim": 32,
                "use_mamba_kernels": False,
            },
        ),
        TinySpec(
            "nemotronhmoe",  # Nemotron 3 Nano's kind: Mamba-2, experts, attention, experts
            "nemotron_h",
            "llama3-bpe",
            {
                "layers_block_type": ["mamba", "moe", "attention", "moe"],
                "mamba_num_heads": 8,
                "mamba_head_dim": 32,
                "ssm_state_size": 64,
                "n_groups": 2,
                "head_dim": 32,
                "use_mamba_kernels": False,
                "n_routed_experts": 4,
                "num_experts_per_tok": 2,
                "moe_intermediate_size": 256,
                "moe_shared_expert_intermediate_size": 512,
                "n_shared_experts": 1,
                "n_group": 1,
                "topk_group": 1,
                "routed_scaling_factor": 2.5,
            },
        ),
        TinySpec(
            # Gemma 3n E2B's layout, which llama.cpp's loader fixes (30 layers, KV computed in the first 20, a
            # per-layer input of 256 per layer), at tiny widths; the token embeddings cover 16 tokens more than
            # the per-layer ones, as E2B's 262400 vs 262144 (the converters pad the latter with zeros)
            "gemma3n",
            "gemma3n_text",
            "gemma-spm",
            {
                "num_hidden_layers": 30,
                "num_kv_shared_layers": 10,
                "hidden_size": 64,
                # llama.cpp's activation sparsity takes the unbiased std, Transformers the biased one: at 512
                # columns they agree to 0.1% (at 128, logits differ by 3%); the real E2B has 8192
                "intermediate_size": [512] * 30,
                "num_attention_heads": 2,
                "num_key_value_heads": 1,
                "head_dim": 32,
                "laurel_rank": 64,  # llama.cpp fixes this one too
                "hidden_size_per_layer_input": 256,
                "layer_types": (["sliding_attention"] * 4 + ["full_attention"]) * 6,
                "activation_sparsity_pattern": [0.95] * 10 + [0.0] * 20,
                "sliding_window": 128,
                "tie_word_embeddings": True,
                _EXTRA_VOCAB: 16,
            },
        ),
        TinySpec(
            # a dense Gemma 4 (31B's kind, no per-layer input): sliding layers with 32-wide heads rotated fully,
            # the last layer full attention with 64-wide heads of which a quarter rotate ("proportional" rope),
            # with KV heads of its own count whose values are the keys (no v_proj)
            "gemma4",
            "gemma4_text",
            "gemma4",
            {
                "num_hidden_layers": 6,
                "hidden_size": 64,
                "intermediate_size": 128,
                "num_attention_heads": 2,
                "num_key_value_heads": 1,
                "head_dim": 32,
                "global_head_dim": 64,
                "attention_k_eq_v": True,
                "num_global_key_value_heads": 2,
                "hidden_size_per_layer_input": 0,
                "layer_types": ["sliding_attention"] * 5 + ["full_attention"],
                "sliding_window": 128,
                "final_logit_softcapping": 30.0,  # as published (llama.cpp assumes 30 where the key is missing)
                "tie_word_embeddings": True,
            },
        ),
        TinySpec(
            # Gemma 4 E2B's kind: per-layer inputs, the last layers reusing earlier layers' KV (Transformers saves
            # no k/v for them, and llama.cpp needs none) with MLPs twice as wide; both layer kinds on each side
            "gemma4e",
            "gemma4_text",
            "gemma4",
            {
                "num_hidden_layers": 6,
                "hidden_size": 64,
                "intermediate_size": 128,
                "num_attention_heads": 2,
                "num_key_value_heads": 1,
                "head_dim": 32,
                "global_head_dim": 64,
                "hidden_size_per_layer_input": 16,
                "num_kv_shared_layers": 3,
                "use_double_wide_mlp": True,
                "layer_types": ["sliding_attention", "sliding_attention", "full_attention"] * 2,
                "sliding_window": 128,
                "final_logit_softcapping": 30.0,
                "tie_word_embeddings": True,
                _PER_LAYER_VOCAB: True,
            },
        ),
        TinySpec(
            # Gemma 4 26B-A4B's kind: each layer's dense MLP beside stacked experts (gate and up fused) and a
            # router with its own input and per-expert output scales
            "gemma4moe",
            "gemma4_text",
            "gemma4",
            {
                "num_hidden_layers": 6,
                "hidden_size": 64,
                "intermediate_size": 128,
                "num_attention_heads": 2,
                "num_key_value_heads": 1,
                "head_dim": 32,
                "global_head_dim": 64,
                "hidden_size_per_layer_input": 0,
                "layer_types": ["sliding_attention"] * 5 + ["full_attention"],
                "sliding_window": 128,
                "final_logit_softcapping": 30.0,
                "tie_word_embeddings": True,
                "enable_moe_block": True,
                "num_experts": 4,
                "top_k_experts": 2,
                "moe_intermediate_size": 32,
            },
        ),
        TinySpec(
            "jamba",  # Mamba-1 layers; attention in layers 1 and 3, experts in layers 0 and 2
            "jamba",
            "llama-spm",
            {
                "num_hidden_layers": 4,
                "attn_layer_offset": 1,
                "attn_layer_period": 2,
                "expert_layer_offset": 0,
                "expert_layer_period": 2,
                "num_experts": 4,
                "num_experts_per_tok": 2,
                "mamba_d_state": 16,
                "mamba_d_conv": 4,
                "mamba_expand": 2,
                "use_mamba_kernels": False,
            },
        ),
    )
}
# llama.cpp's converter stops on a Qwen3-Next / Qwen3.5 checkpoint without MTP layers unless told --no-mtp
# (FIELD-NOTES); ours writes that output by default.
NO_MTP_REFERENCE = ("qwen3next", "qwen35", "qwen35moe")
# The pre-tokenizer llama.cpp implements for each trained BPE kind (its converter knows real vocabularies only
# by a hash, so the reference harness is told this name; see tests/support/reference_convert.py).
BPE_PRE_TOKENIZERS = {"llama3-bpe": "llama-bpe", "qwen2-bpe": "qwen2", "glm-bpe": "qwen2"}


def corpus() -> list[str]:
    return resource("calibration", "default.txt").read_text(encoding="utf-8").splitlines()


def make_tiny_hf(
    folder: Path,
    name: str,
    *,
    dtype: str = "float32",
    seed: int = 0,
    sizes: dict[str, Any] | None = None,
    max_shard_size: str | None = None,
) -> Path:
    """Write config.json, model.safetensors and tokenizer files for architecture `name` into folder.
    `sizes` overrides dimensions (benchmarks build larger models the same way); `max_shard_size` ("1MB")
    splits the weights into shards with an index, as large Hub checkpoints come."""
    spec = SPECS[name]
    folder.mkdir(parents=True, exist_ok=True)
    special = _write_tokenizer(folder, spec.tokenizer)
    _write_model(folder, spec, special, dtype, seed, sizes or {}, max_shard_size)
    return folder


def _write_tokenizer(folder: Path, kind: str) -> dict[str, int]:
    if kind == "gemma4":
        return _gemma4_tokenizer(folder)
    if kind.endswith("-bpe"):
        return _bpe_tokenizer(folder, kind)
    return _spm_tokenizer(folder, kind)


def _bpe_tokenizer(folder: Path, kind: str) -> dict[str, int]:
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    llama = kind == "llama3-bpe"
    specials = (
        ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|user|>", "<|assistant|>", "<|end|>"]
        if llama
        else ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|user|>", "<|assistant|>", "<|end|>"]
    )
    if kind == "glm-bpe":  # GLM's converter looks these up by name
        specials += ["[gMASK]", "<sop>", "<|system|>", "<|observation|>"]
    tok = Tokenizer(models.BPE(ignore_merges=llama))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(LLAMA3_SPLIT if llama else QWEN2_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus(), trainer=trainer)
    ids = {t: tok.token_to_id(t) or 0 for t in specials}
    if llama:
        bos = specials[0]
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, ids[bos])]
        )
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.save(str(folder / "tokenizer.json"))
    eos = specials[2] if llama else specials[0]
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": specials[0] if llama else None,
        "eos_token": eos,
        "chat_template": CHAT_TEMPLATE,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    return {"bos": ids[specials[0]], "eos": ids[eos], "vocab": tok.get_vocab_size()}


def _gemma4_tokenizer(folder: Path) -> dict[str, int]:
    """Gemma 4's kind of tokenizer.json (no tokenizer.model): BPE over "\u2581"-for-space text with byte-fallback
    tokens, split on newlines only (llama.cpp's gemma4 pre-tokenizer), BOS added, two of the chat-format markers
    llama.cpp makes user-defined and two turn markers that are special but not named in the config."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<|channel>", "<channel|>", "<|turn>", "<turn|>"]
    byte_tokens = [f"<0x{b:02X}>" for b in range(256)]
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Replace(" ", "\u2581")
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("[^\\n]+|[\\n]+"), behavior="isolated")
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()])
    trainer = trainers.BpeTrainer(vocab_size=768, special_tokens=specials + byte_tokens, show_progress=False)
    tok.train_from_iterator(corpus(), trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A <bos> $B", special_tokens=[("<bos>", 2)]
    )
    data = json.loads(tok.to_str())
    # byte tokens are ordinary vocabulary entries in Gemma's files, not added tokens
    data["added_tokens"] = [t for t in data["added_tokens"] if t["content"] in specials]
    (folder / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    config = {
        "tokenizer_class": "GemmaTokenizer",
        "bos_token": "<bos>",
        "eos_token": "<eos>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
        "add_bos_token": True,
        "add_eos_token": False,
        "chat_template": CHAT_TEMPLATE,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    return {"bos": 2, "eos": 1, "vocab": tok.get_vocab_size()}


# llama.cpp looks some of these up by name (Phi-3's <|endoftext|>), as in the real vocabularies.
_USER_SYMBOLS = {
    "gemma-spm": ["<start_of_turn>", "<end_of_turn>"],
    "phi3-spm": ["<|endoftext|>", "<|user|>", "<|assistant|>", "<|end|>"],
}


def _spm_tokenizer(folder: Path, kind: str) -> dict[str, int]:
    import sentencepiece as spm

    gemma = kind == "gemma-spm"
    ids = {"pad": 0, "eos": 1, "bos": 2, "unk": 3} if gemma else {"unk": 0, "bos": 1, "eos": 2, "pad": -1}
    names = ("<pad>", "<eos>", "<bos>", "<unk>") if gemma else ("<pad>", "</s>", "<s>", "<unk>")
    pieces: dict[str, Any] = dict(zip(("pad_piece", "eos_piece", "bos_piece", "unk_piece"), names, strict=True))
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus()),
        model_writer=model,
        vocab_size=512,
        model_type="bpe",
        byte_fallback=True,
        character_coverage=1.0,
        split_digits=True,
        add_dummy_prefix=not gemma,
        remove_extra_whitespaces=False,
        normalization_rule_name="identity",
        unk_id=ids["unk"],
        bos_id=ids["bos"],
        eos_id=ids["eos"],
        pad_id=ids["pad"],
        user_defined_symbols=_USER_SYMBOLS.get(kind, []),
        **pieces,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    (folder / "tokenizer.model").write_bytes(model.getvalue())
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    config: dict[str, Any] = {
        "tokenizer_class": "GemmaTokenizer" if gemma else "LlamaTokenizer",
        "bos_token": "<bos>" if gemma else "<s>",
        "eos_token": "<eos>" if gemma else "</s>",
        "unk_token": "<unk>",
        "add_bos_token": True,
        "add_eos_token": False,
        "legacy": True,
        "chat_template": CHAT_TEMPLATE,
    }
    if gemma:
        config["pad_token"] = "<pad>"
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    return {"bos": ids["bos"], "eos": ids["eos"], "vocab": sp.vocab_size()}


def _write_model(
    folder: Path,
    spec: TinySpec,
    special: dict[str, int],
    dtype: str,
    seed: int,
    sizes: dict[str, Any],
    max_shard_size: str | None = None,
) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    kwargs = {**BASE, **spec.config, **sizes, "vocab_size": special["vocab"]}
    if kwargs.pop(_PER_LAYER_VOCAB, False):
        kwargs.update(vocab_size_per_layer_input=special["vocab"])
    if extra := kwargs.pop(_EXTRA_VOCAB, 0):
        kwargs.update(vocab_size=special["vocab"] + extra, vocab_size_per_layer_input=special["vocab"])
    kwargs.update(bos_token_id=special["bos"], eos_token_id=special["eos"], pad_token_id=None)
    config = AutoConfig.for_model(spec.model_type, **kwargs)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    gemma = spec.model_type.startswith("gemma") and spec.model_type != "gemma4_text"  # Gemma 4 scales by w
    with torch.no_grad():
        for pname, param in model.named_parameters():
            if pname.endswith("norm.weight"):
                # Gemma norms scale by (1 + w): keep both families near 1 but not exactly 1.
                param.copy_((0.0 if gemma else 1.0) + 0.1 * torch.randn_like(param))
            else:
                param.copy_(0.08 * torch.randn_like(param))
            if spec.model_type == "gemma4_text" and pname.endswith(("q_norm.weight", "k_norm.weight")):
                # Gemma 4 attends without a 1/sqrt(d) scale: with unit q/k norms a random model's softmax is so
                # sharp that llama.cpp's F16 KV cache shows in the logits (trained weights are made for it)
                param.mul_(0.3)
    model = model.to(getattr(torch, dtype))
    if max_shard_size:
        model.save_pretrained(folder, safe_serialization=True, max_shard_size=max_shard_size)
    else:
        model.save_pretrained(folder, safe_serialization=True)
    if spec.model_type == "gemma3n_text":
        _gemma3n_shared_kv_as_published(folder, config, getattr(torch, dtype))


def _gemma3n_shared_kv_as_published(folder: Path, config: Any, dtype: Any) -> None:
    """Gemma 3n's published checkpoints keep k/v projections and k-norms in the layers that reuse an earlier
    layer's KV (unused there); Transformers 5 saves none, and llama.cpp's loader requires them."""
    import torch
    from safetensors.torch import load_file, save_file

    path = folder / "model.safetensors"
    tensors = load_file(path)
    kv_width = config.num_key_value_heads * config.head_dim
    first_shared = config.num_hidden_layers - config.num_kv_shared_layers
    for bid in range(first_shared, config.num_hidden_layers):
        prefix = f"model.layers.{bid}.self_attn."
        for proj in ("k_proj", "v_proj"):
            tensors[f"{prefix}{proj}.weight"] = (0.08 * torch.randn(kv_width, config.hidden_size)).to(dtype)
        tensors[f"{prefix}k_norm.weight"] = (0.1 * torch.randn(config.head_dim)).to(dtype)
    save_file(tensors, str(path), metadata={"format": "pt"})


# --- Byte-level BPE tokenizers with the pre-tokenizers real models ship (tests of app.convert.vocab) ---------

_ISOLATED = {"behavior": "Isolated", "invert": False}
_BYTES = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}
_DIGITS = {"type": "Digits", "individual_digits": True}


def _split(regex: str, **how: Any) -> dict[str, Any]:
    return {"type": "Split", "pattern": {"Regex": regex}, **(how or _ISOLATED)}


# DeepSeek LLM's letter and punctuation classes, as its tokenizer.json spells them (JSON string bodies).
_DEEPSEEK_LETTERS = json.loads(
    '"'
    r"\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af"
    r"\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5"
    r"\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba"
    r"\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45"
    r"\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe\u1fc2-"
    r"\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc\u2102\u2107"
    r"\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139\u213c-\u213f"
    r"\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2\u2cf3\ua640-\ua66d"
    r"\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf\ufb00-\ufb06\ufb13-\ufb17"
    r"\uff21-\uff3a\uff41-\uff5a\ud801\udc00-\ud801\udc4f\ud801\udcb0-\ud801\udcd3\ud801\udcd8-\ud801"
    r"\udcfb\ud803\udc80-\ud803\udcb2\ud803\udcc0-\ud803\udcf2\ud806\udca0-\ud806\udcdf\ud83a\udd00-"
    r"\ud83a\udd43]+"
    '"'
)
_DEEPSEEK_PUNCT = json.loads('"' + r"\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+" + '"')
_DEEPSEEK_CJK = json.loads('"' + r"[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+" + '"')
_CL100K = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_O200K = (
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_QWEN35_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_TEKKEN = (
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"
    r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"
    r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


@dataclass(frozen=True)
class PreTokenizerCase:
    """A tokenizer.json pre-tokenizer as a family of real models ships it, and the llama.cpp name it needs."""

    expected: str  # tokenizer.ggml.pre our converter must write (the name llama.cpp's converter writes)
    models: str  # the real models that ship it
    architecture: str  # a SPECS entry whose model config the tiny checkpoint uses
    pre_tokenizer: dict[str, Any]
    ignore_merges: bool
    # Where llama.cpp's pre-tokenizer of that name is known to cut text differently: a text it tokenizes
    # differently (the converter's warning quotes it), and a regex for the test texts that may differ so;
    # every other test text must tokenize identically.
    differs_on: str | None = None
    may_differ: str | None = None


def _chain(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Sequence", "pretokenizers": list(steps)}


PRE_TOKENIZER_CASES: dict[str, PreTokenizerCase] = {
    "llama-bpe": PreTokenizerCase(
        "llama-bpe", "Llama 3.x", "llama3", _chain(_split(_CL100K), _BYTES), ignore_merges=True
    ),
    "smaug-bpe": PreTokenizerCase(
        "smaug-bpe",
        "Llama 3 tokenizers saved without ignore_merges (Smaug)",
        "llama3",
        _chain(_split(_CL100K), _BYTES),
        ignore_merges=False,
    ),
    "cl100k-inverted": PreTokenizerCase(
        "llama-bpe",
        "converters writing Split(Removed, invert)",
        "llama3",
        _chain(_split(_CL100K, behavior="Removed", invert=True), _BYTES),
        ignore_merges=True,
    ),
    "qwen2": PreTokenizerCase("qwen2", "Qwen 1.5-3", "qwen2", _chain(_split(QWEN2_SPLIT), _BYTES), ignore_merges=False),
    "qwen35": PreTokenizerCase(
        "qwen35", "Qwen3.5", "qwen35", _chain(_split(_QWEN35_SPLIT), _BYTES), ignore_merges=False
    ),
    "gpt-2": PreTokenizerCase(
        "gpt-2",
        "GPT-2 style",
        "llama3",
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        ignore_merges=False,
    ),
    "tekken": PreTokenizerCase(
        "tekken",
        "Mistral Nemo, Mistral Small 3, Ministral",
        "mistral",
        _chain(_split(_TEKKEN), _BYTES),
        ignore_merges=True,
        differs_on=" हिन्दी",
        may_differ="[\u0900-\u097f]",
    ),
    "gpt-4o": PreTokenizerCase(
        "gpt-4o",
        "Phi-4-mini",
        "phi3",
        _chain(_split(_O200K), _BYTES),
        ignore_merges=False,
        differs_on=" हिन्दी",
        may_differ="[\u0900-\u097f]",
    ),
    "smollm": PreTokenizerCase(
        "smollm",
        "SmolLM, SmolLM2",
        "llama3",
        _chain(_DIGITS, {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}),
        ignore_merges=False,
    ),
    "seed-coder": PreTokenizerCase(
        "seed-coder",
        "Seed-Coder",
        "llama3",
        # The published file writes CR and LF as literal characters inside the classes.
        _chain(
            _split(
                "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\r\n]+"
                "|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"
            ),
            _BYTES,
        ),
        ignore_merges=False,
    ),
    "deepseek-llm": PreTokenizerCase(
        "deepseek-llm",
        "DeepSeek LLM 7B/67B",
        "llama3",
        _chain(
            _split("[\r\n]"),
            _split(_DEEPSEEK_LETTERS),
            _split(_DEEPSEEK_PUNCT),
            _split("\\s+$"),
            _split(_DEEPSEEK_CJK),
            _DIGITS,
            _BYTES,
        ),
        ignore_merges=False,
        differs_on=" 1234567",
        may_differ="[0-9][0-9]",
    ),
    "deepseek-v3": PreTokenizerCase(
        "deepseek-v3",
        "DeepSeek V3, R1, V4",
        "llama3",
        # as the published file spells it (JSON string bodies: CR and LF literal inside the classes)
        _chain(
            _split("\\p{N}{1,3}"),
            _split("[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+"),
            _split(
                json.loads(
                    '"[!\\"#$%&\'()*+,\\\\-./:;<=>?@\\\\[\\\\\\\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\\\p{L}\\\\p{P}'
                    '\\\\p{S}]?[\\\\p{L}\\\\p{M}]+| ?[\\\\p{P}\\\\p{S}]+[\\r\\n]*|\\\\s*[\\r\\n]+'
                    '|\\\\s+(?!\\\\S)|\\\\s+"'
                )
            ),
            _BYTES,
        ),
        ignore_merges=False,
    ),
    "deepseek-coder": PreTokenizerCase(
        "deepseek-coder",
        "DeepSeek Coder 1.3B-33B",
        "llama3",
        _chain(
            _split("[\r\n]"),
            _split("\\s?\\p{L}+"),
            _split("\\s?\\p{P}+"),
            _split(_DEEPSEEK_CJK),
            _DIGITS,
            _BYTES,
        ),
        ignore_merges=False,
    ),
}


def make_tiny_bpe(folder: Path, case: str, training: list[str], *, seed: int = 0) -> Path:
    """A checkpoint whose tokenizer.json carries PRE_TOKENIZER_CASES[case]'s pre-tokenizer.

    The vocabulary is trained on `training` WITHOUT any pre-tokenization, so merges span the boundaries
    pre-tokenizers draw (digits, spaces, punctuation, scripts): a converter that picks a pre-tokenizer
    cutting text differently produces different ids. Then the whole pre-tokens of `training` (as the
    case's pre-tokenizer cuts them) join the vocabulary: every other one through merges appended after
    the trained ones, so it comes out as one token only where the text is cut exactly there; the rest
    without merges, reachable only by a tokenizer with ignore_merges, so that flag is tested too."""
    spec = PRE_TOKENIZER_CASES[case]
    folder.mkdir(parents=True, exist_ok=True)
    special = _trained_bpe(folder, spec, training)
    arch = SPECS[spec.architecture]
    _write_model(folder, TinySpec(case, arch.model_type, "bpe", arch.config), special, "float32", seed, {})
    return folder


def _trained_bpe(folder: Path, spec: PreTokenizerCase, training: list[str]) -> dict[str, int]:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    specials = ["<|endoftext|>", "<|user|>", "<|assistant|>", "<|end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1024,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        max_token_length=12,
        show_progress=False,
    )
    tok.train_from_iterator(corpus() + training, trainer=trainer)
    data = json.loads(tok.to_str())
    data["pre_tokenizer"] = spec.pre_tokenizer
    data["model"]["ignore_merges"] = spec.ignore_merges
    real = Tokenizer.from_str(json.dumps(data))
    vocab: dict[str, int] = data["model"]["vocab"]
    merges: list[Any] = data["model"]["merges"]
    pieces = [p for text in training for p, _ in real.pre_tokenizer.pre_tokenize_str(text)]
    for n, piece in enumerate(dict.fromkeys(p for p in pieces if len(p) >= 3 and p not in vocab)):
        if n % 2:  # reachable only through ignore_merges
            vocab[piece] = len(vocab)
            continue
        parts = [t.value for t in real.model.tokenize(piece)]
        left = parts[0]
        for right in parts[1:]:
            merges.append([left, right])
            left += right
            vocab.setdefault(left, len(vocab))
    (folder / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    # Phi-4-mini's tokenizer_config names GPT2Tokenizer: what makes llama.cpp's Phi-3 converter read tokenizer.json
    tokenizer_class = "GPT2Tokenizer" if spec.architecture == "phi3" else "PreTrainedTokenizerFast"
    config = {"tokenizer_class": tokenizer_class, "bos_token": None, "eos_token": specials[0]}
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    eos = vocab[specials[0]]
    return {"bos": eos, "eos": eos, "vocab": len(vocab)}


# --- gpt-oss with MXFP4 experts, as OpenAI ships it ------------------------------------------------------------

# E2M1 values of the 16 codes (sign in the top bit), as the MXFP4 format defines them.
_E2M1 = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0)


def make_tiny_mxfp4(folder: Path, float_folder: Path, *, seed: int = 0) -> Path:
    """A gpt-oss checkpoint whose experts are MXFP4 blocks and scales (random codes), and beside it in
    `float_folder` the same model with those experts dequantized exactly to float32 (what Transformers runs)."""
    import numpy as np

    make_tiny_hf(float_folder, "gptoss", seed=seed)
    tensors = _load_safetensors(float_folder / "model.safetensors")
    rng = np.random.default_rng(seed)
    quantized: dict[str, Any] = {}
    for name in sorted(tensors):
        if not name.endswith(("mlp.experts.gate_up_proj", "mlp.experts.down_proj")):
            quantized[name] = tensors[name]
            continue
        n_exp, n_in, n_out = tensors[name].shape  # transformers' layout: (experts, in, out)
        blocks = rng.integers(0, 256, size=(n_exp, n_out, n_in // 32, 16), dtype=np.uint8)
        scales = rng.integers(120, 125, size=(n_exp, n_out, n_in // 32), dtype=np.uint8)
        quantized[name + "_blocks"], quantized[name + "_scales"] = blocks, scales
        tensors[name] = _dequantize_mxfp4(blocks, scales).transpose(0, 2, 1).copy()
    _save_safetensors(float_folder / "model.safetensors", tensors)
    folder.mkdir(parents=True, exist_ok=True)
    for f in float_folder.iterdir():
        if f.name != "model.safetensors":
            (folder / f.name).write_bytes(f.read_bytes())
    _save_safetensors(folder / "model.safetensors", quantized)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["quantization_config"] = {
        "quant_method": "mxfp4",
        "modules_to_not_convert": [
            "model.layers.*.self_attn",
            "model.layers.*.mlp.router",
            "model.embed_tokens",
            "lm_head",
        ],
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return folder


def _dequantize_mxfp4(blocks: Any, scales: Any) -> Any:
    """(…, n_blocks, 16) codes (value 2i low nibble of byte i) and (…, n_blocks) E8M0 exponents -> float32 rows."""
    import numpy as np

    lut = np.array(_E2M1, dtype=np.float32)
    values = np.stack((lut[blocks & 0x0F], lut[blocks >> 4]), axis=-1).reshape(*blocks.shape[:-1], 32)
    scaled = values * np.exp2(scales.astype(np.float32) - 127)[..., None]
    return scaled.reshape(*blocks.shape[:-2], -1)


_ST_DTYPES = {"float32": "F32", "uint8": "U8"}


def _load_safetensors(path: Path) -> dict[str, Any]:
    from app.convert.safetensors_file import MappedFiles, read_header

    files = MappedFiles()
    try:
        return {ref.name: files.raw(ref).copy() for ref in read_header(path)}
    finally:
        files.close()


def _save_safetensors(path: Path, tensors: dict[str, Any], dtypes: dict[str, str] | None = None) -> None:
    """The safetensors format (JSON header, then the tensors' bytes in order), for float32 and uint8 arrays;
    `dtypes` names the stored type of byte arrays that are not plain bytes (F8_E4M3 codes)."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name in sorted(tensors):
        array = tensors[name]
        header[name] = {
            "dtype": (dtypes or {}).get(name) or _ST_DTYPES[str(array.dtype)],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + array.nbytes],
        }
        offset += array.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with path.open("wb") as f:
        f.write(len(raw).to_bytes(8, "little"))
        f.write(raw)
        for name in sorted(tensors):
            f.write(tensors[name].tobytes())


# --- FP8 checkpoints with block scales, as DeepSeek V3 and Qwen3 FP8 ship them --------------------------------


def make_tiny_fp8(folder: Path, float_folder: Path, name: str, *, block: int = 128, seed: int = 0) -> Path:
    """Checkpoint `name` with its projection matrices in FP8 E4M3 and one float32 scale per block x block
    (weight_scale_inv), and beside it in `float_folder` the same model with those matrices dequantized exactly."""
    import torch

    make_tiny_hf(float_folder, name, seed=seed)
    tensors = _load_safetensors(float_folder / "model.safetensors")
    quantized: dict[str, Any] = {}
    dtypes: dict[str, str] = {}
    for key in sorted(tensors):
        weight = tensors[key]
        if weight.ndim != 2 or not key.endswith(("_proj.weight", "_proj_with_mqa.weight")):
            quantized[key] = weight
            continue
        w = torch.from_numpy(weight)
        rows, cols = w.shape
        padded = torch.zeros((-(-rows // block) * block, -(-cols // block) * block))
        padded[:rows, :cols] = w
        amax = padded.abs().reshape(padded.shape[0] // block, block, padded.shape[1] // block, block).amax(dim=(1, 3))
        scale = torch.where(amax > 0, amax / 448.0, torch.ones_like(amax))
        full = scale.repeat_interleave(block, 0).repeat_interleave(block, 1)[:rows, :cols]
        codes = (w / full).to(torch.float8_e4m3fn)
        quantized[key] = codes.view(torch.uint8).numpy()
        quantized[key + "_scale_inv"] = scale.numpy()
        dtypes[key] = "F8_E4M3"
        tensors[key] = (codes.float() * full).numpy()
    _save_safetensors(float_folder / "model.safetensors", tensors)
    folder.mkdir(parents=True, exist_ok=True)
    for f in float_folder.iterdir():
        if f.name != "model.safetensors":
            (folder / f.name).write_bytes(f.read_bytes())
    _save_safetensors(folder / "model.safetensors", quantized, dtypes)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["quantization_config"] = {
        "quant_method": "fp8",
        "fmt": "e4m3",
        "activation_scheme": "dynamic",
        "weight_block_size": [block, block],
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return folder


# --- Qwen3-Next / Qwen3.5 with a multi-token-prediction layer, as Qwen ships them ------------------------------


def make_tiny_mtp(folder: Path, name: str, *, seed: int = 0) -> Path:
    """Checkpoint `name` plus one MTP layer under Qwen's `mtp.*` names (Transformers saves none): a copy of the
    last layer's tensors as mtp.layers.0, the projection joining embedding and hidden state, and its norms."""
    import numpy as np

    if name == "nemotronhmoe":
        return _make_tiny_nemotron_mtp(folder, seed=seed)
    if name in ("glm4moe", "deepseekv3", "ernie4_5_moe"):
        return _make_tiny_nextn(folder, name, seed=seed)
    make_tiny_hf(folder, name, seed=seed)
    tensors = _load_safetensors(folder / "model.safetensors")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    last = f"model.layers.{config['num_hidden_layers'] - 1}."
    rng = np.random.default_rng(seed)
    for key in [k for k in tensors if k.startswith(last)]:
        tensors["mtp.layers.0." + key.removeprefix(last)] = tensors[key].copy()
    n_embd = config["hidden_size"]
    tensors["mtp.fc.weight"] = (0.08 * rng.standard_normal((n_embd, 2 * n_embd))).astype(np.float32)
    for norm in ("pre_fc_norm_embedding", "pre_fc_norm_hidden", "norm"):
        tensors[f"mtp.{norm}.weight"] = (0.1 * rng.standard_normal(n_embd)).astype(np.float32)
    _save_safetensors(folder / "model.safetensors", tensors)
    config["mtp_num_hidden_layers"] = 1
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return folder


def _make_tiny_nextn(folder: Path, name: str, *, seed: int) -> Path:
    """GLM-4.5's and DeepSeek V3's MTP layer, as published (Transformers saves none): one more layer past
    num_hidden_layers (a copy of the last one) with the projection joining embedding and hidden state, its norms,
    and its own embedding and head; num_nextn_predict_layers 1. ERNIE 4.5's under its own names (mtp_block.0
    and the norms and projection beside it)."""
    import numpy as np

    make_tiny_hf(folder, name, seed=seed)
    tensors = _load_safetensors(folder / "model.safetensors")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    n_layer, n_embd = config["num_hidden_layers"], config["hidden_size"]
    rng = np.random.default_rng(seed)

    def weights(*shape: int) -> Any:
        return (0.08 * rng.standard_normal(shape)).astype(np.float32)

    def norm() -> Any:
        return (1.0 + 0.1 * rng.standard_normal(n_embd)).astype(np.float32)

    last = f"model.layers.{n_layer - 1}."
    block = "model.mtp_block.0." if name == "ernie4_5_moe" else f"model.layers.{n_layer}."
    for key in [k for k in tensors if k.startswith(last)]:
        tensors[block + key.removeprefix(last)] = tensors[key].copy()
    if name == "ernie4_5_moe":
        tensors["model.mtp_linear_proj.0.weight"] = weights(n_embd, 2 * n_embd)
        tensors["model.mtp_emb_norm.0.weight"] = norm()
        tensors["model.mtp_hidden_norm.0.weight"] = norm()
    else:
        tensors[block + "eh_proj.weight"] = weights(n_embd, 2 * n_embd)
        tensors[block + "enorm.weight"] = norm()
        tensors[block + "hnorm.weight"] = norm()
        tensors[block + "shared_head.norm.weight"] = norm()
        tensors[block + "embed_tokens.weight"] = tensors["model.embed_tokens.weight"].copy()
        tensors[block + "shared_head.head.weight"] = weights(config["vocab_size"], n_embd)
    _save_safetensors(folder / "model.safetensors", tensors)
    config["num_nextn_predict_layers"] = 1
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return folder


def _make_tiny_nemotron_mtp(folder: Path, *, seed: int) -> Path:
    """Nemotron 3's MTP head, as NVIDIA ships it (Transformers saves none): mtp.layers.0 holds the projection
    joining embedding and hidden state, its two norms and an attention layer (a copy of the attention layer's
    tensors), mtp.layers.1 an experts layer (a copy of the last one's) and the head's final norm."""
    import numpy as np

    make_tiny_hf(folder, "nemotronhmoe", seed=seed)
    tensors = _load_safetensors(folder / "model.safetensors")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    kinds = config["layers_block_type"]
    sources = {"0": kinds.index("full_attention"), "1": len(kinds) - 1 - kinds[::-1].index("moe")}
    for mtp, layer in sources.items():
        prefix = f"backbone.layers.{layer}."
        for key in [k for k in tensors if k.startswith(prefix)]:
            tensors[f"mtp.layers.{mtp}." + key.removeprefix(prefix)] = tensors[key].copy()
    rng = np.random.default_rng(seed)
    n_embd = config["hidden_size"]
    tensors["mtp.layers.0.eh_proj.weight"] = (0.08 * rng.standard_normal((n_embd, 2 * n_embd))).astype(np.float32)
    for norm in ("0.enorm", "0.hnorm", "1.final_layernorm"):
        tensors[f"mtp.layers.{norm}.weight"] = (1.0 + 0.1 * rng.standard_normal(n_embd)).astype(np.float32)
    _save_safetensors(folder / "model.safetensors", tensors)
    config["num_nextn_predict_layers"] = 1
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return folder


def granite4_layer_names(folder: Path) -> Path:
    """Rename a Granite hybrid config's layer types the way Granite 4's published configs spell them ("mamba",
    "attention"; Transformers 5 writes linear_attention / full_attention), the only ones llama.cpp's converter
    recognises."""
    path = folder / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    names = {"linear_attention": "mamba", "full_attention": "attention"}
    config["layer_types"] = [names.get(t, t) for t in config["layer_types"]]
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return folder


# Keys Transformers 5 writes into every Nemotron-H config, experts or not; published dense checkpoints lack them.
_NEMOTRON_MOE_KEYS = (
    "num_experts_per_tok", "n_routed_experts", "n_shared_experts", "moe_intermediate_size",
    "moe_shared_expert_intermediate_size", "moe_latent_size", "moe_shared_expert_overlap", "routed_scaling_factor",
    "n_group", "topk_group", "norm_topk_prob", "num_nextn_predict_layers", "mtp_layers_block_type",
)
_NEMOTRON_PATTERN = {"linear_attention": "M", "mamba": "M", "mlp": "-", "full_attention": "*", "attention": "*"}


def nemotron_h_as_published(folder: Path) -> Path:
    """A Transformers-saved dense Nemotron-H's config.json as NVIDIA publishes one: the layer pattern as a string
    ("M-*-"), num_hidden_layers, no expert keys. Its model_type is renamed so that llama.cpp's converter reads this
    file as written: with Transformers 5 installed it would parse it as NemotronHConfig, which adds the expert
    keys back, and then write a nemotron_h_moe GGUF that llama.cpp cannot load (MLP layers taken for Mamba ones:
    "tensor 'blk.1.ssm_in.weight' not found"), for the tiny model as for nvidia/Nemotron-H-8B-Base-8K."""
    path = folder / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    layers = config.pop("layers_block_type")
    for key in _NEMOTRON_MOE_KEYS:
        config.pop(key, None)
    config.update(
        hybrid_override_pattern="".join(_NEMOTRON_PATTERN[kind] for kind in layers),
        num_hidden_layers=len(layers),
        model_type="nemotron_h_as_published",
    )
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return folder


def make_tiny_qwen35_vl(folder: Path, *, seed: int = 0, name: str = "qwen35") -> Path:
    """Qwen3.5 as published: Qwen3_5ForConditionalGeneration (Qwen3_5MoeForConditionalGeneration for name
    "qwen35moe"), the text model under model.language_model and its settings in text_config, beside a (tiny)
    vision tower the text conversion leaves out."""
    import torch
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    special = _write_tokenizer(folder, "qwen2-bpe")
    text = {**BASE, **SPECS[name].config, "vocab_size": special["vocab"], "eos_token_id": special["eos"]}
    vision = {"depth": 1, "hidden_size": 64, "intermediate_size": 128, "num_heads": 2, "out_hidden_size": 256}
    moe = name == "qwen35moe"
    config = transformers.AutoConfig.for_model(
        "qwen3_5_moe" if moe else "qwen3_5", text_config=text, vision_config=vision
    )
    torch.manual_seed(seed)
    wrapper = transformers.Qwen3_5MoeForConditionalGeneration if moe else transformers.Qwen3_5ForConditionalGeneration
    model = wrapper(config)
    with torch.no_grad():
        for pname, param in model.named_parameters():
            param.copy_((1.0 if pname.endswith("norm.weight") else 0.0) + 0.08 * torch.randn_like(param))
    model.save_pretrained(folder, safe_serialization=True)
    return folder


def make_tiny_gemma3n_conditional(folder: Path, text_folder: Path) -> Path:
    """Gemma 3n as published: Gemma3nForConditionalGeneration, the text model (the tiny "gemma3n" one, built into
    text_folder) under model.language_model, its settings in text_config, beside stand-ins for the vision and
    audio towers and their embedders, which the text conversion leaves out. (Transformers builds the real towers
    only with timm installed; the converters never read their weights.)"""
    import torch
    import transformers
    from safetensors.torch import load_file, save_file

    make_tiny_hf(text_folder, "gemma3n")
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.model", "tokenizer_config.json"):
        (folder / name).write_bytes((text_folder / name).read_bytes())
    text = json.loads((text_folder / "config.json").read_text(encoding="utf-8"))
    text.pop("architectures", None)
    defaults = transformers.Gemma3nConfig()
    config = {
        "architectures": ["Gemma3nForConditionalGeneration"],
        "model_type": "gemma3n",
        "text_config": text,
        "vision_config": defaults.vision_config.to_dict(),
        "audio_config": defaults.audio_config.to_dict(),
        "tie_word_embeddings": True,
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    text_tensors = load_file(text_folder / "model.safetensors")
    tensors = {k.replace("model.", "model.language_model.", 1): v for k, v in text_tensors.items()}
    torch.manual_seed(1)
    for name, shape in (
        ("model.vision_tower.timm_model.conv_stem.conv.weight", (8, 3, 3, 3)),
        ("model.audio_tower.subsample_conv_projection.conv_0.conv.weight", (8, 1, 3, 3)),
        ("model.embed_vision.embedding.weight", (16, 8)),
        ("model.embed_vision.embedding_projection.weight", (64, 8)),
        ("model.embed_audio.embedding.weight", (16, 8)),
        ("model.embed_audio.hard_embedding_norm.weight", (8,)),
    ):
        tensors[name] = 0.08 * torch.randn(shape)
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder


def make_tiny_llama4_vl(folder: Path, *, seed: int = 0) -> Path:
    """Llama 4 as published: Llama4ForConditionalGeneration, the text model (the tiny "llama4" one) under
    language_model.* with its settings in text_config, beside a tiny vision model and projector the text
    conversion leaves out."""
    import torch
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    special = _write_tokenizer(folder, SPECS["llama4"].tokenizer)
    text = {**BASE, **SPECS["llama4"].config, "vocab_size": special["vocab"]}
    text.update(bos_token_id=special["bos"], eos_token_id=special["eos"], pad_token_id=None)
    vision = {
        "hidden_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 128,
        "image_size": 56,
        "patch_size": 14,
        "vision_output_dim": 128,
        "projector_input_dim": 128,
        "projector_output_dim": 256,
    }
    config = transformers.AutoConfig.for_model("llama4", text_config=text, vision_config=vision)
    torch.manual_seed(seed)
    model = transformers.Llama4ForConditionalGeneration(config)
    with torch.no_grad():
        for pname, param in model.named_parameters():
            param.copy_((1.0 if pname.endswith("norm.weight") else 0.0) + 0.08 * torch.randn_like(param))
    model.save_pretrained(folder, safe_serialization=True)
    return folder


def make_tiny_gemma4_conditional(folder: Path, text_folder: Path) -> Path:
    """Gemma 4 as published: Gemma4ForConditionalGeneration, the tiny "gemma4" text model (built into text_folder)
    under model.language_model with its settings in text_config, beside stand-ins for the vision and audio towers
    and their embedders, which the text conversion leaves out (the converters never read their weights)."""
    import torch
    import transformers
    from safetensors.torch import load_file, save_file

    make_tiny_hf(text_folder, "gemma4")
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (folder / name).write_bytes((text_folder / name).read_bytes())
    text = json.loads((text_folder / "config.json").read_text(encoding="utf-8"))
    text.pop("architectures", None)
    config = {
        "architectures": ["Gemma4ForConditionalGeneration"],
        "model_type": "gemma4",
        "text_config": text,
        "vision_config": transformers.Gemma4VisionConfig().to_dict(),
        "audio_config": transformers.Gemma4AudioConfig().to_dict(),
        "tie_word_embeddings": True,
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    text_tensors = load_file(text_folder / "model.safetensors")
    tensors = {k.replace("model.", "model.language_model.", 1): v for k, v in text_tensors.items()}
    torch.manual_seed(1)
    for name, shape in (
        ("model.vision_tower.patch_embedder.input_proj.weight", (8, 12)),
        ("model.audio_tower.subsample_conv_projection.layer0.conv.weight", (8, 1, 3, 3)),
        ("model.embed_vision.embedding_projection.weight", (64, 8)),
        ("model.embed_audio.embedding_projection.weight", (64, 8)),
    ):
        tensors[name] = 0.08 * torch.randn(shape)
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder
