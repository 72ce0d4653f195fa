"""Hyper-parameters and tensor rewrites of the families added on top of the first eight (MoE and newer dense).

Each writer states what llama.cpp's converter of the pinned version writes for that family, beyond the common
text-model keys (text_params). Rewrites take apart the tensors llama.cpp names separately.
"""

from __future__ import annotations

import gguf
import numpy as np

from app.convert.experts import Experts
from app.convert.hparams import NO_MTP
from app.convert.mxfp4 import is_mxfp4
from app.convert.pieces import Piece, split_rows
from app.convert.safetensors_file import TensorRef, read_values
from app.convert.text_params import Params, find, head_dim, rope_parameters, text_params
from app.core.errors import ConvertError

# Per-expert tensors as Qwen-style MoE checkpoints store them (Qwen2/3 MoE, OLMoE).
QWEN_EXPERTS = Experts(
    pattern=r"model\.layers\.(?P<bid>\d+)\.mlp\.experts\.(?P<xid>\d+)\.(?P<w>\w+)\.weight",
    order=("down_proj", "gate_proj", "up_proj"),
    merged="model.layers.{bid}.mlp.experts.{w}.weight",
)
MIXTRAL_EXPERTS = Experts(
    pattern=r"model\.layers\.(?P<bid>\d+)\.block_sparse_moe\.experts\.(?P<xid>\d+)\.(?P<w>w[123])\.weight",
    order=("w1", "w2", "w3"),
    merged="layers.{bid}.feed_forward.experts.{w}.weight",
    count_keys=("num_local_experts",),
)
ERNIE_EXPERTS = Experts(
    pattern=r"model\.layers\.(?P<bid>\d+)\.mlp\.experts\.(?P<xid>\d+)\.(?P<w>\w+)\.weight",
    order=("gate_proj", "up_proj", "down_proj"),
    merged="model.layers.{bid}.mlp.experts.{w}.weight",
    count_keys=("moe_num_experts",),
)


def llama_params(w: gguf.GGUFWriter, hp: Params, ftype: int) -> None:
    """Llama-derived families (Mixtral, SmolLM3, Granite): vocabulary size and rotary dimensions too."""
    text_params(w, hp, ftype)
    w.add_vocab_size(hp["vocab_size"])
    w.add_rope_dimension_count(head_dim(hp))


def qwen_moe_params(w: gguf.GGUFWriter, hp: Params, ftype: int) -> None:
    text_params(w, hp, ftype)
    if (n_ff := hp.get("moe_intermediate_size")) is not None:
        w.add_expert_feed_forward_length(n_ff)
    if (n_shared := hp.get("shared_expert_intermediate_size")) is not None:
        w.add_expert_shared_feed_forward_length(n_shared)


def olmoe_params(w: gguf.GGUFWriter, hp: Params, ftype: int) -> None:
    # llama.cpp's converter writes OLMoE's epsilon as this constant, whatever the config says.
    text_params(w, {**hp, "rms_norm_eps": 1e-5}, ftype)


def olmo2_params(w: gguf.GGUFWriter, hp: Params, ftype: int) -> None:
    text_params(w, hp, ftype)
    if "sliding_window" in hp:
        w.add_sliding_window(hp["sliding_window"])
        if "layer_types" in hp:
            pattern = [t == "sliding_attention" for t in hp["layer_types"]]
        else:  # OLMo 3's default: every fourth layer attends fully
            pattern = [(i + 1) % 4 != 0 for i in range(int(hp["num_hidden_layers"]))]
        w.add_sliding_window_pattern(pattern)


def granite_params(w: gguf.GGUFWriter, hp: Params, ftype: int) -> None:
    # Granite's head_dim is ignored by llama.cpp: heads are hidden_size / num_attention_heads wide.
    hp = {k: v for k, v in hp.items() if k != "head_dim"}
    llama_params(w, hp, ftype)
    if scale := hp.get("attention_multiplier"):
        w.add_attention_scale(scale)
    if scale := hp.get("embedding_multiplier"):
        w.add_embedding_scale(scale)
    if scale := hp.get("residual_multiplier"):
        w.add_residual_scale(scale)
    if scale := hp.get("logits_scaling"):
        w.add_logit_scale(scale)


def granite_moe_params(w: gguf.GGUFWriter, hp: Params, ftype: int) -> None:
    granite_params(w, hp, ftype)
    if n_shared := hp.get("shared_intermediate_size"):
        w.add_expert_shared_feed_forward_length(n_shared)


def granite_moe_rewrite(name: str, ref: TensorRef, hp: Params) -> list[Piece] | None:
    """GraniteMoe fuses each expert's gate and up projections (and the shared expert's) into one tensor."""
    if name.endswith("block_sparse_moe.input_linear.weight"):
        bid = _block(name)
        return _halves(
            ref, int(hp["intermediate_size"]), f"blk.{bid}.ffn_gate_exps.weight", f"blk.{bid}.ffn_up_exps.weight"
        )
    has_experts = bool(hp.get("num_local_experts"))
    if name.endswith("shared_mlp.input_linear.weight"):
        bid = _block(name)
        kind = "shexp" if has_experts else ""
        gate, up = (f"blk.{bid}.ffn_{p}{'_' + kind if kind else ''}.weight" for p in ("gate", "up"))
        return _halves(ref, int(hp["shared_intermediate_size"]), gate, up)
    if not has_experts and name.endswith("shared_mlp.output_linear.weight"):
        return [Piece(f"blk.{_block(name)}.ffn_down.weight", None, ref.shape, gguf_name=True)]
    return None


def _halves(ref: TensorRef, n_ff: int, first_name: str, second_name: str) -> list[Piece]:
    if ref.shape[-2] != 2 * n_ff:
        raise ConvertError(f"{ref.name} has {ref.shape[-2]} rows per expert, not twice the FFN size {n_ff}")
    (rows_a, shape_a), (rows_b, shape_b) = split_rows(ref, [n_ff, n_ff])
    return [Piece(first_name, rows_a, shape_a, gguf_name=True), Piece(second_name, rows_b, shape_b, gguf_name=True)]


def _block(name: str) -> int:
    for part in name.split("."):
        if part.isdecimal():
            return int(part)
    raise ConvertError(f"tensor {name!r} belongs to no layer")


def exaone4_params(w: gguf.GGUFWriter, hp: Params, ftype: int) -> None:
    text_params(w, hp, ftype)
    w.add_vocab_size(hp["vocab_size"])
    if hp.get("sliding_window") is None:
        return
    w.add_sliding_window(hp["sliding_window"])
    n_layers = int(hp["num_hidden_layers"])
    if "layer_types" in hp:
        w.add_sliding_window_pattern([t == "sliding_attention" for t in hp["layer_types"]])
    elif "sliding_window_pattern" in hp:
        spec = hp["sliding_window_pattern"]
        pattern: list[bool] = []
        if isinstance(spec, str):  # e.g. "LLLG"
            pattern = [spec[i % len(spec)] == "L" for i in range(n_layers)]
        elif isinstance(spec, int):
            pattern = [(i + 1) % spec != 0 for i in range(n_layers)]
        if len(pattern) == n_layers:
            w.add_sliding_window_pattern(pattern)


def cohere2_params(w: gguf.GGUFWriter, hp: Params, ftype: int) -> None:
    text_params(w, hp, ftype)
    w.add_logit_scale(hp["logit_scale"])
    w.add_sliding_window(hp["sliding_window"])
    w.add_vocab_size(hp["vocab_size"])
    rotary = hp.get("rotary_pct")
    if rotary is None:
        raise ConvertError("config.json lacks 'rotary_pct', which llama.cpp's Cohere2 conversion needs")
    w.add_rope_dimension_count(int(rotary * (int(hp["hidden_size"]) // int(hp["num_attention_heads"]))))
    w.add_rope_scaling_type(gguf.RopeScalingType.NONE)


def cohere2_rewrite(name: str, ref: TensorRef, hp: Params) -> list[Piece] | None:
    """llama.cpp's Cohere2 has no biases; checkpoints carry all-zero ones, which can be left out."""
    if not name.endswith(".bias"):
        return None
    if np.any(read_values(ref) != 0):
        raise ConvertError(f"bias {name!r} is not zero, and llama.cpp's Cohere2 model has no place for it")
    return []


GLM_EXPERTS = Experts(
    pattern=QWEN_EXPERTS.pattern, order=QWEN_EXPERTS.order, merged=QWEN_EXPERTS.merged, count_keys=("n_routed_experts",)
)
# Which GLM special token plays which role, where the tokenizer files name none.
GLM4_ROLES = (("eos", "<|endoftext|>"), ("eot", "<|user|>"), ("unk", "<|endoftext|>"), ("bos", "<|endoftext|>"))
GLM4_MOE_ROLES = (("bos", "[gMASK]"), ("eot", "<|user|>"), ("unk", "<|endoftext|>"), ("eom", "<|observation|>"))


def glm4_params(w: gguf.GGUFWriter, hp: Params, ftype: int) -> None:
    text_params(w, hp, ftype)
    partial = rope_parameters(hp).get("partial_rotary_factor", 0.5)
    w.add_rope_dimension_count(int(head_dim(hp) * partial))


def mtp_layers(hp: Params) -> int:
    """Multi-token-prediction layers llama.cpp's converter keeps by default (counted as extra blocks)."""
    return 0 if hp.get(NO_MTP) else int(hp.get("num_nextn_predict_layers", 0) or 0)


def drop_mtp_layers(name: str, hp: Params) -> str | None:
    """With the no-MTP option, the layers past num_hidden_layers are left out (llama.cpp's --no-mtp)."""
    if hp.get(NO_MTP) and name.startswith("model.layers.") and _block(name) >= int(hp["num_hidden_layers"]):
        return None
    return name


def glm4_moe_params(w: gguf.GGUFWriter, hp: Params, ftype: int) -> None:
    # Kept MTP layers count as blocks; only routed experts count as experts (written once, not overwritten).
    glm4_params(w, {**hp, "num_hidden_layers": int(hp["num_hidden_layers"]) + mtp_layers(hp)}, ftype)
    n = hp.get("n_routed_experts")
    if n is not None and n != find(hp, "num_local_experts", "num_experts", "n_routed_experts"):
        w.add_expert_count(n)
    if (n_ff := hp.get("moe_intermediate_size")) is not None:
        w.add_expert_feed_forward_length(n_ff)
    if (n_shared := hp.get("n_shared_experts")) is not None:
        w.add_expert_shared_count(n_shared)
    if (n_dense := hp.get("first_k_dense_replace")) is not None:
        w.add_leading_dense_block_count(n_dense)
    w.add_expert_gating_func(gguf.ExpertGatingFuncType.SIGMOID)
    if (scale := hp.get("routed_scaling_factor")) is not None:
        w.add_expert_weights_scale(scale)
    if (norm := hp.get("norm_topk_prob")) is not None:
        w.add_expert_weights_norm(norm)
    if (n_mtp := hp.get("num_nextn_predict_layers")) is not None and not hp.get(NO_MTP):
        w.add_nextn_predict_layers(n_mtp)


def ernie_params(w: gguf.GGUFWriter, hp: Params, ftype: int) -> None:
    text_params(w, hp, ftype)


def ernie_moe_params(w: gguf.GGUFWriter, hp: Params, ftype: int) -> None:
    text_params(w, hp, ftype)
    w.add_expert_count(hp["moe_num_experts"])
    w.add_expert_used_count(hp["moe_k"])
    w.add_interleave_moe_layer_step(hp["moe_layer_interval"])
    w.add_leading_dense_block_count(hp["moe_layer_start_index"])
    if (n_ff := hp.get("moe_intermediate_size")) is not None:
        w.add_expert_feed_forward_length(n_ff)
    if (n_shared := hp.get("moe_num_shared_experts")) is not None:
        w.add_expert_shared_count(n_shared)
        n_kv = hp.get("num_key_value_heads")
        if n_shared > 0 and hp.get("intermediate_size") is not None and n_kv is not None:
            w.add_expert_shared_feed_forward_length(hp["intermediate_size"] // n_kv)


def ernie_rewrite(name: str, ref: TensorRef, hp: Params) -> list[Piece] | None:
    """ERNIE 4.5 checkpoints may fuse q/k/v and up/gate projections."""
    if "qkv_proj" in name:
        dim = head_dim(hp)
        sizes = [int(hp["num_attention_heads"]) * dim, int(hp["num_key_value_heads"]) * dim]
        sizes.append(sizes[1])
        parts = split_rows(ref, sizes)
        names = [name.replace("qkv_proj.weight", f"{p}_proj.weight") for p in "qkv"]
        return [Piece(n, rows, shape) for n, (rows, shape) in zip(names, parts, strict=True)]
    if "up_gate_proj" in name:
        half = ref.shape[0] // 2
        (rows_g, shape_g), (rows_u, shape_u) = split_rows(ref, [half, half])
        return [
            Piece(name.replace("up_gate_proj.weight", "gate_proj.weight"), rows_g, shape_g),
            Piece(name.replace("up_gate_proj.weight", "up_proj.weight"), rows_u, shape_u),
        ]
    return None


def ernie_moe_rewrite(name: str, ref: TensorRef, hp: Params) -> list[Piece] | None:
    if name.startswith(("model.mtp_block.", "model.mtp_emb_norm.", "model.mtp_hidden_norm.", "model.mtp_linear_proj.")):
        return []  # multi-token-prediction layers: llama.cpp's converter leaves them out
    return None  # unlike the dense model, llama.cpp's converter splits no fused projection here


_XIELU = {
    "alpha_n": gguf.GGUFWriter.add_xielu_alpha_n,
    "alpha_p": gguf.GGUFWriter.add_xielu_alpha_p,
    "beta": gguf.GGUFWriter.add_xielu_beta,
    "eps": gguf.GGUFWriter.add_xielu_eps,
}


def apertus_rewrite(name: str, ref: TensorRef, hp: Params) -> list[Piece] | None:
    # xIELU's per-layer scalars become metadata (apertus_metadata), not tensors.
    return [] if ".act_fn." in name else None


def apertus_metadata(w: gguf.GGUFWriter, tensors: dict[str, TensorRef], hp: Params) -> None:
    """Apertus's xIELU activation: one value per layer for each of its four parameters, as metadata arrays."""
    n_layers = int(hp["num_hidden_layers"])
    for param, add in _XIELU.items():
        values: dict[int, float] = {}
        for name, ref in tensors.items():
            if name.endswith(f".act_fn.{param}"):
                values[_block(name)] = float(read_values(ref).reshape(-1)[0])
        if len(values) == n_layers:
            add(w, [values[k] for k in sorted(values)])


DEEPSEEK_EXPERTS = GLM_EXPERTS


def deepseek_params(w: gguf.GGUFWriter, hp: Params, ftype: int) -> None:
    # MLA is written as MQA: one KV head of kv_lora_rank + rope dims, decompressed per head at run time.
    hp = {**hp, "num_key_value_heads": 1, "rms_norm_eps": hp.get("rms_norm_eps", 1e-6)}
    text_params(w, {k: v for k, v in hp.items() if k != "head_dim"}, ftype)  # key/value lengths follow
    has_moe = hp.get("n_routed_experts") is not None
    n_dense = hp.get("first_k_dense_replace")
    if n_dense is None:
        n_dense = 0 if has_moe else hp["num_hidden_layers"]
    w.add_leading_dense_block_count(n_dense)
    rank = hp.get("kv_lora_rank", 512)
    w.add_vocab_size(hp["vocab_size"])
    if hp.get("q_lora_rank") is not None:
        w.add_q_lora_rank(hp["q_lora_rank"])
    w.add_kv_lora_rank(rank)
    w.add_key_length(rank + hp["qk_rope_head_dim"])
    w.add_value_length(rank)
    w.add_key_length_mla(hp["qk_nope_head_dim"] + hp["qk_rope_head_dim"])
    w.add_value_length_mla(hp["v_head_dim"])
    n_ff = find(hp, "moe_intermediate_size", "intermediate_size")
    if n_ff is None:
        raise ConvertError("config.json lacks 'moe_intermediate_size', which DeepSeek's conversion needs")
    w.add_expert_feed_forward_length(n_ff)
    if (n := hp.get("n_routed_experts")) is not None and n != find(
        hp, "num_local_experts", "num_experts", "n_routed_experts"
    ):
        w.add_expert_count(n)
    w.add_expert_shared_count(hp.get("n_shared_experts", 0))
    if (scale := hp.get("routed_scaling_factor")) is not None:
        w.add_expert_weights_scale(scale)
    if hp.get("norm_topk_prob"):
        w.add_expert_weights_norm(hp["norm_topk_prob"])
    w.add_rope_dimension_count(hp["qk_rope_head_dim"])
    if (mscale := rope_parameters(hp).get("mscale_all_dim")) is not None:
        w.add_rope_scaling_yarn_log_mul(0.1 * mscale)


def deepseek_rewrite(name: str, ref: TensorRef, hp: Params) -> list[Piece] | None:
    if hp.get("tie_word_embeddings", False) and name in ("lm_head.weight", "model.lm_head.weight"):
        return []
    if name.startswith("model.layers.") and _block(name) >= int(hp["num_hidden_layers"]):
        return []  # multi-token-prediction layers: llama.cpp's converter leaves DeepSeek's out
    if not name.endswith("kv_b_proj.weight"):
        return None
    # MLA's absorption: kv_b splits per head into k_b (transposed) and v_b.
    n_head, nope, v_dim = int(hp["num_key_value_heads"]), int(hp["qk_nope_head_dim"]), int(hp["v_head_dim"])
    rank = ref.shape[-1]
    if ref.shape[0] != n_head * (nope + v_dim):
        raise ConvertError(f"{name} has {ref.shape[0]} rows, not num_key_value_heads x (qk_nope + v) dims")

    def k_b(x: np.ndarray) -> np.ndarray:
        return x.reshape(n_head, nope + v_dim, rank)[:, :nope, :].transpose(0, 2, 1)

    per_head = np.arange(n_head, dtype=np.int64)[:, None] * (nope + v_dim)
    v_rows = (per_head + nope + np.arange(v_dim, dtype=np.int64)).reshape(-1)
    return [
        Piece(name.replace("kv_b_proj", "k_b_proj"), None, (n_head, rank, nope), transform=k_b),
        Piece(name.replace("kv_b_proj", "v_b_proj"), v_rows, (n_head, v_dim, rank)),
    ]


def gpt_oss_params(w: gguf.GGUFWriter, hp: Params, ftype: int) -> None:
    text_params(w, hp, ftype)
    w.add_sliding_window(hp["sliding_window"])
    w.add_expert_feed_forward_length(hp["intermediate_size"])


def gpt_oss_rewrite(name: str, ref: TensorRef, hp: Params) -> list[Piece] | None:
    """gpt-oss keeps experts stacked, transposed, with gate and up interleaved column by column."""
    if name.endswith("sinks"):
        return [Piece(name + ".weight", None, ref.shape)]
    if name.endswith(("_blocks", "_scales")):
        if not is_mxfp4(hp):
            raise ConvertError(f"{name} holds MXFP4 blocks but config.json declares no MXFP4 quantization")
        return []  # repacked ahead of everything else (plan._mxfp4_plans)
    if name.endswith("mlp.experts.down_proj_bias"):
        return [Piece(name.replace("down_proj_bias", "down_proj.bias"), None, ref.shape)]
    if name.endswith("mlp.experts.down_proj"):
        n_exp, n_ff, n_embd = ref.shape
        return [Piece(name + ".weight", None, (n_exp, n_embd, n_ff), transform=_swap_last)]
    if name.endswith("mlp.experts.gate_up_proj_bias"):
        shape = (*ref.shape[:-1], ref.shape[-1] // 2)
        return [
            Piece(name.replace("gate_up_proj_bias", "gate_proj.bias"), None, shape, transform=_even_columns),
            Piece(name.replace("gate_up_proj_bias", "up_proj.bias"), None, shape, transform=_odd_columns),
        ]
    if name.endswith("mlp.experts.gate_up_proj"):
        n_exp, n_embd, n_ff2 = ref.shape
        shape = (n_exp, n_ff2 // 2, n_embd)
        return [
            Piece(name.replace("gate_up_proj", "gate_proj.weight"), None, shape, transform=_even_rows_of_swapped),
            Piece(name.replace("gate_up_proj", "up_proj.weight"), None, shape, transform=_odd_rows_of_swapped),
        ]
    return None


def _swap_last(x: np.ndarray) -> np.ndarray:
    return x.swapaxes(-1, -2)


def _even_columns(x: np.ndarray) -> np.ndarray:
    return x[..., ::2]


def _odd_columns(x: np.ndarray) -> np.ndarray:
    return x[..., 1::2]


def _even_rows_of_swapped(x: np.ndarray) -> np.ndarray:
    return x.swapaxes(-1, -2)[:, ::2, :]


def _odd_rows_of_swapped(x: np.ndarray) -> np.ndarray:
    return x.swapaxes(-1, -2)[:, 1::2, :]


def llama4_params(w: gguf.GGUFWriter, hp: Params, ftype: int) -> None:
    # Llama 4 calls its dense FFN width intermediate_size_mlp and its experts' width intermediate_size.
    hp = {**hp, "intermediate_size_moe": hp["intermediate_size"], "intermediate_size": hp["intermediate_size_mlp"]}
    llama_params(w, hp, ftype)
    w.add_interleave_moe_layer_step(hp["interleave_moe_layer_step"])
    w.add_expert_feed_forward_length(hp["intermediate_size_moe"])
    if "layer_types" in hp and all(t == "full_attention" for t in hp["layer_types"]):
        w.add_sliding_window(0)  # no chunked attention anywhere (MobileLLM)


def llama4_rewrite(name: str, ref: TensorRef, hp: Params) -> list[Piece] | None:
    """Llama 4 stores its experts stacked and transposed, gate and up side by side."""
    if "gate_up_proj" in name:
        n_exp, n_embd, n_ff2 = ref.shape
        shape = (n_exp, n_ff2 // 2, n_embd)
        return [
            Piece(name.replace("gate_up_proj", "gate_proj.weight"), None, shape, transform=_first_half_of_swapped),
            Piece(name.replace("gate_up_proj", "up_proj.weight"), None, shape, transform=_second_half_of_swapped),
        ]
    if name.endswith("down_proj"):
        n_exp, n_ff, n_embd = ref.shape
        return [Piece(name + ".weight", None, (n_exp, n_embd, n_ff), transform=_swap_last)]
    return None


def _first_half_of_swapped(x: np.ndarray) -> np.ndarray:
    return x.swapaxes(-1, -2)[..., : x.shape[-1] // 2, :]


def _second_half_of_swapped(x: np.ndarray) -> np.ndarray:
    return x.swapaxes(-1, -2)[..., x.shape[-1] // 2 :, :]


def _lfm2_ff(hp: Params) -> int:
    ff = int(find(hp, "block_ff_dim", "intermediate_size"))
    if hp["block_auto_adjust_ff_dim"]:
        ff = int(2 * ff / 3)
        if hp["block_ffn_dim_multiplier"] is not None:
            ff = int(hp["block_ffn_dim_multiplier"] * ff)
        multiple = int(hp["block_multiple_of"])
        ff = multiple * ((ff + multiple - 1) // multiple)
    return ff


def lfm2_params(w: gguf.GGUFWriter, hp: Params, ftype: int) -> None:
    # KV heads per layer (none in the short-convolution layers); the FFN width as LFM2 derives it. Both go in
    # through the keys text_params reads first, so each key is written once.
    n_kv = [hp["num_key_value_heads"] if t != "conv" else 0 for t in hp["layer_types"]]
    text_params(w, {**hp, "num_key_value_heads": n_kv, "prefix_dense_intermediate_size": _lfm2_ff(hp)}, ftype)
    w.add_vocab_size(hp["vocab_size"])
    w.add_shortconv_l_cache(hp["conv_L_cache"])
    if find(hp, "rms_norm_eps", "norm_eps") != hp["norm_eps"]:
        w.add_layer_norm_rms_eps(hp["norm_eps"])


def lfm2_rewrite(name: str, ref: TensorRef, hp: Params) -> list[Piece] | None:
    if "conv.conv" in name and len(ref.shape) == 3:  # (channels, 1, width): llama.cpp's conv wants 2-D
        return [Piece(name, None, (ref.shape[0], ref.shape[2]))]
    return None


LFM2_EXPERTS = Experts(
    pattern=r"model\.layers\.(?P<bid>\d+)\.feed_forward\.experts\.(?P<xid>\d+)\.(?P<w>w[123])\.weight",
    order=("w1", "w2", "w3"),
    merged="layers.{bid}.feed_forward.experts.{w}.weight",
)


def lfm2_moe_params(w: gguf.GGUFWriter, hp: Params, ftype: int) -> None:
    n_kv = [hp["num_key_value_heads"] if t == "full_attention" else 0 for t in hp["layer_types"]]
    text_params(w, {**hp, "num_key_value_heads": n_kv}, ftype)
    w.add_expert_feed_forward_length(hp["moe_intermediate_size"])
    w.add_leading_dense_block_count(hp["num_dense_layers"])
    w.add_expert_gating_func(gguf.ExpertGatingFuncType.SIGMOID)
    w.add_vocab_size(hp["vocab_size"])
    w.add_shortconv_l_cache(hp["conv_L_cache"])


def lfm2_moe_rewrite(name: str, ref: TensorRef, hp: Params) -> list[Piece] | None:
    if name.endswith(".expert_bias"):  # the router's selection bias, as llama.cpp names it
        return [Piece(name + ".bias", None, ref.shape)]
    return lfm2_rewrite(name, ref, hp)


def _mamba2_dims(hp: Params) -> tuple[int, int, int, int]:
    d_model = int(find(hp, "hidden_size", "d_model", "dim"))
    expand = int(find(hp, "mamba_expand", "expand") or 2)
    d_inner = int(find(hp, "mamba_d_ssm", "intermediate_size", "d_inner") or expand * d_model)
    head_dim = int(find(hp, "mamba_d_head", "head_dim") or 64)
    if d_inner != expand * d_model or d_inner % head_dim:
        raise ConvertError(f"Mamba-2 inner size {d_inner} is not expand x hidden size, in whole heads of {head_dim}")
    return d_model, d_inner, head_dim, int(find(hp, "n_groups") or 1)


def mamba2_params(w: gguf.GGUFWriter, hp: Params, ftype: int) -> None:
    d_model, d_inner, head_dim, n_group = _mamba2_dims(hp)
    w.add_context_length(2**20)  # a recurrent model has no trained context; llama.cpp's converter writes this
    w.add_embedding_length(d_model)
    w.add_feed_forward_length(0)
    w.add_head_count(0)
    w.add_block_count(int(find(hp, "n_layers", "num_hidden_layers", "n_layer", "num_layers")))
    w.add_ssm_conv_kernel(find(hp, "conv_kernel", "d_conv") or 4)
    w.add_ssm_inner_size(d_inner)
    w.add_ssm_state_size(find(hp, "state_size", "d_state") or 128)
    w.add_ssm_time_step_rank(d_inner // head_dim)
    w.add_ssm_group_count(n_group)
    w.add_layer_norm_rms_eps(find(hp, "layer_norm_epsilon", "rms_norm_eps") or 1e-5)
    w.add_file_type(ftype)


def mamba2_vocab_size(hp: Params) -> int:
    """Mamba-2 pads its vocabulary to a multiple of pad_vocab_size_multiple (16)."""
    multiple = int(hp.get("pad_vocab_size_multiple", 16))
    return -(int(hp["vocab_size"]) // -multiple) * multiple


def mamba2_rewrite(name: str, ref: TensorRef, hp: Params) -> list[Piece] | None:
    original = name
    if name.startswith(("model.backbone", "model.lm_head")):  # Mamba-Codestral's names
        name = name.removeprefix("model.")
    if name.endswith(".dt_bias"):
        name = name.rpartition(".dt_bias")[0] + ".dt_proj.bias"
    if name.endswith(".A_log"):
        # A = -exp(A_log). torch's vectorised exp and a correctly rounded one may differ in the last bit.
        values = -np.exp(read_values(ref).astype(np.float64)).astype(np.float32)
        return [Piece(name, None, (*ref.shape, 1), data=values.reshape(*ref.shape, 1))]
    if name.endswith(".D"):
        return [Piece(name, None, (*ref.shape, 1))]
    if name.endswith("conv1d.weight"):
        return [Piece(name, None, tuple(d for d in ref.shape if d != 1))]
    if name.endswith("mixer.norm.weight"):
        _, d_inner, _, n_group = _mamba2_dims(hp)
        return [Piece(name, None, (n_group, d_inner // n_group))]
    return [Piece(name, None, ref.shape)] if name != original else None  # renamed only
