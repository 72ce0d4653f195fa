"""The model description and the layout builder every architecture's writer uses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

Shape = tuple[int, ...]  # ggml order: ne0 (row length) first
Tensors = list[tuple[str, Shape]]


@dataclass(frozen=True, slots=True)
class ArchSpec:
    """Shape of a generated model. `n_head_kv` may be per layer (0 marks a recurrent layer where the
    architecture says so); the state sizes feed the `ssm.*`, `wkv.*` and `shortconv.*` keys."""

    arch: str
    n_layer: int = 4
    n_embd: int = 64
    n_head: int = 4
    n_head_kv: int | Sequence[int] = 2
    head_dim: int = 16
    n_ff: int | Sequence[int] = 128
    n_vocab: int = 512
    context_length: int = 4096
    d_conv: int = 4
    d_inner: int = 128
    d_state: int = 64
    dt_rank: int = 4
    n_group: int = 2
    n_expert: int = 4
    n_expert_used: int = 2
    n_ff_exp: int = 32
    full_attention_interval: int = 2
    wkv_head_size: int = 32
    l_cache: int = 3
    lora_rank: int = 16
    seed: int = 0
    n_nextn: int = 0  # trailing multi-token-prediction layers (written without tensors: llama.cpp skips them)
    ple: bool = False  # qwen4exp: add the per-layer n-gram embeddings (`ple.*`) on layer 0
    indexer_head: int = 64  # qwen4exp: values of the indexer's key head (its cache's row)
    metadata: tuple[tuple[str, Any], ...] = ()  # (key, value) pairs that replace or add header keys
    omit: tuple[str, ...] = ()  # header keys left out (to test what a broken header does)

    def with_(self, **changes: Any) -> ArchSpec:
        return replace(self, **changes)


class U64Array(tuple[int, ...]):
    """A header array llama.cpp reads as uint64 (written with that element type, not the default int32)."""


def per_layer(value: int | Sequence[int], n: int) -> list[int]:
    return [value] * n if isinstance(value, int) else list(value)


class Layout:
    """Metadata and tensor shapes of one model, filled by an architecture's writer."""

    def __init__(self, spec: ArchSpec) -> None:
        self.spec = spec
        self.meta: dict[str, Any] = {}
        self.tensors: Tensors = []

    def key(self, suffix: str, value: Any) -> None:
        self.meta[f"{self.spec.arch}.{suffix}"] = value

    def add(self, name: str, *shape: int) -> None:
        self.tensors.append((name, shape))

    def blk(self, il: int, name: str, *shape: int) -> None:
        self.add(f"blk.{il}.{name}", *shape)

    def common(self, *, norm: str = "output_norm.weight", output: bool = True) -> None:
        s = self.spec
        self.key("context_length", s.context_length)
        self.key("embedding_length", s.n_embd)
        self.key("block_count", s.n_layer)
        if s.n_nextn:
            self.key("nextn_predict_layers", s.n_nextn)
        self.key("attention.layer_norm_rms_epsilon", 1e-5)
        self.key("attention.layer_norm_epsilon", 1e-5)
        self.add("token_embd.weight", s.n_embd, s.n_vocab)
        self.add(norm, s.n_embd)
        if output:
            self.add("output.weight", s.n_embd, s.n_vocab)

    def attention_keys(self, n_head_kv: int | Sequence[int]) -> None:
        s = self.spec
        self.key("attention.head_count", s.n_head)
        self.key("attention.head_count_kv", n_head_kv if isinstance(n_head_kv, int) else list(n_head_kv))
        self.key("attention.key_length", s.head_dim)
        self.key("attention.value_length", s.head_dim)
        self.key("rope.dimension_count", s.head_dim)

    def ssm_keys(self, groups: bool = True) -> None:
        s = self.spec
        self.key("ssm.conv_kernel", s.d_conv)
        self.key("ssm.inner_size", s.d_inner)
        self.key("ssm.state_size", s.d_state)
        self.key("ssm.time_step_rank", s.dt_rank)
        if groups:
            self.key("ssm.group_count", s.n_group)

    def qkv(self, il: int, q_width: int, kv_heads: int) -> None:
        s = self.spec
        self.blk(il, "attn_q.weight", s.n_embd, q_width)
        self.blk(il, "attn_k.weight", s.n_embd, s.head_dim * kv_heads)
        self.blk(il, "attn_v.weight", s.n_embd, s.head_dim * kv_heads)

    def ffn(self, il: int, n_ff: int, gate: bool = True) -> None:
        e = self.spec.n_embd
        if gate:
            self.blk(il, "ffn_gate.weight", e, n_ff)
        self.blk(il, "ffn_up.weight", e, n_ff)
        self.blk(il, "ffn_down.weight", n_ff, e)

    def attention(self, il: int, kv_heads: int, q_width: int | None = None) -> None:
        """Q, K, V and the output projection (Q `head_dim × n_head` wide unless `q_width` says otherwise)."""
        s = self.spec
        width = s.head_dim * s.n_head if q_width is None else q_width
        self.qkv(il, width, kv_heads)
        self.blk(il, "attn_output.weight", width, s.n_embd)

    def moe_keys(self, *, shared: bool = False, gating: int | None = None) -> None:
        """The expert counts; `shared`: one shared expert after a dense first layer; `gating`: the
        expert_gating_func (2 sigmoid)."""
        s = self.spec
        self.key("expert_count", s.n_expert)
        self.key("expert_used_count", s.n_expert_used)
        self.key("expert_feed_forward_length", s.n_ff_exp)
        if shared:
            self.key("expert_shared_count", 1)
            self.key("leading_dense_block_count", 1)
        if gating is not None:
            self.key("expert_gating_func", gating)

    def mla_keys(self, n_head_kv: int | Sequence[int], rope: int, nope: int, kv_rank: int, q_rank: int = 0) -> None:
        """Multi-head latent attention: the compressed KV (kv_rank + rope) and the per-head sizes."""
        s = self.spec
        self.key("attention.head_count", s.n_head)
        self.key("attention.head_count_kv", n_head_kv)
        self.key("attention.key_length", kv_rank + rope)
        self.key("attention.value_length", kv_rank)
        self.key("attention.key_length_mla", nope + rope)
        self.key("attention.value_length_mla", s.head_dim)
        if q_rank:
            self.key("attention.q_lora_rank", q_rank)
        self.key("attention.kv_lora_rank", kv_rank)
        self.key("rope.dimension_count", rope)

    def mla(self, il: int, rope: int, nope: int, kv_rank: int, q_rank: int = 0) -> None:
        """The MLA projections: Q (through a q_rank LoRA when given), the compressed KV and its k/v heads."""
        s = self.spec
        e = s.n_embd
        if q_rank:
            self.blk(il, "attn_q_a_norm.weight", q_rank)
            self.blk(il, "attn_kv_a_norm.weight", kv_rank)
            self.blk(il, "attn_q_a.weight", e, q_rank)
            self.blk(il, "attn_q_b.weight", q_rank, s.n_head * (nope + rope))
        else:
            self.blk(il, "attn_kv_a_norm.weight", kv_rank)
            self.blk(il, "attn_q.weight", e, s.n_head * (nope + rope))
        self.blk(il, "attn_kv_a_mqa.weight", e, kv_rank + rope)
        self.blk(il, "attn_k_b.weight", nope, kv_rank, s.n_head)
        self.blk(il, "attn_v_b.weight", kv_rank, s.head_dim, s.n_head)
        self.blk(il, "attn_output.weight", s.n_head * s.head_dim, e)

    def indexer_keys(self, heads: int, head_size: int, top_k: int = 64) -> None:
        self.key("attention.indexer.head_count", heads)
        self.key("attention.indexer.key_length", head_size)
        self.key("attention.indexer.top_k", top_k)

    def indexer(self, il: int, q_rank: int, heads: int, head_size: int) -> None:
        """The DSA lightning indexer's tensors."""
        self.blk(il, "indexer.k_norm.weight", head_size)
        self.blk(il, "indexer.k_norm.bias", head_size)
        self.blk(il, "indexer.proj.weight", self.spec.n_embd, heads)
        self.blk(il, "indexer.attn_k.weight", self.spec.n_embd, head_size)
        self.blk(il, "indexer.attn_q_b.weight", q_rank, heads * head_size)

    def hyper_connections(self, il: int, hc: int, width: int, n_scale: int) -> None:
        """The `hc`-stream hyper-connection mixers around the attention and the feed-forward."""
        for part in ("attn", "ffn"):
            self.blk(il, f"hc_{part}_fn.weight", hc * self.spec.n_embd, width)
            self.blk(il, f"hc_{part}_base.weight", width)
            self.blk(il, f"hc_{part}_scale.weight", n_scale)

    def shared_expert(self, il: int, gate: bool = True) -> None:
        e, ff = self.spec.n_embd, self.spec.n_ff_exp
        if gate:
            self.blk(il, "ffn_gate_shexp.weight", e, ff)
        self.blk(il, "ffn_up_shexp.weight", e, ff)
        self.blk(il, "ffn_down_shexp.weight", ff, e)

    def dense_then_moe(self, il: int, probs_bias: bool = True) -> None:
        """Layer 0 a dense feed-forward, the others experts (with the selection bias) and a shared expert."""
        if il == 0:
            self.ffn(il, per_layer(self.spec.n_ff, self.spec.n_layer)[il])
            return
        self.experts(il, self.spec.n_ff_exp)
        if probs_bias:
            self.blk(il, "exp_probs_b.bias", self.spec.n_expert)
        self.shared_expert(il)

    def nextn(self, il: int) -> None:
        """The NextN projection and norms of a multi-token-prediction block."""
        e = self.spec.n_embd
        self.blk(il, "nextn.eh_proj.weight", 2 * e, e)
        self.blk(il, "nextn.enorm.weight", e)
        self.blk(il, "nextn.hnorm.weight", e)

    def experts(self, il: int, n_ff_exp: int, gate: bool = True) -> None:
        s = self.spec
        self.blk(il, "ffn_gate_inp.weight", s.n_embd, s.n_expert)
        if gate:
            self.blk(il, "ffn_gate_exps.weight", s.n_embd, n_ff_exp, s.n_expert)
        self.blk(il, "ffn_up_exps.weight", s.n_embd, n_ff_exp, s.n_expert)
        self.blk(il, "ffn_down_exps.weight", n_ff_exp, s.n_embd, s.n_expert)

    def mamba2_block(self, il: int) -> None:
        """The Mamba-2 mixer of mamba2 / granite-hybrid / nemotron-h / falcon-h1."""
        s = self.spec
        conv_dim = s.d_inner + 2 * s.n_group * s.d_state
        self.blk(il, "ssm_in.weight", s.n_embd, s.d_inner + conv_dim + s.dt_rank)
        self.blk(il, "ssm_conv1d.weight", s.d_conv, conv_dim)
        self.blk(il, "ssm_conv1d.bias", conv_dim)
        self.blk(il, "ssm_dt.bias", s.dt_rank)
        self.blk(il, "ssm_a", 1, s.dt_rank)
        self.blk(il, "ssm_d", 1, s.dt_rank)
        self.blk(il, "ssm_norm.weight", s.d_inner // s.n_group, s.n_group)
        self.blk(il, "ssm_out.weight", s.d_inner, s.n_embd)

    def mamba1_block(self, il: int, norms: bool = False) -> None:
        """The Mamba-1 mixer of mamba / jamba (jamba adds dt/B/C norms)."""
        s = self.spec
        self.blk(il, "ssm_in.weight", s.n_embd, 2 * s.d_inner)
        self.blk(il, "ssm_conv1d.weight", s.d_conv, s.d_inner)
        self.blk(il, "ssm_conv1d.bias", s.d_inner)
        self.blk(il, "ssm_x.weight", s.d_inner, s.dt_rank + 2 * s.d_state)
        if norms:
            self.blk(il, "ssm_dt_norm.weight", s.dt_rank)
            self.blk(il, "ssm_b_norm.weight", s.d_state)
            self.blk(il, "ssm_c_norm.weight", s.d_state)
        self.blk(il, "ssm_dt.weight", s.dt_rank, s.d_inner)
        self.blk(il, "ssm_dt.bias", s.d_inner)
        self.blk(il, "ssm_a", s.d_state, s.d_inner)
        self.blk(il, "ssm_d", s.d_inner)
        self.blk(il, "ssm_out.weight", s.d_inner, s.n_embd)
