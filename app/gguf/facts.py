"""What a model is, read from its header: the facts the memory model, Discover and the Library show.

Hyper-parameters follow how the pinned llama.cpp reads them (src/llama-model.cpp and src/models/*.cpp):
per-layer values may be a scalar or an array with one entry per layer; head sizes default to
n_embd / n_head; which layers use a sliding window follows each architecture's rule (`SWA_RULES`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from app.core.errors import GGUFError
from app.gguf.reader import GGUFHeader, TensorInfo
from app.gguf.split import GGUFModel
from app.gguf.types import file_type_label, ggml_type_name
from app.gguf.values import ArrayRef, Value, as_sequence

SwaType = Literal["none", "standard", "chunked", "symmetric"]


@dataclass(frozen=True, slots=True)
class SwaRule:
    """How one architecture decides its sliding-window layers.

    `pattern`: every `pattern`-th layer is full attention, the others use the window (llama.cpp's
    `set_swa_pattern`; with `dense_first` the full layer leads each group, otherwise it ends it);
    None means the file must carry a per-layer `sliding_window_pattern` array. `conditional`: SWA only
    when `{arch}.attention.sliding_window` is present and > 0. `window`: the default window size;
    `fixed_window` ignores the file's value (llama4's chunk size).
    """

    kind: SwaType
    pattern: int | None
    dense_first: bool = False
    conditional: bool = False
    window: int = 0
    fixed_window: bool = False
    disabled_by_zero: bool = False  # llama4: sliding_window == 0 turns chunked attention off
    attention_layers: bool = False  # lfm2: the window is on every attention layer (those with KV heads)


# Architectures of the pinned llama.cpp that use sliding-window attention, by `general.architecture`.
# Absent architectures (phi3 among them: llama.cpp disables its SWA) attend fully on every layer.
SWA_RULES: dict[str, SwaRule] = {
    "gemma2": SwaRule("standard", 2, window=4096),
    "gemma3": SwaRule("standard", 6, conditional=True),
    "gemma3n": SwaRule("standard", 5),
    "gemma4": SwaRule("standard", None),
    "gemma-embedding": SwaRule("symmetric", 6),
    "cohere2": SwaRule("standard", 4),
    "cohere2moe": SwaRule("standard", 4, dense_first=True),
    "llama4": SwaRule("chunked", 4, window=8192, fixed_window=True, disabled_by_zero=True),
    "gpt-oss": SwaRule("standard", 2),
    "olmo2": SwaRule("standard", 4, conditional=True),
    "afmoe": SwaRule("standard", 4, conditional=True),
    "smallthinker": SwaRule("standard", 4, dense_first=True, conditional=True, window=4096, fixed_window=True),
    "exaone-moe": SwaRule("standard", 4, window=128),
    "granite_swa": SwaRule("standard", None),
    "mimo2": SwaRule("standard", None),
    "step35": SwaRule("standard", None),
    "lfm2": SwaRule("standard", None, conditional=True, attention_layers=True),
    "dots3note": SwaRule("standard", None),
    "muse-glimmer": SwaRule("standard", 4),
    "maple": SwaRule("standard", None),
    "spark2_5": SwaRule("standard", None),
    "mellum": SwaRule("standard", 4, conditional=True),
    "plamo3": SwaRule("standard", 8, conditional=True),
    "laguna": SwaRule("standard", 4, dense_first=True, conditional=True),
    "deepseek4": SwaRule("standard", 0),  # every layer keeps its raw K on the window
}
# Not expressible here: exaone4 uses a 4096 window (pattern 4) only in its 64-layer (32B) model.


@dataclass(frozen=True, slots=True)
class StateFacts:
    """The header values that size a recurrent state or an extra cache, as the file states them (0 / None:
    absent). llama.cpp reads them per architecture (src/models/<arch>.cpp, load_arch_hparams); what they
    mean for memory is app.estimate.layout's business.

    ssm_*: `{arch}.ssm.conv_kernel`, `.inner_size`, `.state_size`, `.time_step_rank`, `.group_count`
    (Mamba, Mamba-2, the gated delta net of Qwen3-Next / Qwen3.5). wkv_head_size and token_shift_count:
    RWKV (`{arch}.wkv.head_size`, `{arch}.token_shift_count`, llama.cpp's default 2). shortconv_l_cache:
    LFM2's short convolution. kda_head_dim: Kimi delta attention. recurrent_layers / full_attention_interval:
    which layers are recurrent where the file says so. indexer_head_size / indexer_types: the sparse-attention
    indexer (DeepSeek 3.2, GLM-DSA). n_layer_dense_lead: `{arch}.leading_dense_block_count`.
    """

    ssm_d_conv: int = 0
    ssm_d_inner: int = 0
    ssm_d_state: int = 0
    ssm_dt_rank: int = 0
    ssm_n_group: int = 0
    wkv_head_size: int = 0
    token_shift_count: int = 2
    shortconv_l_cache: int = 0
    kda_head_dim: int = 0
    recurrent_layers: tuple[bool, ...] | None = None
    full_attention_interval: int | None = None
    indexer_head_size: int = 0
    indexer_types: tuple[int, ...] | None = None
    indexer_top_k: int = 0
    indexer_kpool: int = 0
    hyper_connections: int = 0  # `{arch}.hyper_connection.count`: parallel residual streams (GLM5-Next, HY-V4)
    n_layer_dense_lead: int = 0
    compress_ratios: tuple[int, ...] | None = None  # DeepSeek-V4 `attention.compress_ratios`: 0, 4 or 128 per layer
    # Qwen4-Exp's per-layer n-gram embeddings (`ple.*`): their convolution history is a row of the state
    ple_layers: tuple[int, ...] = ()
    ple_ngram_size: int = 0
    ple_heads_per_ngram: int = 0
    ple_conv_kernel: int = 0


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """A model's identity and shape. Per-layer tuples have `n_layer` entries; absent values are 0/None.

    n_head / n_head_kv / n_ff: attention heads, KV heads and feed-forward width of each layer.
    head_k / head_v: key and value head size (`key_length` / `value_length`, default n_embd / n_head).
    head_k_swa / head_v_swa: the same for sliding-window layers (default: head_k / head_v).
    sliding_window: window size in tokens (0: no SWA); swa_layers[i]: layer i uses the window.
    kv_lora_rank, key_length_mla, value_length_mla: multi-head latent attention (deepseek2 and kin).
    n_rot: rotary dimensions (`rope.dimension_count`, default head_k).
    """

    architecture: str
    name: str | None
    n_params: int
    file_type: str | None
    bits_per_weight: float
    weight_bytes: int
    file_size: int
    context_length: int
    n_layer: int
    n_embd: int
    n_head: tuple[int, ...]
    n_head_kv: tuple[int, ...]
    n_ff: tuple[int, ...]
    head_k: int
    head_v: int
    head_k_swa: int
    head_v_swa: int
    n_rot: int
    swa_type: SwaType
    sliding_window: int
    swa_layers: tuple[bool, ...]
    n_expert: int
    n_expert_used: int
    kv_lora_rank: int
    key_length_mla: int
    value_length_mla: int
    n_nextn_layers: int
    vocab_size: int
    chat_template: str | None
    bos_token_id: int | None
    eos_token_id: int | None
    n_split: int
    tensor_types: Mapping[str, int]  # ggml type name -> bytes of tensors of that type
    state: StateFacts = StateFacts()

    @property
    def has_chat_template(self) -> bool:
        return bool(self.chat_template)

    @property
    def uses_swa(self) -> bool:
        return self.sliding_window > 0 and any(self.swa_layers)

    @property
    def uses_mla(self) -> bool:
        return self.kv_lora_rank > 0


def model_facts(source: GGUFHeader | GGUFModel) -> ModelFacts:
    """Facts of a single-file header or a (split) model."""
    meta = source.metadata
    tensors = source.tensors
    n_split = len(source.parts) if isinstance(source, GGUFModel) else 1
    arch = _str(meta, "general.architecture")
    if not arch:
        raise GGUFError("the file has no general.architecture: not a model llama.cpp can load")

    def key(suffix: str) -> str:
        return f"{arch}.{suffix}"

    n_layer = _int(meta, key("block_count"))
    if n_layer < 0 or n_layer > 4096:
        raise GGUFError(f"implausible {key('block_count')} {n_layer}")
    n_embd = _int(meta, key("embedding_length"))
    n_head = _per_layer(meta, key("attention.head_count"), n_layer, (0,) * n_layer)
    n_head_kv = _per_layer(meta, key("attention.head_count_kv"), n_layer, n_head)
    n_ff = _per_layer(meta, key("feed_forward_length"), n_layer, (0,) * n_layer)
    head0 = n_head[0] if n_head else 0
    default_head = n_embd // head0 if head0 else 0
    head_k = _int(meta, key("attention.key_length"), default_head)
    head_v = _int(meta, key("attention.value_length"), default_head)
    swa_type, window, swa_layers = _sliding_window(meta, arch, n_layer, n_head_kv)

    n_params = sum(t.n_elements for t in tensors)
    weight_bytes = sum(t.n_bytes for t in tensors)
    file_type_value = meta.get("general.file_type")
    label = file_type_label(file_type_value) if isinstance(file_type_value, int) else None
    used = _per_layer(meta, key("expert_used_count"), n_layer, (0,) * n_layer)
    return ModelFacts(
        architecture=arch,
        name=_str(meta, "general.name"),
        n_params=n_params,
        file_type=label or _dominant_type(tensors),
        bits_per_weight=weight_bytes * 8 / n_params if n_params else 0.0,
        weight_bytes=weight_bytes,
        file_size=source.file_size,
        context_length=_int(meta, key("context_length")),
        n_layer=n_layer,
        n_embd=n_embd,
        n_head=n_head,
        n_head_kv=n_head_kv,
        n_ff=n_ff,
        head_k=head_k,
        head_v=head_v,
        head_k_swa=_int(meta, key("attention.key_length_swa"), head_k),
        head_v_swa=_int(meta, key("attention.value_length_swa"), head_v),
        n_rot=_int(meta, key("rope.dimension_count"), head_k),
        swa_type=swa_type,
        sliding_window=window,
        swa_layers=swa_layers,
        n_expert=_int(meta, key("expert_count")),
        n_expert_used=max(used, default=0),
        kv_lora_rank=_int(meta, key("attention.kv_lora_rank")),
        key_length_mla=_int(meta, key("attention.key_length_mla")),
        value_length_mla=_int(meta, key("attention.value_length_mla")),
        n_nextn_layers=_int(meta, key("nextn_predict_layers")),
        vocab_size=_vocab_size(meta, arch, tensors),
        chat_template=_str(meta, "tokenizer.chat_template"),
        bos_token_id=_opt_int(meta, "tokenizer.ggml.bos_token_id"),
        eos_token_id=_opt_int(meta, "tokenizer.ggml.eos_token_id"),
        n_split=n_split,
        tensor_types=_bytes_by_type(tensors),
        state=_state_facts(meta, arch, n_layer),
    )


def _state_facts(meta: Mapping[str, Value], arch: str, n_layer: int) -> StateFacts:
    def key(suffix: str) -> str:
        return f"{arch}.{suffix}"

    interval = meta.get(key("full_attention_interval"))
    return StateFacts(
        ssm_d_conv=_int(meta, key("ssm.conv_kernel")),
        ssm_d_inner=_int(meta, key("ssm.inner_size")),
        ssm_d_state=_int(meta, key("ssm.state_size")),
        ssm_dt_rank=_int(meta, key("ssm.time_step_rank")),
        ssm_n_group=_int(meta, key("ssm.group_count")),
        wkv_head_size=_int(meta, key("wkv.head_size")),
        token_shift_count=_int(meta, key("token_shift_count"), 2),
        shortconv_l_cache=_int(meta, key("shortconv.l_cache")),
        kda_head_dim=_int(meta, key("kda.head_dim")),
        recurrent_layers=_flags(meta, key("attention.recurrent_layers"), n_layer),
        full_attention_interval=None if interval is None else _as_int(key("full_attention_interval"), interval),
        indexer_head_size=_int(meta, key("attention.indexer.key_length")),
        indexer_types=_opt_per_layer(meta, key("attention.indexer.types"), n_layer),
        indexer_top_k=_int(meta, key("attention.indexer.top_k")),
        indexer_kpool=_int(meta, key("attention.indexer.kpool")),
        hyper_connections=_int(meta, key("hyper_connection.count")),
        n_layer_dense_lead=_int(meta, key("leading_dense_block_count")),
        compress_ratios=_opt_per_layer(meta, key("attention.compress_ratios"), n_layer),
        ple_layers=_int_list(meta, key("ple.layers")),
        ple_ngram_size=_int(meta, key("ple.ngram_size")),
        ple_heads_per_ngram=_int(meta, key("ple.heads_per_ngram")),
        ple_conv_kernel=_int(meta, key("ple.conv_kernel")),
    )


def _flags(meta: Mapping[str, Value], key: str, n_layer: int) -> tuple[bool, ...] | None:
    """A per-layer flag llama.cpp reads with get_key_or_arr: one value for every layer, or one per layer."""
    value = meta.get(key)
    if value is None:
        return None
    if isinstance(value, tuple | ArrayRef):
        items = as_sequence(value)
        if len(items) != n_layer:
            raise GGUFError(f"{key} has {len(items)} entries for {n_layer} layers")
        return tuple(bool(v) for v in items)
    if isinstance(value, bool | int):
        return (bool(value),) * n_layer
    raise GGUFError(f"{key} should be a flag per layer, not {value!r:.60}")


def _int_list(meta: Mapping[str, Value], key: str) -> tuple[int, ...]:
    """An array of integers (a single integer reads as one entry); () when absent."""
    value = meta.get(key)
    if value is None:
        return ()
    items = as_sequence(value) if isinstance(value, tuple | ArrayRef) else (value,)
    return tuple(_as_int(key, v) for v in items[:4096])


def _opt_per_layer(meta: Mapping[str, Value], key: str, n_layer: int) -> tuple[int, ...] | None:
    """A per-layer integer array that may cover only the trunk layers (without the MTP ones)."""
    value = meta.get(key)
    if value is None:
        return None
    if isinstance(value, tuple | ArrayRef):
        items = as_sequence(value)
        if len(items) > n_layer:
            raise GGUFError(f"{key} has {len(items)} entries for {n_layer} layers")
        return tuple(_as_int(key, v) for v in items)
    return (_as_int(key, value),) * n_layer


def swa_layer_pattern(n_layer: int, n_pattern: int, dense_first: bool = False) -> tuple[bool, ...]:
    """Which layers use the window when every `n_pattern`-th layer attends fully (0: all use it)."""
    if n_pattern == 0:
        return (True,) * n_layer
    if dense_first:
        return tuple(il % n_pattern != 0 for il in range(n_layer))
    return tuple(il % n_pattern < n_pattern - 1 for il in range(n_layer))


def _sliding_window(
    meta: Mapping[str, Value], arch: str, n_layer: int, n_head_kv: tuple[int, ...]
) -> tuple[SwaType, int, tuple[bool, ...]]:
    none: tuple[SwaType, int, tuple[bool, ...]] = ("none", 0, (False,) * n_layer)
    rule = SWA_RULES.get(arch)
    if rule is None:
        return none
    window_key = f"{arch}.attention.sliding_window"
    present = window_key in meta
    window = _int(meta, window_key, 0)
    if rule.conditional and window <= 0:
        return none
    if rule.disabled_by_zero and present and window == 0:
        return none
    if rule.fixed_window or not present:
        window = rule.window
    if rule.attention_layers:
        layers = tuple(kv > 0 for kv in n_head_kv)
    else:
        layers = _swa_pattern(meta, f"{arch}.attention.sliding_window_pattern", rule, n_layer)
    if window <= 0 or not any(layers):
        return none
    return rule.kind, window, layers


def _swa_pattern(meta: Mapping[str, Value], pattern_key: str, rule: SwaRule, n_layer: int) -> tuple[bool, ...]:
    value = meta.get(pattern_key)
    if isinstance(value, tuple | ArrayRef):
        flags = [bool(v) for v in as_sequence(value)[:n_layer]]
        return tuple(flags + [False] * (n_layer - len(flags)))
    n_pattern = rule.pattern
    if isinstance(value, int) and not isinstance(value, bool):
        n_pattern = value
    if n_pattern is None:
        return (False,) * n_layer
    return swa_layer_pattern(n_layer, n_pattern, rule.dense_first)


def _per_layer(meta: Mapping[str, Value], key: str, n_layer: int, default: tuple[int, ...]) -> tuple[int, ...]:
    """A value llama.cpp reads with get_key_or_arr: a scalar for every layer, or one entry per layer."""
    value = meta.get(key)
    if value is None:
        return default
    if isinstance(value, tuple | ArrayRef):
        items = as_sequence(value)
        if len(items) != n_layer:
            raise GGUFError(f"{key} has {len(items)} entries for {n_layer} layers")
        return tuple(_as_int(key, v) for v in items)
    return (_as_int(key, value),) * n_layer


def _as_int(key: str, value: Value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise GGUFError(f"{key} should be an integer, not {value!r:.60}")
    return value


def _int(meta: Mapping[str, Value], key: str, default: int = 0) -> int:
    value = meta.get(key)
    return default if value is None else _as_int(key, value)


def _opt_int(meta: Mapping[str, Value], key: str) -> int | None:
    value = meta.get(key)
    return None if value is None else _as_int(key, value)


def _str(meta: Mapping[str, Value], key: str) -> str | None:
    value = meta.get(key)
    return value if isinstance(value, str) else None


def _vocab_size(meta: Mapping[str, Value], arch: str, tensors: tuple[TensorInfo, ...]) -> int:
    tokens = meta.get("tokenizer.ggml.tokens")
    if isinstance(tokens, ArrayRef | tuple):
        return tokens.count if isinstance(tokens, ArrayRef) else len(tokens)
    declared = meta.get(f"{arch}.vocab_size")
    if isinstance(declared, int) and not isinstance(declared, bool):
        return declared
    for tensor in tensors:
        if tensor.name == "token_embd.weight" and len(tensor.shape) >= 2:
            return tensor.shape[1]
    return 0


def _bytes_by_type(tensors: tuple[TensorInfo, ...]) -> Mapping[str, int]:
    totals: Counter[str] = Counter()
    for tensor in tensors:
        totals[ggml_type_name(tensor.ggml_type)] += tensor.n_bytes
    return dict(totals.most_common())


def _dominant_type(tensors: tuple[TensorInfo, ...]) -> str | None:
    """The type holding most bytes of the 2-D weights: a fallback label when general.file_type is absent."""
    totals: Counter[str] = Counter()
    for tensor in tensors:
        if len(tensor.shape) >= 2:
            totals[ggml_type_name(tensor.ggml_type)] += tensor.n_bytes
    return totals.most_common(1)[0][0] if totals else None
