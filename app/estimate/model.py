"""What the memory model needs to know about a model: its attention shape and its weight bytes per layer.

How llama.cpp groups the weights (llama-arch's tensor table, llama-model's load_tensors):

* *input layer*: token embeddings (`token_embd`, `pos_embd`, `token_types`, `per_layer_token_embd`).
  llama.cpp always keeps it in host memory: offloading a row lookup gains nothing.
* *repeating layers*: every `blk.N.*` tensor belongs to layer N. Rope frequency tables and
  `token_embd_norm` are also "repeating" (created with layer 0) — a few KiB, counted in layer 0.
* *output layer*: `output`, `output_norm`, classifier heads and the other head tensors; it is treated
  as layer number `n_layer` for offloading. A model without `output.weight` reuses the token
  embeddings as its head ("tied"): on the host that is the same memory, but when the output layer is
  offloaded llama.cpp places a second copy of the embeddings on the GPU.

For the CPU backend's repacked copies (cpu.py) the shape also keeps its *matrix-product weights*: every
2-D weight outside the input layer and every 3-D expert stack (`*_exps`), with its type and row count,
plus the tied head's second load. Other 2-D weights that llama.cpp uses in other ops (convolutions,
state scans, RWKV mixes) are never of a type the CPU backend repacks, so they need no exception here.
It keeps where each tensor lies in its file too: with mmap, llama.cpp maps for the CPU the file range
from the first to the last tensor the CPU buffer holds (llama-model-loader's get_mapping_range), and
the log reports that range — tensors repacked or offloaded at either end fall outside it.

*Unloaded layers*: the multi-token-prediction (`nextn_predict_layers`) blocks at the end of the model.
The architectures in MTP_SKIPPED_ARCHS create those blocks' tensors with TENSOR_SKIP unless the model is
loaded with `load_mtp` (llama.cpp's default, and our engine's, is off): llama-model-loader.cpp then logs
"model has unused tensor … -- ignoring" and places them in no buffer. They still count in the file's
total (llama_model_size), so the shape keeps them apart as `unloaded_bytes`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from app.core.errors import EstimateError

_INPUT_TENSORS = ("token_embd", "pos_embd", "token_types", "per_layer_token_embd")
_LAYER0_TENSORS = ("rope_freqs", "rope_factors_long", "rope_factors_short", "token_embd_norm")
_BLOCK = re.compile(r"^blk\.(\d+)\.")
# The expert tensors llama.cpp's --n-cpu-moe keeps in host memory (common.h LLM_FFN_EXPS_REGEX, searched in
# the tensor's full name, so their biases and scales match too), with the layer number in front.
EXPERT_TENSOR = re.compile(r"^blk\.(\d+)\.ffn_(?:up|down|gate|gate_up)_(?:ch)?exps")
_NOT_MATMUL = ("ssm_conv1d", "ssm_a", "conv1d", "time_mix_", "channel_mix_lerp", "attn_sinks")
INPUT_LAYER = -1
UNLOADED_LAYER = -2  # the layer group of a tensor llama.cpp does not load (an MTP block's)
# Architectures whose load_arch_tensors skips the MTP blocks' tensors unless `load_mtp` is set
# (src/models/<arch>.cpp: TENSOR_SKIP on the layers from n_layer() to n_layer_all; mistral4 and
# nemotron_h_moe inherit it from deepseek2 and nemotron_h). Other architectures load every block.
MTP_SKIPPED_ARCHS = frozenset({
    "bailingmoe2", "bailingmoe3", "cohere2moe", "deepseek2", "deepseek32", "deepseek4", "dots3note",
    "exaone-moe", "exaone4", "glm-dsa", "glm4", "glm4moe", "glm5-next", "hy_v3", "mimo2", "mistral4",
    "nemotron_h", "nemotron_h_moe", "qwen35", "qwen35moe", "qwen3next", "step35",
})  # fmt: skip

# One tensor in the files: (layer group, file part, start offset, end offset, index into
# `ModelShape.matmul_weights` or -1). The layer group is INPUT_LAYER, a block number or n_layer (output).
TensorSpan = tuple[int, int, int, int, int]
# What file_layout reads of a tensor: (name, ggml type name, shape in ggml order, bytes, file part, offset).
FileTensor = tuple[str, str, tuple[int, ...], int, int, int]


@dataclass(frozen=True, slots=True)
class MatmulWeight:
    """A weight used in a matrix product: its layer (`n_layer` for the output layer), ggml type name,
    rows (ne[1]) and bytes. `duplicate`: a second load of a tensor (the tied head), not in the file twice."""

    layer: int
    type_name: str
    rows: int
    n_bytes: int
    duplicate: bool = False
    expert: bool = False  # an expert tensor --n-cpu-moe may keep in host memory (EXPERT_TENSOR)


@dataclass(frozen=True, slots=True)
class ModelShape:
    """The facts of one model that decide its memory use. Per-layer tuples have `n_layer` entries."""

    arch: str
    n_layer: int
    n_embd: int
    n_vocab: int
    n_ctx_train: int
    n_head: tuple[int, ...]
    n_head_kv: tuple[int, ...]
    head_k: int
    head_v: int
    head_k_swa: int
    head_v_swa: int
    swa_layers: tuple[bool, ...]
    n_swa: int
    mla: bool
    kv_layers: tuple[bool, ...]
    n_ff: tuple[int, ...]
    input_bytes: int
    layer_bytes: tuple[int, ...]
    output_bytes: int
    tied_output_bytes: int
    unloaded_bytes: int = 0  # tensors in the file llama.cpp does not load (skipped MTP blocks)
    n_expert: int = 0
    n_expert_used: int = 0
    expert_bytes: tuple[int, ...] = ()  # per layer: bytes of the EXPERT_TENSOR tensors; empty: no experts
    expert_spans: frozenset[int] = frozenset()  # indexes into `tensor_spans` of the expert tensors
    n_ff_moe: tuple[int, ...] = ()  # per layer: feed-forward rows a token's experts compute (moe_widths); empty: none
    ffn_gated: bool = True  # False: plain up/down feed-forward (GPT-2, BLOOM, StarCoder…), no gate product
    matmul_weights: tuple[MatmulWeight, ...] = ()
    tensor_spans: tuple[TensorSpan, ...] = ()  # where each tensor lies in the files; empty: unknown
    # recurrent state and extra caches (app.estimate.layout, app.estimate.state); empty tuples: none
    rs_layers: tuple[bool, ...] = ()  # layers holding a recurrent state
    n_embd_r: int = 0  # values per state row of the R (conv / token-shift) tensor
    n_embd_s: int = 0  # values per state row of the S (SSM / WKV) tensor
    indexer_k: tuple[int, ...] = ()  # values per cell of each layer's indexer key cache (0: none)
    rs_stage_width: int = 0  # f32 values per token a recurrent layer's graph holds at its peak
    rs_stage_quadratic: int = 0  # and bytes per token² (lightning attention)
    indexer_stage: int = 0  # bytes per cached cell and token of an indexed layer's graph
    sparse_attention: bool = False  # indexed layers skip the dense attention scores (MiniMax-M3's MSA)
    stream_width: int = 0  # f32 values per token held through every layer (hyper-connections, per-layer embeddings)
    # DeepSeek-V4's compressed caches (state.py): each layer's ratio (0 none, 4 CSA with the lightning
    # indexer, 128 HCA), the indexer's key width, and how many (trunk) layers keep compressor states
    compress_ratios: tuple[int, ...] = ()
    compress_indexer: int = 0
    compress_trunk: int = 0
    # Qwen4-Exp's per-layer n-gram embedding convolution history: values per state row, on these layers
    n_embd_p: int = 0
    p_layers: tuple[bool, ...] = ()

    def __post_init__(self) -> None:
        per_layer = (self.n_head, self.n_head_kv, self.swa_layers, self.kv_layers, self.n_ff, self.layer_bytes)
        optional: tuple[tuple[int, ...], ...] = (self.rs_layers, self.indexer_k, self.expert_bytes, self.n_ff_moe)
        optional += (self.compress_ratios, self.p_layers)
        if (
            self.n_layer < 1
            or any(len(values) != self.n_layer for values in per_layer)
            or any(values and len(values) != self.n_layer for values in optional)
        ):
            raise EstimateError(f"inconsistent layer data for a {self.n_layer}-layer {self.arch} model")

    def __hash__(self) -> int:
        # The estimate's caches are keyed by the shape: hash a few fields (equal shapes agree on them)
        # rather than every tensor's span and weight on each lookup.
        return hash((self.arch, self.n_layer, self.n_embd, self.n_vocab, self.n_ctx_train, self.layer_bytes))

    @property
    def weight_bytes(self) -> int:
        """Bytes of all weights as stored in the file (the tied head is not stored twice, the unloaded
        MTP tensors are counted): llama_model_size."""
        return self.input_bytes + sum(self.layer_bytes) + self.output_bytes + self.unloaded_bytes

    @property
    def moe_layers(self) -> int:
        """Layers with expert tensors (what --n-cpu-moe counts from the first layer)."""
        return sum(1 for n in self.expert_bytes if n)

    @property
    def has_swa(self) -> bool:
        return self.n_swa > 0 and any(self.swa_layers)

    def head_sizes(self, il: int) -> tuple[int, int]:
        """Key and value head size of layer `il` (SWA layers may have their own)."""
        if self.swa_layers[il]:
            return self.head_k_swa, self.head_v_swa
        return self.head_k, self.head_v

    def k_width(self, il: int) -> int:
        """Values per cell of layer `il`'s K cache: key head size times KV heads (MLA: latent + rope, 1 head)."""
        return self.head_sizes(il)[0] * self.n_head_kv[il]

    def v_width(self, il: int) -> int:
        return self.head_sizes(il)[1] * self.n_head_kv[il]

    def scaled_weights(self, weight_bytes: int, main_type: str | None = None) -> ModelShape:
        """The same model at another quantization known only by its size: every weight group scaled
        by the same factor (the KV cache does not depend on the quantization of the weights).

        Its tensor types are unknown; `main_type` (the quant's main ggml type, when its name tells it)
        stands for the type of every matrix-product weight but the tied head, else this model's types
        are kept. Either way the repacked share is an approximation for a quant whose header was not read."""
        if weight_bytes <= 0:
            raise EstimateError("a model file size must be positive")
        ratio = weight_bytes / self.weight_bytes
        layers = tuple(round(b * ratio) for b in self.layer_bytes)
        experts = tuple(round(b * ratio) for b in self.expert_bytes)
        matmul = tuple(
            replace(
                w,
                n_bytes=round(w.n_bytes * ratio),
                type_name=main_type if main_type and not w.duplicate else w.type_name,
            )
            for w in self.matmul_weights
        )
        return replace(
            self,
            input_bytes=round(self.input_bytes * ratio),
            layer_bytes=layers,
            expert_bytes=experts,
            expert_spans=frozenset(),
            output_bytes=round(self.output_bytes * ratio),
            tied_output_bytes=round(self.tied_output_bytes * ratio),
            unloaded_bytes=round(self.unloaded_bytes * ratio),
            matmul_weights=matmul,
            tensor_spans=(),  # another file: its layout is unknown
        )


@dataclass(frozen=True, slots=True)
class WeightGroups:
    input_bytes: int
    layer_bytes: tuple[int, ...]
    output_bytes: int
    tied_output_bytes: int
    expert_bytes: tuple[int, ...] = ()  # empty when no tensor is an expert tensor
    unloaded_bytes: int = 0


def group_weights(tensors: Iterable[tuple[str, int]], n_layer: int, n_loaded: int | None = None) -> WeightGroups:
    """Sum tensor bytes into input / per-layer / output groups by llama.cpp's placement rules. Blocks
    from `n_loaded` on (MTP blocks llama.cpp skips, see loaded_layers) go to `unloaded_bytes`."""
    layers = [0] * n_layer
    experts = [0] * n_layer
    n_loaded = n_layer if n_loaded is None else n_loaded
    input_bytes = output_bytes = unloaded_bytes = 0
    embd_bytes = 0
    has_output_head = False
    for name, n_bytes in tensors:
        base = name.rsplit(".", 1)[0] if name.endswith((".weight", ".bias")) else name
        match = _BLOCK.match(name)
        if match:
            il = int(match.group(1))
            if il >= n_layer:
                raise EstimateError(f"tensor {name} belongs to layer {il} but the model has {n_layer} layers")
            if il >= n_loaded:
                unloaded_bytes += n_bytes
                continue
            layers[il] += n_bytes
            if EXPERT_TENSOR.match(name):
                experts[il] += n_bytes
        elif base in _INPUT_TENSORS:
            input_bytes += n_bytes
            if base == "token_embd" and name.endswith(".weight"):
                embd_bytes = n_bytes
        elif base in _LAYER0_TENSORS:
            layers[0] += n_bytes
        else:
            output_bytes += n_bytes
            if base == "output" and name.endswith(".weight"):
                has_output_head = True
    return WeightGroups(
        input_bytes=input_bytes,
        layer_bytes=tuple(layers),
        output_bytes=output_bytes,
        tied_output_bytes=0 if has_output_head else embd_bytes,
        expert_bytes=tuple(experts) if any(experts) else (),
        unloaded_bytes=unloaded_bytes,
    )


def loaded_layers(arch: str, n_layer: int, n_nextn: int) -> int:
    """How many blocks llama.cpp loads tensors for: all but the trailing `n_nextn` MTP blocks of an
    architecture in MTP_SKIPPED_ARCHS (loaded without load_mtp, as our engine and llama.cpp's tools do)."""
    if arch in MTP_SKIPPED_ARCHS and 0 < n_nextn < n_layer:
        return n_layer - n_nextn
    return n_layer


_EXPERT_WIDTH = re.compile(r"^blk\.(\d+)\.ffn_(up|gate_up|down)_(exps|shexp)\.weight$")


def moe_widths(tensors: Iterable[tuple[str, tuple[int, ...]]], n_layer: int, n_expert_used: int) -> tuple[int, ...]:
    """Per layer, the feed-forward width a token's MoE computes: `n_expert_used` experts plus the shared
    expert, read from the expert tensors' shapes (an expert's width can differ from feed_forward_length).
    Empty for a model without expert tensors."""
    routed = [0] * n_layer
    shared = [0] * n_layer
    for name, shape in tensors:
        match = _EXPERT_WIDTH.match(name)
        if not match or int(match.group(1)) >= n_layer or len(shape) < 2:
            continue
        il, kind, group = int(match.group(1)), match.group(2), match.group(3)
        width = shape[0] if kind == "down" else shape[1] // (2 if kind == "gate_up" else 1)
        (routed if group == "exps" else shared)[il] = width
    if not any(routed):
        return ()
    return tuple(n_expert_used * r + sh if r else 0 for r, sh in zip(routed, shared, strict=True))


def _layer_group(name: str, base: str, n_layer: int, n_loaded: int) -> int:
    match = _BLOCK.match(name)
    if match:
        return int(match.group(1)) if int(match.group(1)) < n_loaded else UNLOADED_LAYER
    if base in _INPUT_TENSORS:
        return INPUT_LAYER
    return 0 if base in _LAYER0_TENSORS else n_layer


def file_layout(
    tensors: Iterable[FileTensor], n_layer: int, n_loaded: int | None = None
) -> tuple[tuple[MatmulWeight, ...], tuple[TensorSpan, ...]]:
    """The matrix-product weights among `tensors` by llama.cpp's layer grouping (a model without
    `output.weight` adds its tied head as a duplicate), and every tensor's place in the files (the
    blocks from `n_loaded` on in group UNLOADED_LAYER)."""
    n_loaded = n_layer if n_loaded is None else n_loaded
    weights: list[MatmulWeight] = []
    spans: list[TensorSpan] = []
    embd: tuple[str, tuple[int, ...], int] | None = None
    has_output_head = False
    for name, type_name, shape, n_bytes, part, offset in tensors:
        base = name.rsplit(".", 1)[0] if name.endswith((".weight", ".bias")) else name
        layer = _layer_group(name, base, n_layer, n_loaded)
        if base == "token_embd" and name.endswith(".weight"):
            embd = (type_name, shape, n_bytes)
        has_output_head = has_output_head or (base == "output" and name.endswith(".weight"))
        matmul = (
            name.endswith(".weight")
            and not any(part_name in name for part_name in _NOT_MATMUL)
            and (len(shape) == 2 or (len(shape) == 3 and base.endswith("_exps")))
            and layer not in (INPUT_LAYER, UNLOADED_LAYER)
            and base not in _LAYER0_TENSORS
        )
        index = -1
        if matmul:
            index = len(weights)
            weights.append(MatmulWeight(layer, type_name, shape[1], n_bytes, expert=bool(EXPERT_TENSOR.match(name))))
        spans.append((layer, part, offset, offset + n_bytes, index))
    if not has_output_head and embd is not None and len(embd[1]) == 2:
        weights.append(MatmulWeight(n_layer, embd[0], embd[1][1], embd[2], duplicate=True))
    return tuple(weights), tuple(spans)
