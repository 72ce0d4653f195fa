"""Sparse attention with an indexer cache: deepseek32, glm-dsa, hy_v4, dots3note (DSA) and
minimax-m3 (MSA)."""

from __future__ import annotations

from app.gguf.synthetic_arch.base import Layout, per_layer


def deepseek32(lay: Layout) -> None:
    """MLA attention (compressed KV of kv_lora_rank + rope values, one head) with a lightning indexer on
    every layer; the first layer dense, the others MoE with a shared expert."""
    s = lay.spec
    e, rope, nope, kv_rank, q_rank, idx_heads = s.n_embd, 16, 16, 64, 32, 4
    idx_head = 64
    lay.common()
    lay.mla_keys(1, rope, nope, kv_rank, q_rank)
    lay.key("feed_forward_length", s.n_ff)
    lay.moe_keys(shared=True, gating=2)
    lay.indexer_keys(idx_heads, idx_head)
    for il in range(s.n_layer):
        lay.blk(il, "attn_norm.weight", e)
        lay.mla(il, rope, nope, kv_rank, q_rank)
        lay.blk(il, "ffn_norm.weight", e)
        lay.indexer(il, q_rank, idx_heads, idx_head)
        lay.dense_then_moe(il)


def glm_dsa(lay: Layout) -> None:
    """deepseek32's layout with the indexer on the layers `indexer.types` marks (every other one)."""
    deepseek32(lay)
    lay.key("attention.indexer.types", [int(il % 2 == 0) for il in range(lay.spec.n_layer)])


def minimax_m3(lay: Layout) -> None:
    """GQA attention on every layer; after the dense first layer, MoE with a shared expert and an MSA
    indexer (one key head per layer in its own cache)."""
    s = lay.spec
    kv = per_layer(s.n_head_kv, s.n_layer)[0]
    e, idx_heads, idx_head = s.n_embd, kv, 32  # llama.cpp: one indexer head per KV head
    lay.common()
    lay.attention_keys(kv)
    lay.key("feed_forward_length", s.n_ff)
    lay.moe_keys(shared=True, gating=2)
    lay.indexer_keys(idx_heads, idx_head, top_k=4)
    lay.key("attention.indexer.block_size", 64)
    lay.key("attention.indexer.local_blocks", 1)
    for il in range(s.n_layer):
        lay.attention(il, kv)
        lay.blk(il, "attn_norm.weight", e)
        lay.blk(il, "attn_q_norm.weight", s.head_dim)
        lay.blk(il, "attn_k_norm.weight", s.head_dim)
        lay.blk(il, "ffn_norm.weight", e)
        lay.dense_then_moe(il)
        if il == 0:
            continue
        lay.blk(il, "indexer.q_proj.weight", e, idx_heads * idx_head)
        lay.blk(il, "indexer.k_proj.weight", e, idx_head)
        lay.blk(il, "indexer.q_norm.weight", idx_head)
        lay.blk(il, "indexer.k_norm.weight", idx_head)


def hy_v4(lay: Layout) -> None:
    """MLA attention with sinks and a gate, hyper-connections (4 streams) around every block, a lightning
    indexer on the layers `indexer.types` marks; the first layer dense, the others MoE."""
    s = lay.spec
    e, rope, nope, kv_rank, q_rank, idx_heads, idx_head, hc = s.n_embd, 16, 16, 64, 32, 4, 32, 4
    types = [int(il % 2 == 0) for il in range(s.n_layer)]
    lay.common()
    lay.mla_keys(1, rope, nope, kv_rank, q_rank)
    lay.key("feed_forward_length", s.n_ff)
    lay.moe_keys(shared=True, gating=2)
    lay.key("hyper_connection.count", hc)
    lay.key("hyper_connection.epsilon", 1e-6)
    lay.key("hyper_connection.magnitude", 1.0)
    lay.indexer_keys(idx_heads, idx_head)
    lay.key("attention.indexer.types", types)
    lay.add("output_hc_fn.weight", hc * e, hc)
    lay.add("output_hc_base.weight", hc)
    lay.add("output_hc_scale.weight", 1)
    for il in range(s.n_layer):
        lay.blk(il, "attn_norm.weight", e)
        lay.blk(il, "attn_sinks.weight", s.n_head)
        lay.blk(il, "attn_q_a.weight", e, q_rank)
        lay.blk(il, "attn_q_a_norm.weight", q_rank)
        lay.blk(il, "attn_q_b.weight", q_rank, s.n_head * (nope + rope))
        lay.blk(il, "attn_kv_a_mqa.weight", e, kv_rank + rope)
        lay.blk(il, "attn_kv_a_norm.weight", kv_rank)
        lay.blk(il, "attn_k_b.weight", nope, kv_rank, s.n_head)
        lay.blk(il, "attn_v_b.weight", kv_rank, s.head_dim, s.n_head)
        lay.blk(il, "attn_output.weight", s.n_head * s.head_dim, e)
        lay.blk(il, "attn_gate.weight", e, s.n_head * s.head_dim)
        if types[il]:
            lay.blk(il, "indexer.attn_q_b.weight", q_rank, idx_heads * idx_head)
            lay.blk(il, "indexer.attn_k.weight", e, idx_head)
            lay.blk(il, "indexer.k_norm.weight", idx_head)
            lay.blk(il, "indexer.k_norm.bias", idx_head)
            lay.blk(il, "indexer.proj.weight", e, idx_heads)
        lay.hyper_connections(il, hc, 2 * hc, 2)
        lay.blk(il, "ffn_norm.weight", e)
        lay.dense_then_moe(il, probs_bias=False)


def dots3note(lay: Layout) -> None:
    """MLA attention with a gate on every layer, narrower on the sliding-window layers (their own
    kv_lora_rank); a lightning indexer on the full-attention layers; the first layer dense, the others MoE."""
    s = lay.spec
    e, rope, nope, q_rank, idx_heads, idx_head = s.n_embd, 16, 16, 32, 4, 64
    kv_rank, kv_rank_swa = 64, 32
    swa = [il % 4 != 2 for il in range(s.n_layer)]  # layer 2 (and 6, …) attends fully
    lay.common()
    lay.key("attention.head_count", s.n_head)
    lay.key("attention.head_count_kv", 1)
    lay.key("attention.key_length", kv_rank + rope)
    lay.key("attention.value_length", kv_rank)
    lay.key("attention.key_length_swa", kv_rank_swa + rope)
    lay.key("attention.value_length_swa", kv_rank_swa)
    lay.key("attention.key_length_mla", nope + rope)
    lay.key("attention.value_length_mla", s.head_dim)
    lay.key("attention.key_length_mla_swa", nope + rope)
    lay.key("attention.value_length_mla_swa", s.head_dim)
    lay.key("attention.q_lora_rank", q_rank)
    lay.key("attention.kv_lora_rank", kv_rank)
    lay.key("attention.kv_lora_rank_swa", kv_rank_swa)
    lay.key("attention.sliding_window", 128)
    lay.key("attention.sliding_window_pattern", [bool(x) for x in swa])
    lay.key("rope.dimension_count", rope)
    lay.key("rope.freq_base_swa", 10000.0)
    lay.key("feed_forward_length", s.n_ff)
    lay.moe_keys(shared=True, gating=2)
    lay.indexer_keys(idx_heads, idx_head)
    lay.key("attention.indexer.types", [int(not x) for x in swa])
    for il in range(s.n_layer):
        rank = kv_rank_swa if swa[il] else kv_rank
        lay.blk(il, "attn_norm.weight", e)
        lay.blk(il, "attn_q_a_norm.weight", q_rank)
        lay.blk(il, "attn_kv_a_norm.weight", rank)
        lay.blk(il, "attn_k_norm.weight", rope)
        lay.blk(il, "attn_q_a.weight", e, q_rank)
        lay.blk(il, "attn_q_b.weight", q_rank, s.n_head * (nope + rope))
        lay.blk(il, "attn_kv_a_mqa.weight", e, rank + rope)
        lay.blk(il, "attn_k_b.weight", nope, rank, s.n_head)
        lay.blk(il, "attn_v_b.weight", rank, s.head_dim, s.n_head)
        lay.blk(il, "attn_output.weight", s.n_head * s.head_dim, e)
        lay.blk(il, "attn_gate.weight", e, s.n_head)
        lay.blk(il, "ffn_norm.weight", e)
        if not swa[il]:
            lay.indexer(il, q_rank, idx_heads, idx_head)
        lay.dense_then_moe(il)


DSV4_RATIOS = (0, 4, 128, 4)  # per layer: a raw-only layer, CSA (with the indexer), HCA, CSA


def deepseek4(lay: Layout) -> None:
    """DeepSeek-V4 (models/deepseek4.cpp): one shared K/V head per layer on a sliding window, compressed
    K caches on the layers `attention.compress_ratios` marks (4: CSA with a lightning indexer, 128: HCA),
    hyper-connections (4 streams) around every block, grouped low-rank output projection, MoE with a
    shared expert on every layer (sqrt-softplus routing, no hash-routed layers)."""
    s = lay.spec
    e, hd, q_rank, groups, o_rank, hc, idx_heads, idx_head = s.n_embd, s.head_dim, 32, 2, 16, 4, 2, 64
    mix = (2 + hc) * hc
    lay.common()
    lay.key("attention.head_count", s.n_head)
    lay.key("attention.head_count_kv", 1)
    lay.key("attention.key_length", hd)
    lay.key("attention.value_length", hd)
    lay.key("rope.dimension_count", 16)
    lay.key("attention.q_lora_rank", q_rank)
    lay.key("attention.sliding_window", 128)
    lay.key("attention.output_group_count", groups)
    lay.key("attention.output_lora_rank", o_rank)
    lay.key("attention.compress_rope_freq_base", 10000.0)
    lay.key("attention.compress_ratios", list((DSV4_RATIOS * s.n_layer)[: s.n_layer]))
    lay.key("feed_forward_length", s.n_ff)
    lay.moe_keys()
    lay.key("expert_shared_count", 1)
    lay.key("expert_weights_scale", 1.0)
    lay.key("expert_weights_norm", True)
    lay.key("expert_gating_func", 4)  # sqrt-softplus, the only scoring the loader accepts
    lay.key("swiglu_clamp_exp", 10.0)
    lay.key("hash_layer_count", 0)
    lay.indexer_keys(idx_heads, idx_head, top_k=16)
    lay.key("hyper_connection.count", hc)
    lay.key("hyper_connection.sinkhorn_iterations", 4)
    lay.key("hyper_connection.epsilon", 1e-6)
    lay.add("output_hc_fn.weight", hc * e, hc)
    lay.add("output_hc_base.weight", hc)
    lay.add("output_hc_scale.weight", 1)
    for il in range(s.n_layer):
        lay.blk(il, "attn_norm.weight", e)
        lay.blk(il, "attn_sinks.weight", s.n_head)
        lay.blk(il, "attn_q_a.weight", e, q_rank)
        lay.blk(il, "attn_q_a_norm.weight", q_rank)
        lay.blk(il, "attn_q_b.weight", q_rank, s.n_head * hd)
        lay.blk(il, "attn_kv.weight", e, hd)
        lay.blk(il, "attn_kv_a_norm.weight", hd)
        lay.blk(il, "attn_output_a.weight", s.n_head * hd // groups, o_rank * groups)
        lay.blk(il, "attn_output_b.weight", groups * o_rank, e)
        lay.hyper_connections(il, hc, mix, 3)
        ratio = DSV4_RATIOS[il % len(DSV4_RATIOS)]
        if ratio:
            coff = 2 if ratio == 4 else 1
            lay.blk(il, "attn_compressor_kv.weight", e, coff * hd)
            lay.blk(il, "attn_compressor_gate.weight", e, coff * hd)
            lay.blk(il, "attn_compressor_ape.weight", coff * hd, ratio)
            lay.blk(il, "attn_compressor_norm.weight", hd)
        if ratio == 4:
            lay.blk(il, "indexer.proj.weight", e, idx_heads)
            lay.blk(il, "indexer.attn_q_b.weight", q_rank, idx_heads * idx_head)
            lay.blk(il, "indexer_compressor_kv.weight", e, 2 * idx_head)
            lay.blk(il, "indexer_compressor_gate.weight", e, 2 * idx_head)
            lay.blk(il, "indexer_compressor_ape.weight", 2 * idx_head, ratio)
            lay.blk(il, "indexer_compressor_norm.weight", idx_head)
        lay.experts(il, s.n_ff_exp)
        lay.blk(il, "exp_probs_b.bias", s.n_expert)
        lay.blk(il, "ffn_norm.weight", e)
        lay.shared_expert(il)
