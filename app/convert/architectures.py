"""Per-architecture knowledge: GGUF arch name, hyper-parameters, and the weight transforms llama.cpp expects."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import gguf
import numpy as np

from app.convert import families as fam
from app.convert import gemma3n as g3n
from app.convert import gemma4 as g4
from app.convert import hybrids as hyb
from app.convert.experts import Experts
from app.convert.hparams import Rope, first, flatten_config, rope
from app.convert.pieces import Rewrite
from app.convert.safetensors_file import TensorRef
from app.convert.text_params import text_params
from app.core.errors import ConvertError

Params = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Architecture:
    hf_names: tuple[str, ...]
    arch: gguf.MODEL_ARCH
    label: str
    write_params: Callable[[gguf.GGUFWriter, Params, int], None]
    permute_qk: bool = False  # HF stores Llama q/k rotary halves apart; llama.cpp wants them interleaved
    norm_plus_one: bool = False  # Gemma's RMSNorm multiplies by (1 + w)
    drop_lm_head: bool = False
    trim_embeddings: bool = False  # Gemma 3 pads embeddings past the vocabulary
    vocab: str = "auto"  # "spm", "bpe", "gemma4" or "auto" (tokenizer.model if present)
    literal_added_tokens: bool = False  # Phi-3's way with a SentencePiece vocabulary's added tokens
    extra_tensors: Callable[[Params], list[tuple[str, np.ndarray]]] | None = None
    experts: Experts | None = None  # per-expert tensors merged into 3-D *_exps tensors
    rewrite: Rewrite | None = None  # fused tensors split (or dropped) before name mapping
    llama_vocab: bool = False  # llama.cpp's Llama-family vocabulary rules (add_prefix_space, 49152-token BOS)
    prefix_space: bool = False  # tokenizer_config's add_prefix_space is carried over (implied by llama_vocab)
    special_roles: tuple[tuple[str, str], ...] = ()  # (role, token text) the family fixes (GLM)
    extra_blocks: Callable[[Params], int] | None = None  # layers beyond num_hidden_layers (kept MTP layers)
    mxfp4_experts: bool = False  # MXFP4 expert blocks (gpt-oss) are repacked, not converted
    vocab_size: Callable[[Params], int] | None = None  # the vocabulary's length when not config's vocab_size
    # metadata read from small checkpoint tensors (Apertus's per-layer activation parameters)
    tensor_metadata: Callable[[gguf.GGUFWriter, dict[str, TensorRef], Params], None] | None = None
    # hyper-parameters completed from the checkpoint's tensor names (MTP layers counted) before anything else
    prepare: Callable[[Params, dict[str, TensorRef]], Params] | None = None
    # checkpoint names renamed before mapping, as llama.cpp's converter does (None drops the tensor)
    rename: Callable[[str, Params], str | None] | None = None
    shift_exempt: tuple[str, ...] = ()  # norms, among norm_plus_one's, that keep their values (name suffixes)
    newer_tensors: tuple[gguf.MODEL_TENSOR, ...] = ()  # per-block tensors the gguf package's lists lack
    # refuses (ConvertError) a config.json this family's conversion cannot take, before any weight is fetched
    check: Callable[[Params], object] | None = None
    # the architecture a config.json's model converts as when not this one (Nemotron-H with experts)
    variant: Callable[[Params], Architecture | None] | None = None

    @property
    def name(self) -> str:
        return gguf.MODEL_ARCH_NAMES[self.arch]


def _common(w: gguf.GGUFWriter, hp: Params, ftype: int, *, experts: bool = False) -> None:
    w.add_block_count(int(hp["num_hidden_layers"]))
    if (n_ctx := first(hp, "max_position_embeddings", "n_positions")) is not None:
        w.add_context_length(int(n_ctx))
    w.add_embedding_length(int(first(hp, "hidden_size", required=True)))
    if (n_ff := hp.get("intermediate_size")) is not None:  # one width, or one per layer (Gemma 3n)
        w.add_feed_forward_length([int(n) for n in n_ff] if isinstance(n_ff, list) else int(n_ff))
    w.add_head_count(int(first(hp, "num_attention_heads", required=True)))
    if (n_kv := hp.get("num_key_value_heads")) is not None:
        w.add_head_count_kv(int(n_kv))
    rp = rope(hp)
    _rope_scaling(w, rp)
    if rp.theta is not None:
        w.add_rope_freq_base(rp.theta)
    if rp.theta_swa is not None:
        w.add_rope_freq_base_swa(rp.theta_swa)
    if (eps := hp.get("rms_norm_eps")) is not None:
        w.add_layer_norm_rms_eps(float(eps))
    if experts:  # where llama.cpp's converter writes them (Gemma 4 with experts)
        if (n_expert := first(hp, "num_local_experts", "num_experts", "n_routed_experts")) is not None:
            w.add_expert_count(int(n_expert))
        if (n_used := first(hp, "num_experts_per_tok", "num_experts_per_token", "top_k_experts")) is not None:
            w.add_expert_used_count(int(n_used))
    if (head_dim := hp.get("head_dim")) is not None:
        w.add_key_length(int(head_dim))
        w.add_value_length(int(head_dim))
    w.add_file_type(ftype)


def _rope_scaling(w: gguf.GGUFWriter, rp: Rope) -> None:
    kind = str(rp.scaling.get("rope_type") or "").lower()
    factor = rp.scaling.get("factor")
    if kind == "linear" and factor is not None:
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(float(factor))
    elif kind == "yarn" and factor is not None:
        w.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        w.add_rope_scaling_factor(float(factor))
        w.add_rope_scaling_orig_ctx_len(int(rp.scaling["original_max_position_embeddings"]))
        optional = {
            "extrapolation_factor": w.add_rope_scaling_yarn_ext_factor,
            "attention_factor": w.add_rope_scaling_yarn_attn_factor,
            "beta_fast": w.add_rope_scaling_yarn_beta_fast,
            "beta_slow": w.add_rope_scaling_yarn_beta_slow,
        }
        for key, add in optional.items():
            if rp.scaling.get(key) is not None:
                add(float(rp.scaling[key]))
    elif kind in ("su", "longrope"):
        w.add_rope_scaling_type(gguf.RopeScalingType.LONGROPE)


def _head_dim(hp: Params) -> int:
    return int(hp.get("head_dim") or hp["hidden_size"] // hp["num_attention_heads"])


def _llama_params(w: gguf.GGUFWriter, hp: Params, ftype: int) -> None:
    _common(w, hp, ftype)
    w.add_vocab_size(int(hp["vocab_size"]))
    w.add_rope_dimension_count(_head_dim(hp))


def _llama3_rope_factors(hp: Params, default_factor: float = 8.0) -> list[tuple[str, np.ndarray]]:
    """Llama 3.1+ bakes its long-context frequency scaling into a rope_freqs tensor.

    Computed in float32 step by step as llama.cpp's converter computes it with torch (which divides a number
    by a tensor as reciprocal-then-multiply); only base**x comes from float64, correctly rounded, where torch
    uses its vector math library's powf: the two may differ by one unit in the last place."""
    rp = rope(hp)
    if str(rp.scaling.get("rope_type") or "").lower() != "llama3":
        return []
    f32 = np.float32
    base = rp.theta or 10000.0
    dim = _head_dim(hp)
    exponents = np.arange(0, dim, 2, dtype=f32) / f32(dim)
    freqs = f32(1) / (np.float64(base) ** exponents.astype(np.float64)).astype(f32)
    factor = float(rp.scaling.get("factor", default_factor))
    low = float(rp.scaling.get("low_freq_factor", 1.0))
    high = float(rp.scaling.get("high_freq_factor", 4.0))
    old_ctx = float(rp.scaling.get("original_max_position_embeddings", 8192))
    out = []
    for freq in freqs:
        wavelen = (f32(1) / freq) * f32(2 * math.pi)
        if wavelen < f32(old_ctx / high):
            out.append(f32(1))
        elif wavelen > f32(old_ctx / low):
            out.append(f32(factor))
        else:
            smooth = ((f32(1) / wavelen) * f32(old_ctx) - f32(low)) / f32(high - low)
            out.append(f32(1) / ((f32(1) - smooth) / f32(factor) + smooth))
    return [("rope_freqs.weight", np.array(out, dtype=f32))]


def _gemma2_params(w: gguf.GGUFWriter, hp: Params, ftype: int) -> None:
    w.add_context_length(int(hp["max_position_embeddings"]))
    w.add_embedding_length(int(hp["hidden_size"]))
    w.add_block_count(int(hp["num_hidden_layers"]))
    w.add_feed_forward_length(int(hp["intermediate_size"]))
    w.add_head_count(int(hp["num_attention_heads"]))
    w.add_head_count_kv(int(hp.get("num_key_value_heads") or hp["num_attention_heads"]))
    w.add_layer_norm_rms_eps(float(hp["rms_norm_eps"]))
    w.add_key_length(int(hp["head_dim"]))
    w.add_value_length(int(hp["head_dim"]))
    w.add_file_type(ftype)
    w.add_attn_logit_softcapping(float(hp["attn_logit_softcapping"]))
    w.add_final_logit_softcapping(float(hp["final_logit_softcapping"]))
    w.add_sliding_window(int(hp["sliding_window"]))


def _gemma3_params(w: gguf.GGUFWriter, hp: Params, ftype: int, *, experts: bool = False) -> None:
    # Gemma 3 configs omit several values; these are the model's documented defaults.
    hp = {
        "max_position_embeddings": 131072,
        "num_attention_heads": 8,
        "num_key_value_heads": 4,
        "rms_norm_eps": 1e-6,
        "head_dim": 256,
        **{k: v for k, v in hp.items() if v is not None},
    }
    rp = rope(hp)
    if rp.theta is None:
        hp["rope_theta"] = 1_000_000.0
    _common(w, hp, ftype, experts=experts)
    if hp.get("attn_logit_softcapping") is not None:
        raise ConvertError("a Gemma 3 config with attention soft-capping is not a Gemma 3 model llama.cpp runs")
    if hp.get("final_logit_softcapping"):
        w.add_final_logit_softcapping(float(hp["final_logit_softcapping"]))
    if hp.get("sliding_window_pattern") != 1:
        w.add_sliding_window(int(hp["sliding_window"]))


def _phi3_rope(hp: Params) -> tuple[int, int, int]:
    n_embd = int(hp["hidden_size"])
    n_head = int(hp["num_attention_heads"])
    rp = rope(hp)
    orig = first(rp.scaling, "original_max_position_embeddings") or first(
        hp, "original_max_position_embeddings", "max_position_embeddings", required=True
    )
    rot_pct = float(rp.scaling.get("partial_rotary_factor", 1.0))
    return int(orig), int(rot_pct * n_embd) // n_head, int(hp["max_position_embeddings"])


def _phi3_params(w: gguf.GGUFWriter, hp: Params, ftype: int) -> None:
    orig_ctx, rope_dims, n_ctx = _phi3_rope(hp)
    w.add_context_length(n_ctx)
    w.add_rope_scaling_orig_ctx_len(orig_ctx)
    w.add_embedding_length(int(hp["hidden_size"]))
    w.add_feed_forward_length(int(hp["intermediate_size"]))
    w.add_block_count(int(hp["num_hidden_layers"]))
    w.add_head_count(int(hp["num_attention_heads"]))
    w.add_head_count_kv(int(hp["num_key_value_heads"]))
    w.add_layer_norm_rms_eps(float(hp["rms_norm_eps"]))
    w.add_rope_dimension_count(rope_dims)
    w.add_rope_freq_base(rope(hp).theta or 10000.0)
    w.add_file_type(ftype)
    # 0 tells llama.cpp this Phi-3 has no sliding window (Phi-4 shares the architecture).
    w.add_sliding_window(int(hp.get("sliding_window") or 0))
    _phi3_attn_factor(w, hp)


def _phi3_attn_factor(w: gguf.GGUFWriter, hp: Params) -> None:
    rp = rope(hp)
    if not rp.scaling.get("long_factor"):
        return
    orig_ctx, _, n_ctx = _phi3_rope(hp)
    scale = n_ctx / orig_ctx
    kind = str(rp.scaling.get("rope_type") or "").lower()
    if kind in ("su", "longrope"):
        factor = math.sqrt(1 + math.log(scale) / math.log(orig_ctx)) if scale > 1.0 else 1.0
    elif kind == "yarn":
        factor = 0.1 * math.log(scale) + 1.0 if scale > 1.0 else 1.0
    else:
        raise ConvertError(f"Phi-3 rope scaling {kind!r} is not supported")
    w.add_rope_scaling_attn_factors(factor)


def _phi3_rope_factors(hp: Params) -> list[tuple[str, np.ndarray]]:
    rp = rope(hp)
    long_f, short_f = rp.scaling.get("long_factor"), rp.scaling.get("short_factor")
    if not long_f:
        return []
    _, rope_dims, _ = _phi3_rope(hp)
    if not short_f or len(long_f) != len(short_f) or len(long_f) * 2 != rope_dims:
        raise ConvertError(f"Phi-3 long/short rope factors must both have {rope_dims // 2} values")
    return [
        ("rope_factors_long.weight", np.array(long_f, dtype=np.float32)),
        ("rope_factors_short.weight", np.array(short_f, dtype=np.float32)),
    ]


ARCHITECTURES: tuple[Architecture, ...] = (
    Architecture(
        ("LlamaForCausalLM", "LLaMAForCausalLM"),
        gguf.MODEL_ARCH.LLAMA,
        "Llama 2/3",
        _llama_params,
        permute_qk=True,
        extra_tensors=_llama3_rope_factors,
    ),
    Architecture(
        ("MistralForCausalLM",),
        gguf.MODEL_ARCH.LLAMA,
        "Mistral",
        _llama_params,
        permute_qk=True,
        extra_tensors=_llama3_rope_factors,
    ),
    Architecture(("Qwen2ForCausalLM",), gguf.MODEL_ARCH.QWEN2, "Qwen2/2.5", _common),
    Architecture(("Qwen3ForCausalLM",), gguf.MODEL_ARCH.QWEN3, "Qwen3", _common),
    Architecture(
        ("Gemma2ForCausalLM",),
        gguf.MODEL_ARCH.GEMMA2,
        "Gemma 2",
        _gemma2_params,
        norm_plus_one=True,
        drop_lm_head=True,
        vocab="spm",
    ),
    Architecture(
        ("Gemma3ForCausalLM", "Gemma3ForConditionalGeneration"),
        gguf.MODEL_ARCH.GEMMA3,
        "Gemma 3 (text)",
        _gemma3_params,
        norm_plus_one=True,
        trim_embeddings=True,
    ),
    Architecture(
        ("Gemma3nForCausalLM", "Gemma3nForConditionalGeneration"),
        gguf.MODEL_ARCH.GEMMA3N,
        "Gemma 3n (text)",
        partial(g3n.write_params, gemma3_params=_gemma3_params),
        vocab="auto",
        check=g3n.check,
        rename=g3n.rename,
        rewrite=g3n.rewrite,
        experts=g3n.ALTUP_STACKS,  # not experts: AltUp's projections, stacked the same way
    ),
    Architecture(
        ("Gemma4ForCausalLM", "Gemma4ForConditionalGeneration"),
        gguf.MODEL_ARCH.GEMMA4,
        "Gemma 4 (text)",
        partial(g4.write_params, gemma3_params=partial(_gemma3_params, experts=True)),
        trim_embeddings=True,
        vocab="gemma4",
        extra_tensors=g4.rope_freqs,
        check=g4.check,
        rename=g4.rename,
        rewrite=g4.rewrite,
    ),
    Architecture(
        ("Phi3ForCausalLM",),
        gguf.MODEL_ARCH.PHI3,
        "Phi-3",
        _phi3_params,
        extra_tensors=_phi3_rope_factors,
        literal_added_tokens=True,
    ),
)


MOE_AND_NEWER: tuple[Architecture, ...] = (
    Architecture(
        ("Qwen3MoeForCausalLM",),
        gguf.MODEL_ARCH.QWEN3MOE,
        "Qwen3 MoE",
        fam.qwen_moe_params,
        vocab="bpe",
        experts=fam.QWEN_EXPERTS,
    ),
    Architecture(
        ("MixtralForCausalLM",),
        gguf.MODEL_ARCH.LLAMA,
        "Mixtral",
        fam.llama_params,
        permute_qk=True,
        extra_tensors=_llama3_rope_factors,
        experts=fam.MIXTRAL_EXPERTS,
        llama_vocab=True,
    ),
    Architecture(
        ("Qwen2MoeForCausalLM",),
        gguf.MODEL_ARCH.QWEN2MOE,
        "Qwen2 MoE",
        fam.qwen_moe_params,
        vocab="bpe",
        experts=fam.QWEN_EXPERTS,
    ),
    Architecture(
        ("OlmoeForCausalLM",), gguf.MODEL_ARCH.OLMOE, "OLMoE", fam.olmoe_params, vocab="bpe", experts=fam.QWEN_EXPERTS
    ),
    Architecture(
        ("SmolLM3ForCausalLM",),
        gguf.MODEL_ARCH.SMOLLM3,
        "SmolLM3",
        fam.llama_params,
        permute_qk=True,
        extra_tensors=_llama3_rope_factors,
        llama_vocab=True,
    ),
    Architecture(
        ("GraniteForCausalLM",),
        gguf.MODEL_ARCH.GRANITE,
        "Granite 3",
        fam.granite_params,
        permute_qk=True,
        extra_tensors=_llama3_rope_factors,
        llama_vocab=True,
    ),
    Architecture(
        ("GraniteMoeForCausalLM", "GraniteMoeSharedForCausalLM"),
        gguf.MODEL_ARCH.GRANITE_MOE,
        "Granite 3 MoE",
        fam.granite_moe_params,
        permute_qk=True,
        extra_tensors=_llama3_rope_factors,
        rewrite=fam.granite_moe_rewrite,
        llama_vocab=True,
    ),
    Architecture(
        ("Olmo2ForCausalLM", "Olmo3ForCausalLM"), gguf.MODEL_ARCH.OLMO2, "OLMo 2 / 3", fam.olmo2_params, vocab="bpe"
    ),
    Architecture(("SeedOssForCausalLM",), gguf.MODEL_ARCH.SEED_OSS, "Seed-OSS", text_params, vocab="bpe"),
    Architecture(
        ("Exaone4ForCausalLM",),
        gguf.MODEL_ARCH.EXAONE4,
        "EXAONE 4",
        fam.exaone4_params,
        vocab="bpe",
        extra_tensors=lambda hp: _llama3_rope_factors(hp, default_factor=16.0),
    ),
    Architecture(
        ("Cohere2ForCausalLM",),
        gguf.MODEL_ARCH.COHERE2,
        "Command R7B (Cohere2)",
        fam.cohere2_params,
        vocab="bpe",
        rewrite=fam.cohere2_rewrite,
    ),
    Architecture(
        ("Glm4ForCausalLM",), gguf.MODEL_ARCH.GLM4, "GLM-4", fam.glm4_params, vocab="bpe", special_roles=fam.GLM4_ROLES
    ),
    Architecture(
        ("Glm4MoeForCausalLM",),
        gguf.MODEL_ARCH.GLM4_MOE,
        "GLM-4.5 / 4.6 MoE",
        fam.glm4_moe_params,
        vocab="bpe",
        experts=fam.GLM_EXPERTS,
        special_roles=fam.GLM4_MOE_ROLES,
        extra_blocks=fam.mtp_layers,
        rename=fam.drop_mtp_layers,
    ),
    Architecture(
        ("DeepseekV3ForCausalLM", "DeepseekV2ForCausalLM"),
        gguf.MODEL_ARCH.DEEPSEEK2,
        "DeepSeek V2 / V3 (MLA)",
        fam.deepseek_params,
        vocab="bpe",
        experts=fam.DEEPSEEK_EXPERTS,
        rewrite=fam.deepseek_rewrite,
    ),
    Architecture(
        ("GptOssForCausalLM",),
        gguf.MODEL_ARCH.GPT_OSS,
        "gpt-oss",
        fam.gpt_oss_params,
        vocab="bpe",
        rewrite=fam.gpt_oss_rewrite,
        mxfp4_experts=True,
    ),
    Architecture(
        ("Llama4ForConditionalGeneration", "Llama4ForCausalLM"),
        gguf.MODEL_ARCH.LLAMA4,
        "Llama 4 (text)",
        fam.llama4_params,
        vocab="bpe",
        extra_tensors=_llama3_rope_factors,
        rewrite=fam.llama4_rewrite,
    ),
    Architecture(
        ("Lfm2ForCausalLM", "LFM2ForCausalLM"),
        gguf.MODEL_ARCH.LFM2,
        "LFM2",
        fam.lfm2_params,
        vocab="bpe",
        rewrite=fam.lfm2_rewrite,
    ),
    Architecture(
        ("Lfm2MoeForCausalLM",),
        gguf.MODEL_ARCH.LFM2MOE,
        "LFM2 MoE",
        fam.lfm2_moe_params,
        vocab="bpe",
        rewrite=fam.lfm2_moe_rewrite,
        experts=fam.LFM2_EXPERTS,
    ),
    Architecture(
        ("Mamba2ForCausalLM",),
        gguf.MODEL_ARCH.MAMBA2,
        "Mamba-2",
        fam.mamba2_params,
        rewrite=fam.mamba2_rewrite,
        vocab_size=fam.mamba2_vocab_size,
    ),
    Architecture(
        ("ApertusForCausalLM",),
        gguf.MODEL_ARCH.APERTUS,
        "Apertus",
        fam.llama_params,
        extra_tensors=_llama3_rope_factors,
        rewrite=fam.apertus_rewrite,
        llama_vocab=True,
        tensor_metadata=fam.apertus_metadata,
    ),
    Architecture(
        ("Ernie4_5_ForCausalLM", "Ernie4_5ForCausalLM"),
        gguf.MODEL_ARCH.ERNIE4_5,
        "ERNIE 4.5",
        fam.ernie_params,
        vocab="spm",
        rewrite=fam.ernie_rewrite,
        prefix_space=True,
    ),
    Architecture(
        ("Ernie4_5_MoeForCausalLM",),
        gguf.MODEL_ARCH.ERNIE4_5_MOE,
        "ERNIE 4.5 MoE",
        fam.ernie_moe_params,
        vocab="spm",
        rewrite=fam.ernie_moe_rewrite,
        prefix_space=True,
        experts=fam.ERNIE_EXPERTS,
    ),
)


def _qwen_linear_attention(
    hf_names: tuple[str, ...],
    arch: gguf.MODEL_ARCH,
    label: str,
    write_params: Callable[[gguf.GGUFWriter, Params, int], None],
    rewrite: Rewrite,
    experts: Experts | None = None,
) -> Architecture:
    """Qwen's gated delta-net families (Qwen3-Next, Qwen3.5): one norm convention, one BPE vocabulary, MTP layers."""
    return Architecture(
        hf_names,
        arch,
        label,
        write_params,
        norm_plus_one=True,
        shift_exempt=("linear_attn.norm.weight",),
        vocab="bpe",
        experts=experts,
        rewrite=rewrite,
        prepare=hyb.qwen_mtp_prepare,
        rename=hyb.qwen_mtp_rename,
        extra_blocks=hyb.mtp_blocks,
        newer_tensors=hyb.NEXTN_TENSORS,
    )


HYBRIDS: tuple[Architecture, ...] = (
    _qwen_linear_attention(
        ("Qwen3NextForCausalLM",),
        gguf.MODEL_ARCH.QWEN3NEXT,
        "Qwen3-Next",
        hyb.qwen3next_params,
        hyb.qwen3next_rewrite,
        experts=hyb.QWEN_MOE_EXPERTS,
    ),
    _qwen_linear_attention(
        ("Qwen3_5ForCausalLM", "Qwen3_5ForConditionalGeneration"),
        gguf.MODEL_ARCH.QWEN35,
        "Qwen3.5",
        hyb.qwen35_params,
        hyb.qwen35_rewrite,
    ),
    _qwen_linear_attention(
        ("Qwen3_5MoeForCausalLM", "Qwen3_5MoeForConditionalGeneration"),
        gguf.MODEL_ARCH.QWEN35MOE,
        "Qwen3.5 MoE",
        hyb.qwen35_params,
        hyb.qwen35_rewrite,
        experts=hyb.QWEN_MOE_EXPERTS,
    ),
    Architecture(
        ("JambaForCausalLM",),
        gguf.MODEL_ARCH.JAMBA,
        "Jamba",
        hyb.jamba_params,
        vocab="spm",
        experts=hyb.JAMBA_EXPERTS,
        rename=hyb.jamba_rename,
        rewrite=hyb.jamba_rewrite,
    ),
    Architecture(
        ("GraniteMoeHybridForCausalLM",),
        gguf.MODEL_ARCH.GRANITE_HYBRID,
        "Granite 4.0-H (hybrid)",
        hyb.granite_hybrid_params,
        permute_qk=True,
        rewrite=hyb.granite_hybrid_rewrite,
        vocab="bpe",
        vocab_size=hyb.granite_hybrid_vocab_size,
    ),
    Architecture(
        ("NemotronHForCausalLM",),
        gguf.MODEL_ARCH.NEMOTRON_H,
        "Nemotron-H",
        hyb.nemotron_h_params,
        permute_qk=True,
        rewrite=hyb.nemotron_h_rewrite,
        prepare=hyb.nemotron_h_prepare,
        rename=hyb.nemotron_h_rename,  # MTP tensors left out on request (llama.cpp has no dense MTP block)
        check=hyb.nemotron_h_layers,
        vocab="bpe",
        vocab_size=hyb.granite_hybrid_vocab_size,
        variant=lambda hp: _nemotron_h_variant(hp),
    ),
    Architecture(
        ("FalconH1ForCausalLM",),
        gguf.MODEL_ARCH.FALCON_H1,
        "Falcon-H1",
        hyb.falcon_h1_params,
        rewrite=hyb.falcon_h1_rewrite,
        vocab="bpe",
    ),
)
ARCHITECTURES = ARCHITECTURES + MOE_AND_NEWER + HYBRIDS
# Reached only through the dense Nemotron-H's variant: both come as NemotronHForCausalLM.
NEMOTRON_H_MOE: Architecture = Architecture(
    ("NemotronHForCausalLM",),
    gguf.MODEL_ARCH.NEMOTRON_H_MOE,
    "Nemotron-H with experts (Nemotron 3)",
    hyb.nemotron_h_moe_params,
    permute_qk=True,
    rewrite=hyb.nemotron_h_rewrite,
    prepare=hyb.nemotron_h_prepare,
    rename=hyb.nemotron_h_rename,
    extra_blocks=hyb.mtp_blocks,
    newer_tensors=(*hyb.NEXTN_TENSORS, gguf.MODEL_TENSOR.ATTN_POST_NORM),  # the MTP block's
    check=hyb.nemotron_h_layers,
    vocab="bpe",
    vocab_size=hyb.granite_hybrid_vocab_size,
    experts=hyb.NEMOTRON_H_EXPERTS,
)


def _nemotron_h_variant(hp: Params) -> Architecture | None:
    return NEMOTRON_H_MOE if hyb.nemotron_h_has_experts(hp) else None


def resolve(arch: Architecture, hp: Params) -> Architecture:
    """The architecture this model converts as: `arch`, or the variant its config.json calls for."""
    return (arch.variant(hp) if arch.variant is not None else None) or arch


def supported_names() -> str:
    return ", ".join(f"{a.label} ({a.hf_names[0]})" for a in ARCHITECTURES)


def find_architecture(hf_arch: str) -> Architecture:
    for arch in ARCHITECTURES:
        if hf_arch in arch.hf_names:
            return arch
    raise ConvertError(
        f"architecture {hf_arch or '(none given)'} is not supported for conversion",
        hint=f"supported: {supported_names()}. llama.cpp's convert_hf_to_gguf.py (with torch) converts many more "
        "families; convert there and open the GGUF here to quantize it",
    )


def check_config(config: dict[str, Any]) -> Architecture:
    """The architecture of a config.json we can convert, judged from that file alone (before any weight)."""
    names = config.get("architectures") or []
    arch = find_architecture(str(names[0]) if isinstance(names, list) and names else "")
    hp = flatten_config(config)
    if arch.check is not None:
        arch.check(hp)
    return resolve(arch, hp)
