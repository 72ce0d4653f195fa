"""Which layers of a model keep a recurrent state, an attention cache or an indexer cache, and how wide a
state row is: the architecture rules of the pinned llama.cpp, from a GGUF header's facts. The bytes they
make are state.py's business.

Which memory a model gets is decided by its architecture's *class* (llama-arch.cpp
`llm_arch_is_recurrent` / `llm_arch_is_hybrid`, llama-model.cpp `create_memory`):

* recurrent (Mamba, RWKV): a recurrent state on every trunk layer, no attention cache;
* hybrid (Jamba, Granite 4, LFM2, Nemotron-H, Falcon-H1, Qwen3-Next, Qwen3.5, Kimi-Linear, …): a
  recurrent state on the recurrent layers and an attention KV cache on the others (Falcon-H1: both on
  every layer); which layers are which follows the architecture's layer rule (`LayerRule`);
* sparse attention with an indexer (DeepSeek 3.2, GLM-DSA, GLM5-Next, HY-V4, MiniMax-M3, dots3note): the
  attention cache plus an indexer key cache;
* transformer: the attention KV cache alone (kv.py).

The recurrent state (llama-memory-recurrent.cpp, the constructor): each recurrent layer holds two f32
tensors, R (`n_embd_r` values per row: the convolution / token-shift state) and S (`n_embd_s` values per
row: the SSM / WKV / delta-net state), with `max(1, n_seq_max)` rows — one per sequence, whatever the
context length. It lives on the device of its layer when `offload_kqv` is on, in host memory otherwise.
The widths follow llama-hparams.cpp `n_embd_r()` / `n_embd_s()` for the kind of state the architecture
reads (`StateKind`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from app.core.errors import EstimateError
from app.gguf.facts import ModelFacts, StateFacts

F32 = 4
MAX_DIM = 1 << 20  # no state dimension of a real model comes near this; beyond it the header is broken
MAX_STATE_ROW_BYTES = 1 << 34


class StateKind(Enum):
    """Which hyper-parameters size the state (llama-hparams.cpp n_embd_r / n_embd_s)."""

    SSM = "ssm"  # Mamba-2 style: conv over d_inner + 2·groups·d_state, state d_state × d_inner
    GATED_DELTA = "gated-delta-net"  # Qwen3-Next / Qwen3.5: the SSM keys, sized like Mamba-2
    SSM_NO_GROUPS = "ssm-no-groups"  # Mamba-1 / Jamba: the loader reads no group count
    WKV = "wkv"  # RWKV: token shift × n_embd, state n_embd × head size
    SHORTCONV = "shortconv"  # LFM2: n_embd × (l_cache − 1), no S state
    KDA = "kda"  # Kimi delta attention: 3 convs over heads × head dim, state head dim² × heads
    LIGHTNING = "lightning"  # MiniMax-01 linear attention: state head² × heads, no R state


class LayerRule(Enum):
    """How an architecture marks its recurrent and attention layers (each arch's load_arch_hparams and
    the layer filters of create_memory)."""

    ALL_RECURRENT = "every trunk layer is recurrent"  # llama_memory_recurrent with no filter
    NO_KV_HEADS = "layers with 0 KV heads are recurrent"  # jamba, granite-hybrid, lfm2, kimi-linear, …
    INTERVAL = "recurrent_layers, else every full_attention_interval-th layer attends"  # qwen3next, qwen35
    NEMOTRON = "0 KV heads and no FFN: recurrent; KV heads and no FFN: attention"  # nemotron-h filters
    BOTH = "every layer has attention and a recurrent state"  # falcon-h1's filters


@dataclass(frozen=True, slots=True)
class RecurrentArch:
    kind: StateKind
    layers: LayerRule
    default_interval: int = 4  # INTERVAL: llama.cpp's default when the file has neither key
    trunk_attention: bool = False  # the attention filter also leaves out the MTP layers


# One table of the recurrent and hybrid architectures of the pinned llama.cpp and their state rules.
RECURRENT_ARCHS: dict[str, RecurrentArch] = {
    "mamba": RecurrentArch(StateKind.SSM_NO_GROUPS, LayerRule.ALL_RECURRENT),
    "mamba2": RecurrentArch(StateKind.SSM, LayerRule.ALL_RECURRENT),
    "rwkv6": RecurrentArch(StateKind.WKV, LayerRule.ALL_RECURRENT),
    "rwkv6qwen2": RecurrentArch(StateKind.WKV, LayerRule.ALL_RECURRENT),
    "rwkv7": RecurrentArch(StateKind.WKV, LayerRule.ALL_RECURRENT),
    "arwkv7": RecurrentArch(StateKind.WKV, LayerRule.ALL_RECURRENT),
    "jamba": RecurrentArch(StateKind.SSM_NO_GROUPS, LayerRule.NO_KV_HEADS),
    "plamo2": RecurrentArch(StateKind.SSM, LayerRule.NO_KV_HEADS),
    "granitehybrid": RecurrentArch(StateKind.SSM, LayerRule.NO_KV_HEADS),
    "falcon-h1": RecurrentArch(StateKind.SSM, LayerRule.BOTH),
    "nemotron_h": RecurrentArch(StateKind.SSM, LayerRule.NEMOTRON),
    "nemotron_h_moe": RecurrentArch(StateKind.SSM, LayerRule.NEMOTRON),
    "qwen3next": RecurrentArch(StateKind.GATED_DELTA, LayerRule.INTERVAL),
    "qwen35": RecurrentArch(StateKind.GATED_DELTA, LayerRule.INTERVAL),
    "qwen35moe": RecurrentArch(StateKind.GATED_DELTA, LayerRule.INTERVAL),
    "qwen4exp": RecurrentArch(StateKind.GATED_DELTA, LayerRule.INTERVAL),
    "lfm2": RecurrentArch(StateKind.SHORTCONV, LayerRule.NO_KV_HEADS),
    "lfm2moe": RecurrentArch(StateKind.SHORTCONV, LayerRule.NO_KV_HEADS),
    "kimi-linear": RecurrentArch(StateKind.KDA, LayerRule.NO_KV_HEADS),
    "kimi-k3": RecurrentArch(StateKind.KDA, LayerRule.NO_KV_HEADS),
    "bailingmoe3": RecurrentArch(StateKind.KDA, LayerRule.NO_KV_HEADS),
    "minimax-01": RecurrentArch(StateKind.LIGHTNING, LayerRule.INTERVAL, default_interval=8),
    "glm5-next": RecurrentArch(StateKind.KDA, LayerRule.NO_KV_HEADS, trunk_attention=True),
}

# Sparse attention with an indexer: an indexer cache beside the attention cache, as many cells, one key
# head of `indexer.key_length` values per cell on the indexed layers (llama-kv-cache-dsa.cpp for DeepSeek
# 3.2, GLM-DSA and HY-V4, llama-kv-cache-msa.cpp for MiniMax-M3). It is a second llama_kv_cache: without
# MLA it also keeps one value head per cell.
# GLM5-Next's indexer (llama-memory-hybrid-idx.cpp) sits on its attention layers and caches key, gate and
# pooled value per token (3 × key_length) when it pools keys (`indexer.kpool`), never a value head.
# dots3note's indexer cache (llama-kv-cache-dsa-iswa.cpp) is full-size beside its sliding-window cache.
# Qwen4-Exp's indexer is GLM5-Next's kind (llama_memory_hybrid_idx) on its dense-attention layers, unpooled.
INDEXER_ARCHS = frozenset({"deepseek32", "glm-dsa", "hy_v4", "minimax-m3", "glm5-next", "dots3note", "qwen4exp"})
# llama_memory_hybrid_idx declares its indexer cache an MLA cache so that llama_kv_cache keeps no values.
INDEXER_KEYS_ONLY = frozenset({"glm5-next", "qwen4exp"})


@dataclass(frozen=True, slots=True)
class StateLayout:
    """What shape.py needs: which layers carry a recurrent state, which an attention cache, which an
    indexer key cache (values per cell, 0 for none), and the widths of a state row."""

    recurrent: tuple[bool, ...]
    attention: tuple[bool, ...]
    n_embd_r: int
    n_embd_s: int
    indexer_k: tuple[int, ...]
    stage_width: int = 0  # f32 values per token a recurrent layer's graph holds at its peak (compute.py)
    stage_quadratic: int = 0  # and bytes per token² (lightning attention's per-head scores)
    indexer_stage: int = 0  # bytes per cached cell and token of an indexed layer's graph (compute.py)
    sparse_attention: bool = False  # the indexed layers never build the dense attention scores
    stream_width: int = 0  # f32 values per token of the hyper-connection streams every layer carries
    compress_ratios: tuple[int, ...] = ()  # DeepSeek-V4: per layer 0, 4 (CSA) or 128 (HCA)
    compress_trunk: int = 0  # DeepSeek-V4: the layers whose compressor states exist (the trunk)
    n_embd_p: int = 0  # Qwen4-Exp: values per row of the PLE convolution history
    p_layers: tuple[bool, ...] = ()


def _need(arch: str, **values: int) -> None:
    for name, value in values.items():
        if value <= 0:
            raise EstimateError(
                f"this {arch} model's header lacks {name}, which sizes its recurrent state or cache",
                hint="the file is incomplete or was written by an incompatible converter; re-download or re-convert it",
            )
        if value > MAX_DIM:
            raise EstimateError(
                f"this {arch} model's header gives an implausible {name} ({value})",
                hint="the file is damaged or was written by an incompatible converter",
            )


def state_widths(arch: str, kind: StateKind, st: StateFacts, n_embd: int, n_head: int, head_k: int) -> tuple[int, int]:
    """Values per row of the R and S state tensors: llama-hparams.cpp `n_embd_r()` and `n_embd_s()`,
    for the keys the architecture's loader reads."""
    if kind is StateKind.WKV:
        _need(arch, **{"wkv.head_size": st.wkv_head_size, "token_shift_count": st.token_shift_count})
        return st.token_shift_count * n_embd, n_embd * st.wkv_head_size
    if kind is StateKind.SHORTCONV:
        _need(arch, **{"shortconv.l_cache": st.shortconv_l_cache})
        return n_embd * (st.shortconv_l_cache - 1), 0
    if kind is StateKind.KDA:
        _need(arch, **{"kda.head_dim": st.kda_head_dim, "attention.head_count": n_head})
        d_conv = st.ssm_d_conv - 1 if st.ssm_d_conv > 0 else 3
        return 3 * d_conv * n_head * st.kda_head_dim, st.kda_head_dim * st.kda_head_dim * n_head
    if kind is StateKind.LIGHTNING:
        _need(arch, **{"attention.key_length": head_k, "attention.head_count": n_head})
        return 0, head_k * head_k * n_head  # the loader reads no ssm.* keys: no R state
    _need(
        arch,
        **{"ssm.conv_kernel": st.ssm_d_conv, "ssm.inner_size": st.ssm_d_inner, "ssm.state_size": st.ssm_d_state},
    )
    n_group = 0 if kind is StateKind.SSM_NO_GROUPS else st.ssm_n_group
    if n_group > MAX_DIM:
        _need(arch, **{"ssm.group_count": n_group})
    return (st.ssm_d_conv - 1) * (st.ssm_d_inner + 2 * n_group * st.ssm_d_state), st.ssm_d_state * st.ssm_d_inner


def _recurrent_flags(facts: ModelFacts, rule: RecurrentArch, n_trunk: int) -> tuple[bool, ...]:
    """Layers with a recurrent state: llama-memory-recurrent.cpp sizes only the trunk (`n_layer()`, the
    multi-token-prediction layers left out), filtered by the architecture's rule."""
    n = facts.n_layer
    trunk = tuple(il < n_trunk for il in range(n))
    if rule.layers in (LayerRule.ALL_RECURRENT, LayerRule.BOTH):
        return trunk
    if rule.layers is LayerRule.NO_KV_HEADS:
        return tuple(t and facts.n_head_kv[il] == 0 for il, t in enumerate(trunk))
    if rule.layers is LayerRule.NEMOTRON:
        return tuple(t and facts.n_head_kv[il] == 0 and facts.n_ff[il] == 0 for il, t in enumerate(trunk))
    if facts.state.recurrent_layers is not None:
        if len(facts.state.recurrent_layers) != n:
            raise EstimateError(
                f"attention.recurrent_layers has {len(facts.state.recurrent_layers)} entries for {n} layers"
            )
        return tuple(t and r for t, r in zip(trunk, facts.state.recurrent_layers, strict=True))
    interval = facts.state.full_attention_interval
    interval = rule.default_interval if interval is None else interval
    if interval < 1:
        raise EstimateError(f"this {facts.architecture} model's header gives full_attention_interval {interval}")
    return tuple(t and (il + 1) % interval != 0 for il, t in enumerate(trunk))


def _attention_flags(
    facts: ModelFacts, rule: RecurrentArch, recurrent: tuple[bool, ...], n_trunk: int
) -> tuple[bool, ...]:
    """The attention-cache filter of create_memory for the hybrid architectures (llama-memory-hybrid.cpp:
    with no filter of its own an architecture caches every non-recurrent layer)."""
    n = facts.n_layer
    if rule.layers is LayerRule.ALL_RECURRENT:
        return (False,) * n
    if rule.layers is LayerRule.BOTH:
        return (True,) * n
    if rule.layers is LayerRule.NEMOTRON:
        return tuple(not recurrent[il] and facts.n_ff[il] == 0 for il in range(n))
    if rule.layers is LayerRule.INTERVAL or rule.trunk_attention:
        return tuple(il < n_trunk and not recurrent[il] for il in range(n))
    return tuple(not r for r in recurrent)


_GLM52_INDEXED_LAYERS = 78


def _indexer_widths(facts: ModelFacts, n_trunk: int) -> tuple[int, ...]:
    """Values per cell of the indexer key cache, per layer (llama-model.cpp create_memory, the DSA branch:
    DeepSeek 3.2 indexes every trunk layer, GLM-DSA the layers its `indexer.types` marks as full)."""
    n = facts.n_layer
    width = facts.state.indexer_head_size
    if facts.architecture == "hy_v4" and facts.state.indexer_top_k == 0:
        return (0,) * n  # a full-attention HY-V4 checkpoint: no indexer, a plain cache
    _need(facts.architecture, **{"attention.indexer.key_length": width})
    indexed = [il < n_trunk for il in range(n)]
    if facts.architecture == "minimax-m3":  # create_memory's MSA filter: the layers after the dense lead
        indexed = [il >= facts.state.n_layer_dense_lead for il in range(n)]
    if facts.architecture in ("hy_v4", "dots3note"):
        types = facts.state.indexer_types  # required by both loaders; HY-V4's layer 0 must own an indexer
        if not types or (facts.architecture == "hy_v4" and not types[0]):
            raise EstimateError(
                f"this {facts.architecture} model uses an indexer but its header marks no indexer layers "
                "(attention.indexer.types)",
                hint="llama.cpp refuses such a file too; re-convert it with a current converter",
            )
        indexed = [il < min(n_trunk, len(types)) and types[il] != 0 for il in range(n)]
    if facts.architecture == "glm5-next":
        types = facts.state.indexer_types or (1,) * n_trunk
        pooled = 3 if facts.state.indexer_kpool > 0 else 1
        return tuple(width * pooled if il < min(n_trunk, len(types)) and types[il] else 0 for il in range(n))
    if facts.architecture == "glm-dsa":
        # without indexer.types: GLM 5 / 5.1 (trained context under 1M) index every layer, GLM 5.2 follows
        # llama.cpp's built-in table (glm-dsa.cpp): layers 0 and 1, then every 4th from layer 2, up to 78
        types = facts.state.indexer_types
        if types is None and facts.context_length >= 1_048_576:
            types = tuple(int(il < 2 or (il - 2) % 4 == 0) for il in range(min(n, _GLM52_INDEXED_LAYERS)))
        if types is not None:
            indexed = [ok and il < len(types) and types[il] != 0 for il, ok in enumerate(indexed)]
    return tuple(width if ok else 0 for ok in indexed)


def state_layout(facts: ModelFacts) -> StateLayout | None:
    """The recurrent / indexer layout of a model, or None for a plain transformer."""
    n = facts.n_layer
    n_trunk = n - facts.n_nextn_layers if 0 < facts.n_nextn_layers < n else n
    if facts.architecture == "deepseek4":
        return _dsv4_layout(facts, n_trunk)
    rule = RECURRENT_ARCHS.get(facts.architecture)
    indexer = _indexer_widths(facts, n_trunk) if facts.architecture in INDEXER_ARCHS else (0,) * n
    if rule is None:
        if not any(indexer):
            return None
        msa = facts.architecture == "minimax-m3"
        stage = _MSA_STAGE if msa else _DSA_STAGE
        # create_memory: the MLA cache of DeepSeek 3.2, GLM-DSA and dots3note leaves the MTP layers out,
        # HY-V4's and MiniMax-M3's have no filter
        every = facts.architecture in ("hy_v4", "minimax-m3")
        attention = tuple(every or il < n_trunk for il in range(n))
        streams = _streams(facts)
        return StateLayout(
            (False,) * n, attention, 0, 0, indexer, indexer_stage=stage, sparse_attention=msa, stream_width=streams
        )
    recurrent = _recurrent_flags(facts, rule, n_trunk)
    n_head = facts.n_head[0] if facts.n_head else 0
    r, s = state_widths(facts.architecture, rule.kind, facts.state, facts.n_embd, n_head, facts.head_k)
    if (r + s) * F32 > MAX_STATE_ROW_BYTES:
        raise EstimateError(f"this {facts.architecture} model's header gives an implausible recurrent state size")
    if any(recurrent) and r + s == 0:
        raise EstimateError(f"this {facts.architecture} model's header gives a recurrent state of size 0")
    stage = stage_width(facts.architecture, rule.kind, facts.state, facts.n_embd, n_head, facts.head_k)
    quadratic = 12 * n_head if rule.kind is StateKind.LIGHTNING else 0
    attention = _attention_flags(facts, rule, recurrent, n_trunk)
    indexer = tuple(w if attn else 0 for w, attn in zip(indexer, attention, strict=True))
    idx_stage = (_POOLED_STAGE if facts.state.indexer_kpool > 0 else _DSA_STAGE) if any(indexer) else 0
    idx_stage = _QSA_STAGE if facts.architecture == "qwen4exp" else idx_stage
    n_embd_p, p_layers = _ple_rows(facts, recurrent)
    return StateLayout(
        recurrent, attention, r, s, indexer, stage, quadratic, idx_stage, stream_width=_streams(facts),
        n_embd_p=n_embd_p, p_layers=p_layers,
    )  # fmt: skip


def _ple_rows(facts: ModelFacts, recurrent: tuple[bool, ...]) -> tuple[int, tuple[bool, ...]]:
    """Qwen4-Exp's per-layer n-gram embeddings keep a convolution history beside the delta-net state of
    their layer (llama-memory-recurrent.cpp `cache_ple_r_l`, llama-hparams.cpp `ple_conv_state()`): one
    row of (conv_kernel − 1) × ngram_size × hyper-connection streams × n_embd f32 values per sequence.
    The loader allows one such layer, and it must be a recurrent one."""
    st = facts.state
    if facts.architecture != "qwen4exp" or not st.ple_layers:
        return 0, ()
    if len(st.ple_layers) != 1 or not 0 <= st.ple_layers[0] < facts.n_layer or not recurrent[st.ple_layers[0]]:
        raise EstimateError(
            f"this qwen4exp model's header lists PLE layers {list(st.ple_layers)[:8]}; llama.cpp accepts one "
            "linear-attention layer",
            hint="llama.cpp refuses such a file too; re-convert it with a current converter",
        )
    n_heads = max(0, st.ple_ngram_size - 1) * st.ple_heads_per_ngram
    if n_heads == 0 or st.ple_conv_kernel == 0:
        return 0, ()
    _need("qwen4exp", **{"ple.conv_kernel": st.ple_conv_kernel, "ple.ngram_size": st.ple_ngram_size})
    _need("qwen4exp", **{"hyper_connection.count": st.hyper_connections})
    width = (st.ple_conv_kernel - 1) * st.ple_ngram_size * st.hyper_connections * facts.n_embd
    return width, tuple(il == st.ple_layers[0] for il in range(facts.n_layer))


DSV4_CSA, DSV4_HCA = 4, 128  # DeepSeek-V4's compression ratios: CSA (with the lightning indexer), HCA
DSV4_RATIOS = frozenset({0, DSV4_CSA, DSV4_HCA})  # 0: the raw cache alone


def _dsv4_layout(facts: ModelFacts, n_trunk: int) -> StateLayout:
    """DeepSeek-V4 (llama-kv-cache-dsv4.cpp): a K-only raw cache on the sliding window for every layer
    (kv.py), plus compressed K caches and compressor states on the layers `attention.compress_ratios`
    marks (state.py). Every layer attends; the MTP layers too, as the raw cache has no layer filter."""
    n = facts.n_layer
    ratios = facts.state.compress_ratios
    if ratios is None or len(ratios) < n:
        raise EstimateError(
            "this deepseek4 model's header lacks attention.compress_ratios for every layer",
            hint="llama.cpp refuses such a file too; re-convert it with a current converter",
        )
    if any(r not in DSV4_RATIOS for r in ratios):
        raise EstimateError(f"this deepseek4 model's header gives compress ratios {sorted(set(ratios))}; llama.cpp "
                            "supports 0, 4 and 128")  # fmt: skip
    _need("deepseek4", **{"attention.key_length": facts.head_k})
    if 4 in ratios:
        _need("deepseek4", **{"attention.indexer.key_length": facts.state.indexer_head_size})
    return StateLayout(
        (False,) * n, (True,) * n, 0, 0, (0,) * n, stream_width=_streams(facts),
        compress_ratios=tuple(ratios[:n]), compress_trunk=n_trunk,
    )  # fmt: skip


def _streams(facts: ModelFacts) -> int:
    """Hyper-connections keep `count` copies of the hidden state alive through every layer, mixed in and out
    of each block (fit: twice the streams' width, on the glm5-next and hy_v4 synthetic models)."""
    return 2 * facts.state.hyper_connections * facts.n_embd


# Per-token f32 values a recurrent layer's graph keeps alive at its peak, fitted to the compute buffers the
# pinned llama.cpp's CPU backend reserves for the synthetic models of app.gguf.synthetic_arch (several
# widths and ubatch sizes; benchmarks/estimate_vs_llama.py prints the comparison). An approximation, like
# the rest of the compute model: the projections, the convolution input with its carried-over state and
# the scan's output, in the proportions ggml's allocator packs them.
_WKV_STAGE = {"rwkv6": 14.5, "rwkv6qwen2": 14.5, "rwkv7": 19.5, "arwkv7": 19.5}
# The indexer's scores and block selection, per cached cell and token (deepseek32, minimax-m3 and
# glm5-next models; glm5-next pools its keys, so its scores cover fewer cells).
_DSA_STAGE, _MSA_STAGE, _POOLED_STAGE = 7, 18, 5
# Qwen4-Exp's indexer scores never set the peak of its synthetic model's graph: the layer's other tensors
# account for the compute buffer within 3% at 1k and 4k context (benchmarks/estimate_vs_llama.py).
_QSA_STAGE = 0


def stage_width(arch: str, kind: StateKind, st: StateFacts, n_embd: int, n_head: int, head_k: int) -> int:
    if kind is StateKind.WKV:
        return round(_WKV_STAGE.get(arch, 19.5) * n_embd)
    if kind is StateKind.SHORTCONV:
        return round(7.1 * n_embd)
    if kind is StateKind.SSM_NO_GROUPS:
        return round(7.7 * st.ssm_d_inner)
    if kind is StateKind.KDA:  # not measured: sized like a gated delta net over q, k and v heads
        return 2 * (4 * n_head * st.kda_head_dim) + 3 * n_embd
    if kind is StateKind.LIGHTNING:  # plus 3 f32 scores per token² and head (stage_quadratic)
        return round(5.7 * n_head * head_k + 1.5 * n_embd)
    conv_dim = st.ssm_d_inner + 2 * st.ssm_n_group * st.ssm_d_state
    if kind is StateKind.GATED_DELTA:
        return 2 * (conv_dim + st.ssm_d_inner) + 3 * n_embd
    return round(2.75 * (st.ssm_d_inner + conv_dim + st.ssm_dt_rank)) + 3 * n_embd
