"""Linear-attention hybrids: gated delta net (qwen3next, qwen35, qwen35moe), short convolutions (lfm2, lfm2moe),
Kimi delta attention (kimi-linear, kimi-k3, bailingmoe3, glm5-next) and lightning attention (minimax-01)."""

from __future__ import annotations

from app.gguf.synthetic_arch.base import Layout, U64Array, per_layer


def gated_delta_net(lay: Layout, moe: bool, fused_ba: bool) -> None:
    """qwen3next (fused beta/alpha, MoE), qwen35 (dense), qwen35moe: the gated delta net on the recurrent
    layers, gated attention (Q twice as wide) on every full_attention_interval-th layer and on the MTP
    blocks (which add the NextN head)."""
    s = lay.spec
    kv = per_layer(s.n_head_kv, s.n_layer)[0]
    lay.common()
    lay.attention_keys(kv)
    lay.key("feed_forward_length", s.n_ff)
    lay.key("full_attention_interval", s.full_attention_interval)
    lay.key("rope.dimension_sections", [4, 2, 2, 0])
    lay.ssm_keys()
    if moe:
        lay.moe_keys()
        lay.key("expert_shared_feed_forward_length", s.n_ff_exp)
    key_dim = s.d_state * s.n_group
    value_dim = s.d_state * s.dt_rank
    trunk = s.n_layer - s.n_nextn
    for il in range(s.n_layer):
        lay.blk(il, "attn_norm.weight", s.n_embd)
        lay.blk(il, "post_attention_norm.weight", s.n_embd)
        if il >= trunk or (il + 1) % s.full_attention_interval == 0:
            lay.qkv(il, 2 * s.head_dim * s.n_head, kv)
            lay.blk(il, "attn_output.weight", s.head_dim * s.n_head, s.n_embd)
            lay.blk(il, "attn_q_norm.weight", s.head_dim)
            lay.blk(il, "attn_k_norm.weight", s.head_dim)
        else:
            lay.blk(il, "attn_qkv.weight", s.n_embd, 2 * key_dim + value_dim)
            lay.blk(il, "attn_gate.weight", s.n_embd, value_dim)
            lay.blk(il, "ssm_conv1d.weight", s.d_conv, 2 * key_dim + value_dim)
            lay.blk(il, "ssm_dt.bias", s.dt_rank)
            lay.blk(il, "ssm_a", s.dt_rank)
            if fused_ba:
                lay.blk(il, "ssm_ba.weight", s.n_embd, 2 * s.dt_rank)
            else:
                lay.blk(il, "ssm_beta.weight", s.n_embd, s.dt_rank)
                lay.blk(il, "ssm_alpha.weight", s.n_embd, s.dt_rank)
            lay.blk(il, "ssm_norm.weight", s.d_state)
            lay.blk(il, "ssm_out.weight", value_dim, s.n_embd)
        if moe:
            lay.experts(il, s.n_ff_exp)
            lay.blk(il, "ffn_gate_inp_shexp.weight", s.n_embd)
            lay.shared_expert(il)
        else:
            lay.ffn(il, per_layer(s.n_ff, s.n_layer)[il])
        if il >= trunk:
            lay.nextn(il)


def lfm2(lay: Layout, moe: bool) -> None:
    s = lay.spec
    kv = per_layer(s.n_head_kv, s.n_layer)
    lay.common(norm="token_embd_norm.weight")
    lay.attention_keys(kv)
    lay.key("feed_forward_length", s.n_ff)
    lay.key("shortconv.l_cache", s.l_cache)
    n_dense = 1 if moe else s.n_layer
    if moe:
        lay.moe_keys()
        lay.key("leading_dense_block_count", n_dense)
        lay.key("expert_gating_func", 2)
    for il in range(s.n_layer):
        lay.blk(il, "ffn_norm.weight", s.n_embd)
        if il >= n_dense:
            lay.experts(il, s.n_ff_exp)
            lay.blk(il, "exp_probs_b.bias", s.n_expert)
        else:
            lay.ffn(il, per_layer(s.n_ff, s.n_layer)[il])
        lay.blk(il, "attn_norm.weight", s.n_embd)
        if kv[il]:
            lay.blk(il, "attn_q_norm.weight", s.head_dim)
            lay.blk(il, "attn_k_norm.weight", s.head_dim)
            lay.attention(il, kv[il], q_width=s.n_embd)
        else:
            lay.blk(il, "shortconv.conv.weight", s.l_cache, s.n_embd)
            lay.blk(il, "shortconv.in_proj.weight", s.n_embd, 3 * s.n_embd)
            lay.blk(il, "shortconv.out_proj.weight", s.n_embd, s.n_embd)


# MLA sizes of the Kimi-delta-attention hybrids' attention layers: rope and nope head parts, kv_lora_rank.
_ROPE, _NOPE, _KV_RANK = 16, 16, 64


def _kda_keys(
    lay: Layout,
    rope: int,
    nope: int,
    kv_rank: int,
    q_rank: int = 0,
    gating: int | None = 2,
    extra: tuple[tuple[str, float], ...] = (),
) -> list[int]:
    """The header of the Kimi-delta-attention hybrids (MLA on the layers with KV heads, KDA on the others,
    MoE with a shared expert after a dense first layer); the `extra` (key, value) pairs follow kda.head_dim.
    Returns the per-layer KV head counts."""
    s = lay.spec
    kv = per_layer(s.n_head_kv, s.n_layer)
    lay.common()
    lay.mla_keys(kv, rope, nope, kv_rank, q_rank)
    lay.key("ssm.conv_kernel", s.d_conv)
    lay.key("kda.head_dim", s.head_dim)
    for key, value in extra:
        lay.key(key, value)
    lay.key("feed_forward_length", s.n_ff)
    lay.moe_keys(shared=True, gating=gating)
    return kv


def _kda(lay: Layout, il: int, conv_tail: tuple[int, ...], a_shape: tuple[int, ...], lora: bool, gate: str) -> None:
    """One Kimi-delta-attention layer (head_dim × n_head wide): convolutions over q, k, v, the decay `f`
    (through a head_dim LoRA when `lora`), beta, A, and the output gate (`gate`: "lora" a head_dim LoRA,
    "full" one full-rank ssm_g, "full_a" one full-rank ssm_g_a)."""
    s = lay.spec
    e, kda = s.n_embd, s.head_dim
    width = kda * s.n_head
    for x in "qkv":
        lay.blk(il, f"ssm_conv1d_{x}.weight", s.d_conv, 1, width, *conv_tail)
    for x in "qkv":
        lay.blk(il, f"attn_{x}.weight", e, width)
    if lora:
        lay.blk(il, "ssm_f_a.weight", e, kda)
        lay.blk(il, "ssm_f_b.weight", kda, width)
    else:
        lay.blk(il, "ssm_f_a.weight", e, width)
    lay.blk(il, "ssm_beta.weight", e, s.n_head)
    lay.blk(il, "ssm_a", *a_shape)
    lay.blk(il, "ssm_dt.bias", width)
    if gate == "lora":
        lay.blk(il, "ssm_g_a.weight", e, kda)
        lay.blk(il, "ssm_g_b.weight", kda, width)
    else:
        lay.blk(il, "ssm_g.weight" if gate == "full" else "ssm_g_a.weight", e, width)
    lay.blk(il, "ssm_norm.weight", kda)
    lay.blk(il, "attn_output.weight", width, e)


def kimi_linear(lay: Layout) -> None:
    """Kimi delta attention on the layers with 0 KV heads, MLA (one compressed KV head) on the others;
    the first layer dense, the others MoE with a shared expert."""
    s = lay.spec
    kv = _kda_keys(lay, _ROPE, _NOPE, _KV_RANK)
    for il in range(s.n_layer):
        lay.blk(il, "attn_norm.weight", s.n_embd)
        if kv[il] == 0:
            _kda(lay, il, (), (1, s.n_head), lora=True, gate="lora")
        else:
            lay.mla(il, _ROPE, _NOPE, _KV_RANK)
        lay.blk(il, "ffn_norm.weight", s.n_embd)
        if il == 0:
            lay.ffn(il, per_layer(s.n_ff, s.n_layer)[il])
        else:
            lay.experts(il, s.n_ff_exp)
            lay.shared_expert(il)
            lay.blk(il, "exp_probs_b.bias", s.n_expert)


def bailingmoe3(lay: Layout) -> None:
    """Kimi delta attention (one projection per gate, convolutions over q, k, v) on the layers with 0 KV
    heads, gated MLA on the others; the first layer dense, the others MoE with a shared expert."""
    s = lay.spec
    e, rope, nope, kv_rank = s.n_embd, _ROPE, _NOPE, _KV_RANK
    kv = _kda_keys(lay, rope, nope, kv_rank, extra=(("kda.gate_lower_bound", -5.0),))
    for il in range(s.n_layer):
        lay.blk(il, "attn_norm.weight", e)
        if kv[il] == 0:
            _kda(lay, il, (1,), (1, s.n_head), lora=False, gate="full_a")
        else:
            lay.blk(il, "attn_q.weight", e, s.n_head * (nope + rope))
            lay.blk(il, "attn_kv_a_mqa.weight", e, kv_rank + rope)
            lay.blk(il, "attn_kv_a_norm.weight", kv_rank)
            lay.blk(il, "attn_k_b.weight", nope, kv_rank, s.n_head)
            lay.blk(il, "attn_v_b.weight", kv_rank, s.head_dim, s.n_head)
            lay.blk(il, "attn_gate.weight", e, s.n_head)
            lay.blk(il, "attn_output.weight", s.n_head * s.head_dim, e)
        lay.blk(il, "ffn_norm.weight", e)
        lay.dense_then_moe(il)


def minimax_01(lay: Layout) -> None:
    """Lightning (linear) attention on the recurrent layers, softmax attention on every
    full_attention_interval-th layer, MoE feed-forward everywhere."""
    s = lay.spec
    kv = per_layer(s.n_head_kv, s.n_layer)[0]
    q_width = s.head_dim * s.n_head
    lay.common()
    lay.attention_keys(kv)
    lay.key("feed_forward_length", s.n_ff_exp)
    lay.key("full_attention_interval", s.full_attention_interval)
    lay.key("residual_scale", 1.0)
    lay.key("expert_count", s.n_expert)
    lay.key("expert_used_count", s.n_expert_used)
    for il in range(s.n_layer):
        lay.blk(il, "attn_norm.weight", s.n_embd)
        if (il + 1) % s.full_attention_interval == 0:
            lay.qkv(il, q_width, kv)
        else:
            lay.blk(il, "attn_norm_2.weight", q_width)
            lay.blk(il, "attn_qkv.weight", s.n_embd, 3 * q_width)
            lay.blk(il, "attn_gate.weight", s.n_embd, q_width)
        lay.blk(il, "attn_output.weight", q_width, s.n_embd)
        lay.blk(il, "ffn_norm.weight", s.n_embd)
        lay.experts(il, s.n_ff_exp)


def kimi_k3(lay: Layout) -> None:
    """kimi-linear's layout with Kimi-K3's single full-rank gate (ssm_g) and 1-D decay (ssm_a)."""
    s = lay.spec
    kv = _kda_keys(lay, _ROPE, _NOPE, _KV_RANK)
    lay.key("attn_res.block_size", 0)
    lay.key("activation.situ_beta", 1.0)
    lay.key("activation.situ_linear_beta", 1.0)
    for il in range(s.n_layer):
        lay.blk(il, "attn_norm.weight", s.n_embd)
        lay.blk(il, "ffn_norm.weight", s.n_embd)
        if kv[il] == 0:
            _kda(lay, il, (1,), (s.n_head,), lora=True, gate="full")
        else:
            lay.mla(il, _ROPE, _NOPE, _KV_RANK)
        lay.dense_then_moe(il)


def glm5_next(lay: Layout) -> None:
    """Kimi delta attention on the layers with 0 KV heads, MLA with a pooled-key lightning indexer on the
    others, hyper-connections (4 streams) around every block; the first layer dense, the others MoE."""
    s = lay.spec
    e, rope, nope, kv_rank, q_rank, hc = s.n_embd, 0, 32, 64, 32, 4  # nope-only MLA
    idx_heads, idx_head, kpool = 4, 64, 4
    kv = _kda_keys(lay, rope, nope, kv_rank, q_rank, gating=None)
    lay.indexer_keys(idx_heads, idx_head)
    lay.key("attention.indexer.kpool", kpool)
    lay.key("hyper_connection.count", hc)
    lay.key("hyper_connection.sinkhorn_iterations", 4)
    lay.key("hyper_connection.epsilon", 1e-6)
    for il in range(s.n_layer):
        lay.blk(il, "attn_norm.weight", e)
        lay.blk(il, "ffn_norm.weight", e)
        lay.hyper_connections(il, hc, (2 + hc) * hc, 3)
        if kv[il] == 0:
            _kda(lay, il, (1,), (s.n_head,), lora=True, gate="lora")
        else:
            lay.mla(il, rope, nope, kv_rank, q_rank)
            lay.indexer(il, q_rank, idx_heads, idx_head)
            lay.blk(il, "indexer_compressor_gate.weight", e, idx_head)
            lay.blk(il, "indexer_compressor_ape.weight", idx_head, kpool)
        lay.dense_then_moe(il)


def qwen4exp(lay: Layout) -> None:
    """Qwen4-Exp (models/qwen4exp.cpp): the gated delta net of qwen35moe on the recurrent layers, gated
    attention with a sparse-attention indexer (q/k projections) on every full_attention_interval-th layer,
    low-rank hyper-connections (no attn/ffn norms: the mixers carry them), MoE with a shared expert
    everywhere; with `spec.ple`, the per-layer n-gram embeddings (`ple.*`) on the first (recurrent) layer."""
    s = lay.spec
    e, hc, rank, idx_heads, idx_head = s.n_embd, 2, 16, 2, s.indexer_head
    kv = per_layer(s.n_head_kv, s.n_layer)[0]
    lay.key("context_length", s.context_length)
    lay.key("embedding_length", e)
    lay.key("block_count", s.n_layer)
    lay.key("attention.layer_norm_rms_epsilon", 1e-5)
    lay.attention_keys(kv)
    lay.key("feed_forward_length", s.n_ff)
    lay.key("full_attention_interval", s.full_attention_interval)
    lay.key("rope.dimension_sections", [4, 2, 2, 0])
    lay.ssm_keys()
    lay.moe_keys()
    lay.key("expert_shared_feed_forward_length", s.n_ff_exp)
    lay.key("hyper_connection.count", hc)
    lay.key("hyper_connection.low_rank", rank)
    lay.indexer_keys(idx_heads, idx_head)
    lay.add("token_embd.weight", e, s.n_vocab)
    lay.add("output.weight", e, s.n_vocab)
    lay.add("output_hc_norm.weight", e, hc)
    lay.add("output_hc_down.weight", hc * e, rank)
    lay.add("output_hc_up.weight", rank, hc * e)
    key_dim, value_dim = s.d_state * s.n_group, s.d_state * s.dt_rank
    if s.ple:
        _ple(lay, hc)
    for il in range(s.n_layer):
        for part in ("attn", "ffn"):
            lay.blk(il, f"hc_{part}_norm.weight", e, hc)
            lay.blk(il, f"hc_{part}_down.weight", hc * e, rank)
            lay.blk(il, f"hc_{part}_up.weight", rank, hc * e)
            lay.blk(il, f"hc_{part}_inject.weight", hc * e, hc)
        if (il + 1) % s.full_attention_interval == 0:
            lay.qkv(il, 2 * s.head_dim * s.n_head, kv)
            lay.blk(il, "attn_output.weight", s.head_dim * s.n_head, e)
            lay.blk(il, "attn_q_norm.weight", s.head_dim)
            lay.blk(il, "attn_k_norm.weight", s.head_dim)
            lay.blk(il, "indexer.q_proj.weight", e, idx_heads * idx_head)
            lay.blk(il, "indexer.k_proj.weight", e, idx_head)
            lay.blk(il, "indexer.q_norm.weight", idx_head)
            lay.blk(il, "indexer.k_norm.weight", idx_head)
        else:
            lay.blk(il, "attn_qkv.weight", e, 2 * key_dim + value_dim)
            lay.blk(il, "attn_gate.weight", e, value_dim)
            lay.blk(il, "ssm_conv1d.weight", s.d_conv, 2 * key_dim + value_dim)
            lay.blk(il, "ssm_dt.bias", s.dt_rank)
            lay.blk(il, "ssm_a", s.dt_rank)
            lay.blk(il, "ssm_beta.weight", e, s.dt_rank)
            lay.blk(il, "ssm_alpha.weight", e, s.dt_rank)
            lay.blk(il, "ssm_norm.weight", s.d_state)
            lay.blk(il, "ssm_out.weight", value_dim, e)
        lay.experts(il, s.n_ff_exp)
        lay.blk(il, "ffn_gate_inp_shexp.weight", e)
        lay.shared_expert(il)


def _ple(lay: Layout, hc: int) -> None:
    """Qwen4-Exp's n-gram hash embeddings on layer 0: (ngram − 1) × heads_per_ngram heads whose rows, side
    by side, are n_embd wide; their convolution keeps a history in the recurrent state."""
    s = lay.spec
    e, ngram, per_ngram, kernel = s.n_embd, 5, 1, 8  # a history of 7 × 5 × hc × n_embd: 0.03 MiB a row
    n_heads = (ngram - 1) * per_ngram
    head_dim, rows = e // n_heads, 64
    lay.key("ple.layers", [0])
    lay.key("ple.ngram_size", ngram)
    lay.key("ple.heads_per_ngram", per_ngram)
    lay.key("ple.conv_kernel", kernel)
    lay.key("ple.eos_token_id", 2)
    lay.key("ple.layer_multipliers", U64Array(1 + 2 * i for i in range(ngram)))
    lay.key("ple.head_offsets", U64Array(h * (rows // n_heads) for h in range(n_heads)))
    lay.key("ple.head_vocab_sizes", U64Array([rows // n_heads] * n_heads))
    lay.key("embedding_length_per_layer_input", head_dim)
    lay.add("per_layer_token_embd.weight", head_dim, rows)
    lay.blk(0, "ple_key.weight", e, hc * e)
    lay.blk(0, "ple_value.weight", e, e)
    for norm in ("key", "query", "conv"):
        lay.blk(0, f"ple_norm_{norm}.weight", e, hc)
    lay.blk(0, "ple_conv1d.weight", kernel, hc * e)
