"""RWKV: rwkv6, rwkv7 and their Qwen hybrids (rwkv6qwen2, arwkv7)."""

from __future__ import annotations

from app.gguf.synthetic_arch.base import Layout, per_layer


def rwkv_common(lay: Layout, hybrid: bool = False) -> None:
    """RWKV's embeddings and head; the Qwen-hybrid variants (rwkv6qwen2, arwkv7) have no embedding norm
    and RMS norms without bias."""
    s = lay.spec
    lay.key("context_length", s.context_length)
    lay.key("embedding_length", s.n_embd)
    lay.key("block_count", s.n_layer)
    lay.key("feed_forward_length", s.n_ff)
    lay.key("attention.layer_norm_epsilon", 1e-5)
    lay.key("attention.layer_norm_rms_epsilon", 1e-5)
    lay.key("wkv.head_size", s.wkv_head_size)
    lay.add("token_embd.weight", s.n_embd, s.n_vocab)
    norms = ("token_embd_norm.weight", "token_embd_norm.bias", "output_norm.weight", "output_norm.bias")
    for norm in norms[2:3] if hybrid else norms:
        lay.add(norm, s.n_embd)
    lay.add("output.weight", s.n_embd, s.n_vocab)


def _norm_with_bias(lay: Layout, il: int, *names: str) -> None:
    for norm in names:
        lay.blk(il, f"{norm}.weight", lay.spec.n_embd)
        lay.blk(il, f"{norm}.bias", lay.spec.n_embd)


def _rwkv6_keys(lay: Layout) -> None:
    lay.key("time_mix_extra_dim", lay.spec.lora_rank)
    lay.key("time_decay_extra_dim", lay.spec.lora_rank)


def _rwkv7_keys(lay: Layout) -> None:
    for name in ("decay", "iclr", "value_residual_mix", "gate"):
        lay.key(f"attention.{name}_lora_rank", lay.spec.lora_rank)


def _rwkv6_time_mix(lay: Layout, il: int, hybrid: bool) -> None:
    """RWKV-6's time mixing; the Qwen hybrid has no bonus (time_mix_first) and no group norm (time_mix_ln)."""
    s = lay.spec
    e, r = s.n_embd, s.lora_rank
    lay.blk(il, "time_mix_w1.weight", e, r * 5)
    lay.blk(il, "time_mix_w2.weight", r, e, 5)
    lay.blk(il, "time_mix_lerp_x.weight", e, 1, 1)
    lay.blk(il, "time_mix_lerp_fused.weight", e, 1, 1, 5)
    if not hybrid:
        lay.blk(il, "time_mix_first.weight", s.wkv_head_size, e // s.wkv_head_size)
    lay.blk(il, "time_mix_decay.weight", e)
    lay.blk(il, "time_mix_decay_w1.weight", e, r)
    lay.blk(il, "time_mix_decay_w2.weight", r, e)
    for name in ("key", "value", "receptance", "gate"):
        lay.blk(il, f"time_mix_{name}.weight", e, e)
    if not hybrid:
        _norm_with_bias(lay, il, "time_mix_ln")
    lay.blk(il, "time_mix_output.weight", e, e)


def _rwkv7_time_mix(lay: Layout, il: int) -> None:
    e, r = lay.spec.n_embd, lay.spec.lora_rank
    for x in ("w", "a", "v"):
        lay.blk(il, f"time_mix_{x}0.weight", e)
        lay.blk(il, f"time_mix_{x}1.weight", e, r)
        lay.blk(il, f"time_mix_{x}2.weight", r, e)
    lay.blk(il, "time_mix_g1.weight", e, r)
    lay.blk(il, "time_mix_g2.weight", r, e)
    lay.blk(il, "time_mix_lerp_fused.weight", e, 1, 1, 6)
    for name in ("k_k", "k_a", "r_k"):
        lay.blk(il, f"time_mix_{name}.weight", e)
    for name in ("key", "value", "receptance"):
        lay.blk(il, f"time_mix_{name}.weight", e, e)
    _norm_with_bias(lay, il, "time_mix_ln")
    lay.blk(il, "time_mix_output.weight", e, e)


def _channel_mix(lay: Layout, il: int, receptance: bool) -> None:
    e, ff = lay.spec.n_embd, per_layer(lay.spec.n_ff, lay.spec.n_layer)[0]
    lay.blk(il, "channel_mix_lerp_k.weight", e, 1, 1)
    if receptance:
        lay.blk(il, "channel_mix_lerp_r.weight", e, 1, 1)
    lay.blk(il, "channel_mix_key.weight", e, ff)
    lay.blk(il, "channel_mix_value.weight", ff, e)
    if receptance:
        lay.blk(il, "channel_mix_receptance.weight", e, e)


def _qwen_ffn(lay: Layout, il: int) -> None:
    """The Qwen hybrids' feed-forward in place of RWKV's channel mixing."""
    lay.blk(il, "ffn_norm.weight", lay.spec.n_embd)
    lay.ffn(il, per_layer(lay.spec.n_ff, lay.spec.n_layer)[0])


def rwkv6(lay: Layout) -> None:
    rwkv_common(lay)
    _rwkv6_keys(lay)
    lay.key("rescale_every_n_layers", 6)
    for il in range(lay.spec.n_layer):
        _norm_with_bias(lay, il, "attn_norm", "attn_norm_2")
        _rwkv6_time_mix(lay, il, hybrid=False)
        _channel_mix(lay, il, receptance=True)


def rwkv7(lay: Layout) -> None:
    rwkv_common(lay)
    _rwkv7_keys(lay)
    for il in range(lay.spec.n_layer):
        _norm_with_bias(lay, il, "attn_norm", "attn_norm_2")
        _rwkv7_time_mix(lay, il)
        _channel_mix(lay, il, receptance=False)


def rwkv6qwen2(lay: Layout) -> None:
    s = lay.spec
    rwkv_common(lay, hybrid=True)
    heads = s.n_embd // s.wkv_head_size  # llama.cpp's graph needs the (GQA) head counts of the Qwen side
    lay.key("attention.head_count", heads)
    lay.key("attention.head_count_kv", heads)
    _rwkv6_keys(lay)
    lay.key("token_shift_count", 1)
    for il in range(s.n_layer):
        lay.blk(il, "attn_norm.weight", s.n_embd)
        _rwkv6_time_mix(lay, il, hybrid=True)
        _qwen_ffn(lay, il)


def arwkv7(lay: Layout) -> None:
    rwkv_common(lay, hybrid=True)
    lay.key("token_shift_count", 1)
    _rwkv7_keys(lay)
    for il in range(lay.spec.n_layer):
        lay.blk(il, "attn_norm.weight", lay.spec.n_embd)
        _rwkv7_time_mix(lay, il)
        _qwen_ffn(lay, il)
