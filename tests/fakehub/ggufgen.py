"""Generated GGUF files for the fake Hub, written with gguf-py's GGUFWriter.

`llama_gguf(spec, ftype)` returns a `GeneratedGGUF`: the exact header bytes of a llama-shaped model quantized as
`ftype` (per-tensor types as llama.cpp's quantizer would pick them, roughly), and the full file size once the tensor
data follows. The catalogue serves it as VirtualContent, so a "1.2 GB" quant costs a few hundred KB of memory.
`tiny_gguf_bytes(...)` gives a complete, small, real file (data included) for download tests.
"""

from __future__ import annotations

import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, GGUFWriter, LlamaFileType

T = GGMLQuantizationType
ALIGN = 32

# ftype -> (default type, output.weight type, type of attn_v / ffn_down)
_MIX: dict[LlamaFileType, tuple[T, T, T]] = {
    LlamaFileType.MOSTLY_Q2_K: (T.Q2_K, T.Q6_K, T.Q3_K),
    LlamaFileType.MOSTLY_Q3_K_S: (T.Q3_K, T.Q6_K, T.Q3_K),
    LlamaFileType.MOSTLY_Q3_K_M: (T.Q3_K, T.Q6_K, T.Q4_K),
    LlamaFileType.MOSTLY_Q3_K_L: (T.Q3_K, T.Q6_K, T.Q5_K),
    LlamaFileType.MOSTLY_IQ4_XS: (T.IQ4_XS, T.Q6_K, T.IQ4_XS),
    LlamaFileType.MOSTLY_Q4_0: (T.Q4_0, T.Q6_K, T.Q4_0),
    LlamaFileType.MOSTLY_Q4_K_S: (T.Q4_K, T.Q6_K, T.Q4_K),
    LlamaFileType.MOSTLY_Q4_K_M: (T.Q4_K, T.Q6_K, T.Q6_K),
    LlamaFileType.MOSTLY_Q5_K_S: (T.Q5_K, T.Q6_K, T.Q5_K),
    LlamaFileType.MOSTLY_Q5_K_M: (T.Q5_K, T.Q6_K, T.Q6_K),
    LlamaFileType.MOSTLY_Q6_K: (T.Q6_K, T.Q6_K, T.Q6_K),
    LlamaFileType.MOSTLY_Q8_0: (T.Q8_0, T.Q8_0, T.Q8_0),
    LlamaFileType.MOSTLY_F16: (T.F16, T.F16, T.F16),
    LlamaFileType.ALL_F32: (T.F32, T.F32, T.F32),
}


@dataclass(frozen=True, slots=True)
class LlamaSpec:
    name: str = "Fake Llama"
    n_vocab: int = 32000
    n_embd: int = 1024
    n_layer: int = 16
    n_ff: int = 4096
    n_head: int = 16
    n_head_kv: int = 4
    n_ctx_train: int = 8192
    with_vocab: bool = True  # real files carry the token list; it makes headers hundreds of KB
    n_expert: int = 0  # > 0: Mixtral-style expert feed-forward layers (`n_ff` per expert)
    n_expert_used: int = 2


@dataclass(frozen=True, slots=True)
class GeneratedGGUF:
    header: bytes  # everything up to the (aligned) start of tensor data
    size: int  # full file size
    n_params: int
    ftype: LlamaFileType
    spec: LlamaSpec


def _pad(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def _nbytes(n_elements: int, qtype: T) -> int:
    block, type_size = GGML_QUANT_SIZES[qtype]
    return n_elements // block * type_size


def _tensor_plan(spec: LlamaSpec, ftype: LlamaFileType) -> list[tuple[str, tuple[int, ...], T]]:
    """(name, numpy-order shape, type) for every tensor of a llama-shaped model."""
    main, out_t, hi = _MIX[ftype]
    e, ff, v = spec.n_embd, spec.n_ff, spec.n_vocab
    kv = e // spec.n_head * spec.n_head_kv
    plan: list[tuple[str, tuple[int, ...], T]] = [("token_embd.weight", (v, e), main)]
    for i in range(spec.n_layer):
        b = f"blk.{i}"
        plan += [
            (f"{b}.attn_norm.weight", (e,), T.F32),
            (f"{b}.attn_q.weight", (e, e), main),
            (f"{b}.attn_k.weight", (kv, e), main),
            (f"{b}.attn_v.weight", (kv, e), hi),
            (f"{b}.attn_output.weight", (e, e), main),
            (f"{b}.ffn_norm.weight", (e,), T.F32),
        ]
        if spec.n_expert:
            x = spec.n_expert
            plan += [
                (f"{b}.ffn_gate_inp.weight", (x, e), T.F32),
                (f"{b}.ffn_gate_exps.weight", (x, ff, e), main),
                (f"{b}.ffn_up_exps.weight", (x, ff, e), main),
                (f"{b}.ffn_down_exps.weight", (x, e, ff), hi),
            ]
            continue
        plan += [
            (f"{b}.ffn_gate.weight", (ff, e), main),
            (f"{b}.ffn_up.weight", (ff, e), main),
            (f"{b}.ffn_down.weight", (e, ff), hi),
        ]
    plan += [("output_norm.weight", (e,), T.F32), ("output.weight", (v, e), out_t)]
    return plan


def _writer(spec: LlamaSpec, ftype: LlamaFileType) -> GGUFWriter:
    w = GGUFWriter(None, "llama")
    w.add_name(spec.name)
    w.add_file_type(int(ftype))
    w.add_quantization_version(2)
    w.add_context_length(spec.n_ctx_train)
    w.add_embedding_length(spec.n_embd)
    w.add_block_count(spec.n_layer)
    w.add_feed_forward_length(spec.n_ff)
    w.add_head_count(spec.n_head)
    w.add_head_count_kv(spec.n_head_kv)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(spec.n_vocab)
    if spec.n_expert:
        w.add_expert_count(spec.n_expert)
        w.add_expert_used_count(spec.n_expert_used)
    w.add_tokenizer_model("llama")
    if spec.with_vocab:
        w.add_token_list([f"<t{i}>" for i in range(spec.n_vocab)])
        w.add_token_scores([0.0] * spec.n_vocab)
        w.add_token_types([1] * spec.n_vocab)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_chat_template("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}")
    return w


def _write(w: GGUFWriter, with_data: bool) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.gguf"
        w.write_header_to_file(path)
        w.write_kv_data_to_file()
        if with_data:
            w.write_tensors_to_file()
        else:
            w.write_ti_data_to_file()
        w.close()
        return path.read_bytes()


def llama_gguf(spec: LlamaSpec, ftype: LlamaFileType) -> GeneratedGGUF:
    w = _writer(spec, ftype)
    data_size = 0
    n_params = 0
    for name, shape, qtype in _tensor_plan(spec, ftype):
        n = int(np.prod(shape))
        nbytes = _nbytes(n, qtype)
        n_params += n
        w.add_tensor_info(name, shape, np.dtype(np.float32), nbytes, raw_dtype=qtype)
        data_size += _pad(nbytes)
    raw = _write(w, with_data=False)
    header = raw + b"\0" * (_pad(len(raw)) - len(raw))
    return GeneratedGGUF(header=header, size=len(header) + data_size, n_params=n_params, ftype=ftype, spec=spec)


def tiny_gguf_bytes(name: str = "Tiny", n_layer: int = 2, n_embd: int = 64, n_vocab: int = 256) -> bytes:
    """A small but complete F32 llama-shaped GGUF (real header and tensor data), a few hundred KB."""
    spec = LlamaSpec(
        name=name,
        n_vocab=n_vocab,
        n_embd=n_embd,
        n_layer=n_layer,
        n_ff=n_embd * 2,
        n_head=4,
        n_head_kv=2,
        n_ctx_train=512,
    )
    w = _writer(spec, LlamaFileType.ALL_F32)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    for tname, shape, _ in _tensor_plan(spec, LlamaFileType.ALL_F32):
        w.add_tensor(tname, rng.standard_normal(shape, dtype=np.float32) * 0.02)
    return _write(w, with_data=True)


def mmproj_gguf(n_embd: int = 768, n_block: int = 8) -> GeneratedGGUF:
    """Header of a CLIP projector file (mmproj) of about 100 MB."""
    w = GGUFWriter(None, "clip")
    w.add_name("Fake Vision Projector")
    w.add_file_type(int(LlamaFileType.MOSTLY_F16))
    w.add_bool("clip.has_vision_encoder", True)
    w.add_uint32("clip.vision.embedding_length", n_embd)
    w.add_uint32("clip.vision.block_count", n_block)
    # what a projector's memory is worked out from (app.estimate.projector): a 224-pixel SigLIP-like tower
    w.add_string("general.type", "mmproj")
    w.add_string("clip.projector_type", "mlp")
    w.add_uint32("clip.vision.image_size", 224)
    w.add_uint32("clip.vision.patch_size", 14)
    w.add_uint32("clip.vision.feed_forward_length", 4 * n_embd)
    w.add_uint32("clip.vision.attention.head_count", 12)
    w.add_uint32("clip.vision.projection_dim", LlamaSpec().n_embd)
    data_size = 0
    n_params = 0
    for i in range(n_block):
        for part, shape in (
            ("attn_qkv", (3 * n_embd, n_embd)),
            ("ffn_up", (4 * n_embd, n_embd)),
            ("ffn_down", (n_embd, 4 * n_embd)),
        ):
            n = int(np.prod(shape))
            nbytes = _nbytes(n, T.F16)
            w.add_tensor_info(f"v.blk.{i}.{part}.weight", shape, np.dtype(np.float32), nbytes, raw_dtype=T.F16)
            data_size += _pad(nbytes)
            n_params += n
    raw = _write(w, with_data=False)
    header = raw + b"\0" * (_pad(len(raw)) - len(raw))
    return GeneratedGGUF(
        header=header,
        size=len(header) + data_size,
        n_params=n_params,
        ftype=LlamaFileType.MOSTLY_F16,
        spec=LlamaSpec(name="mmproj"),
    )
