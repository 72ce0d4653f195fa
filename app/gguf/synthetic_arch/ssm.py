"""Mamba-family mixers: mamba, mamba2 and the hybrids built on them (jamba, granite-hybrid, nemotron-h, falcon-h1,
plamo2)."""

from __future__ import annotations

from app.gguf.synthetic_arch.base import Layout, per_layer


def _mamba(lay: Layout, version: int) -> None:
    s = lay.spec
    lay.common()
    lay.ssm_keys(groups=version == 2)
    for il in range(s.n_layer):
        lay.blk(il, "attn_norm.weight", s.n_embd)
        if version == 1:
            lay.mamba1_block(il)
        else:
            lay.mamba2_block(il)


def mamba(lay: Layout) -> None:
    _mamba(lay, 1)


def mamba2(lay: Layout) -> None:
    _mamba(lay, 2)


def _attention_hybrid(lay: Layout, version: int) -> None:
    """Mamba layers (0 KV heads) and attention layers, each followed by a dense feed-forward: jamba (Mamba-1
    with dt/B/C norms, Q n_embd wide), granite-hybrid (Mamba-2)."""
    s = lay.spec
    kv = per_layer(s.n_head_kv, s.n_layer)
    lay.common()
    lay.attention_keys(kv)
    lay.key("feed_forward_length", s.n_ff)
    lay.ssm_keys(groups=version == 2)
    for il in range(s.n_layer):
        lay.blk(il, "attn_norm.weight", s.n_embd)
        if kv[il] == 0 and version == 1:
            lay.mamba1_block(il, norms=True)
        elif kv[il] == 0:
            lay.mamba2_block(il)
        else:
            lay.attention(il, kv[il], q_width=s.n_embd if version == 1 else None)
        lay.blk(il, "ffn_norm.weight", s.n_embd)
        lay.ffn(il, per_layer(s.n_ff, s.n_layer)[il])


def jamba(lay: Layout) -> None:
    _attention_hybrid(lay, 1)


def granitehybrid(lay: Layout) -> None:
    _attention_hybrid(lay, 2)


def nemotron_h(lay: Layout, moe: bool = False) -> None:
    """Layers: n_head_kv 0 and n_ff 0 → Mamba-2; n_head_kv > 0 → attention; n_ff > 0 → MLP (up/down), or
    with `moe` up/down experts and a shared expert (no gates)."""
    s = lay.spec
    kv = per_layer(s.n_head_kv, s.n_layer)
    ff = per_layer(s.n_ff, s.n_layer)
    lay.common()
    lay.attention_keys(kv)
    lay.key("feed_forward_length", ff)
    if moe:
        lay.moe_keys()
        lay.key("expert_shared_feed_forward_length", s.n_ff_exp)
    lay.ssm_keys()
    for il in range(s.n_layer):
        lay.blk(il, "attn_norm.weight", s.n_embd)
        if kv[il] == 0 and ff[il] == 0:
            lay.mamba2_block(il)
        elif ff[il] == 0:
            lay.attention(il, kv[il])
        elif moe:
            lay.experts(il, s.n_ff_exp, gate=False)
            lay.blk(il, "exp_probs_b.bias", s.n_expert)
            lay.blk(il, "ffn_down_shexp.weight", s.n_ff_exp, s.n_embd)
            lay.blk(il, "ffn_up_shexp.weight", s.n_embd, s.n_ff_exp)
        else:
            lay.ffn(il, ff[il], gate=False)


def nemotron_h_moe(lay: Layout) -> None:
    nemotron_h(lay, moe=True)


def falcon_h1(lay: Layout) -> None:
    s = lay.spec
    kv = per_layer(s.n_head_kv, s.n_layer)[0]
    lay.common()
    lay.attention_keys(kv)
    lay.key("feed_forward_length", s.n_ff)
    lay.ssm_keys()
    for il in range(s.n_layer):
        lay.mamba2_block(il)
        lay.attention(il, kv)
        lay.blk(il, "attn_norm.weight", s.n_embd)
        lay.blk(il, "ffn_norm", s.n_embd)  # falcon-h1's loader asks for the norm without ".weight"
        lay.ffn(il, per_layer(s.n_ff, s.n_layer)[il])


def plamo2(lay: Layout) -> None:
    """Mamba layers (0 KV heads) with their own dt/B/C norms, attention layers with a fused QKV."""
    s = lay.spec
    kv = per_layer(s.n_head_kv, s.n_layer)
    e, dt_dim = s.n_embd, max(64, s.n_embd // 16)
    lay.common()
    lay.attention_keys(kv)
    lay.key("feed_forward_length", s.n_ff)
    lay.ssm_keys()
    for il in range(s.n_layer):
        lay.blk(il, "attn_norm.weight", e)
        if kv[il] == 0:
            lay.blk(il, "ssm_in.weight", e, 2 * s.d_inner)
            lay.blk(il, "ssm_conv1d.weight", s.d_conv, s.d_inner)
            lay.blk(il, "ssm_x.weight", s.d_inner, dt_dim + 2 * s.d_state)
            lay.blk(il, "ssm_dt.weight", dt_dim, s.dt_rank)
            lay.blk(il, "ssm_dt.bias", s.dt_rank)
            lay.blk(il, "ssm_a", s.dt_rank)
            lay.blk(il, "ssm_d", s.dt_rank)
            lay.blk(il, "ssm_out.weight", s.d_inner, e)
            for norm, size in (("ssm_dt_norm", dt_dim), ("ssm_b_norm", s.d_state), ("ssm_c_norm", s.d_state)):
                lay.blk(il, norm, size)  # plamo2's loader asks for these norms without ".weight"
        else:
            lay.blk(il, "attn_qkv.weight", e, s.head_dim * (s.n_head + 2 * kv[il]))
            lay.blk(il, "attn_q_norm.weight", s.head_dim, s.n_head)
            lay.blk(il, "attn_k_norm.weight", s.head_dim, kv[il])
            lay.blk(il, "attn_output.weight", s.n_head * s.head_dim, e)
        lay.blk(il, "post_attention_norm", e)
        lay.blk(il, "ffn_norm.weight", e)
        ff = per_layer(s.n_ff, s.n_layer)[il]
        lay.blk(il, "ffn_down.weight", ff, e)
        lay.blk(il, "ffn_up.weight", e, 2 * ff)
        lay.blk(il, "post_ffw_norm", e)
