"""Tiny but loadable GGUF models (llama architecture, SentencePiece-style vocabulary).

Used by the tests, the benchmarks and `gguf-studio --self-test` (so it ships with the app):

    from app.gguf.synthetic import TinySpec, write_tiny_gguf
    path = write_tiny_gguf(tmp_path / "tiny.gguf", TinySpec(n_layer=3, n_head_kv=[2, 1, 2], tensor_type="Q8_0"))

Per-layer head counts or feed-forward widths (a list) switch the architecture to "deci", the llama
variant whose tensors llama.cpp sizes per layer (plain "llama" sizes every layer like layer 0).
llama.cpp (llama-cpp-python) loads these and can generate from them (the output is noise: weights are
random). With `n_expert > 0` every layer's feed-forward is a mixture of experts (Mixtral's layout
under the llama architecture: `ffn_gate_inp` and the 3-D `ffn_{gate,up,down}_exps` stacks of
`n_ff`-wide experts), the tiny MoE --n-cpu-moe is checked on. With `split=N` the tensors are
spread over N files named `stem-0000K-of-0000N.gguf` and the path of the first part is returned.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

TOKEN_NORMAL, TOKEN_UNKNOWN, TOKEN_CONTROL, TOKEN_BYTE = 1, 2, 3, 6
UNK_ID, BOS_ID, EOS_ID = 0, 1, 2
N_SPECIAL = 3
_COMMON_WORDS = (  # noqa: SIM905 (a word list reads best as text)
    "the of and to in is that it was for on are as with his they at be this from have or by one had not "
    "but what all were when we there can an your which their said if do will each about how up out them "
    "then she many some so these would other into has more her two like him see time could no make than "
    "first been its who now people my made over did down only way find use may water long little very "
    "after words called just where most know hello world model chat user assistant system"
).split()


@dataclass(frozen=True, slots=True)
class TinySpec:
    """Shape of the generated model. Per-layer values may be a sequence with one entry per layer."""

    n_layer: int = 2
    n_embd: int = 64
    n_head: int | Sequence[int] = 4
    n_head_kv: int | Sequence[int] = 2
    n_ff: int | Sequence[int] = 128
    n_vocab: int = 512
    context_length: int = 512
    chat_template: str | None = None
    tensor_type: str = "F32"  # "F32", "F16", "Q4_0" or "Q8_0" for the 2-D weights (norms stay F32)
    tied_output: bool = False  # no output.weight: the head reuses token_embd
    split: int = 1
    name: str = "Tiny Llama"
    seed: int = 0
    architecture: str | None = None  # None: "llama", or "deci" when a per-layer value is a list
    extra_metadata: tuple[tuple[str, Any], ...] = ()  # (key, value) pairs added with GGUFWriter.add_key_value
    n_expert: int = 0  # > 0: mixture-of-experts feed-forward layers (llama architecture only)
    n_expert_used: int = 2

    def with_(self, **changes: Any) -> TinySpec:
        return replace(self, **changes)

    @property
    def arch(self) -> str:
        if self.architecture:
            return self.architecture
        per_layer = not all(isinstance(v, int) for v in (self.n_head, self.n_head_kv, self.n_ff))
        return "deci" if per_layer else "llama"


LARGE_VOCAB = TinySpec(
    n_vocab=150_000, n_embd=32, n_head=2, n_head_kv=1, n_ff=64, n_layer=1, tensor_type="F16", tied_output=True
)
"""A Qwen-sized vocabulary (150k tokens) on a minimal model: about 10 MB, for scanning benchmarks."""


def vocabulary(n_vocab: int) -> tuple[list[str], list[float], list[int]]:
    """Tokens, scores and token types of a SentencePiece-style vocabulary of exactly `n_vocab` entries:
    <unk>, <s>, </s>, the 256 byte tokens, single characters, common words, then numbered pieces."""
    if n_vocab < N_SPECIAL + 256 + 1:
        raise ValueError(f"n_vocab must be at least {N_SPECIAL + 257} (specials and byte tokens)")
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [TOKEN_UNKNOWN, TOKEN_CONTROL, TOKEN_CONTROL] + [TOKEN_BYTE] * 256
    pieces = ["\u2581", *string.ascii_lowercase, *string.ascii_uppercase, *string.digits, *".,!?'-:;()"]
    pieces += ["\u2581" + c for c in string.ascii_lowercase]
    pieces += ["\u2581" + w for w in _COMMON_WORDS]
    seen = set(tokens)
    for piece in pieces:
        if len(tokens) == n_vocab:
            break
        if piece not in seen:
            seen.add(piece)
            tokens.append(piece)
            types.append(TOKEN_NORMAL)
    number = 0
    while len(tokens) < n_vocab:
        tokens.append(f"\u2581w{number}")
        types.append(TOKEN_NORMAL)
        number += 1
    scores = [0.0] * (N_SPECIAL + 256) + [-float(i) for i in range(n_vocab - N_SPECIAL - 256)]
    return tokens, scores, types


def _per_layer(value: int | Sequence[int], n_layer: int, what: str) -> list[int]:
    if isinstance(value, int):
        return [value] * n_layer
    values = list(value)
    if len(values) != n_layer:
        raise ValueError(f"{what} has {len(values)} entries for {n_layer} layers")
    return values


def write_tiny_gguf(path: str | Path, spec: TinySpec | None = None) -> Path:
    """Write the model; returns the path of the (first) file."""
    import gguf

    spec = spec or TinySpec()
    path = Path(path)
    n_head = _per_layer(spec.n_head, spec.n_layer, "n_head")
    n_head_kv = _per_layer(spec.n_head_kv, spec.n_layer, "n_head_kv")
    n_ff = _per_layer(spec.n_ff, spec.n_layer, "n_ff")
    if spec.n_embd % n_head[0]:
        raise ValueError("n_embd must be a multiple of the first layer's n_head")
    head_dim = spec.n_embd // n_head[0]  # llama.cpp's default head size: n_embd / n_head(0)
    rng = np.random.default_rng(spec.seed)
    if spec.n_expert and (spec.arch != "llama" or not 0 < spec.n_expert_used <= spec.n_expert):
        raise ValueError("experts need the llama architecture and 1 … n_expert experts used per token")

    n_tensors = 1 + (0 if spec.tied_output else 1) + 1 + (10 if spec.n_expert else 9) * spec.n_layer
    per_part = -(-n_tensors // spec.split) if spec.split > 1 else 0
    writer = gguf.GGUFWriter(path, spec.arch, split_max_tensors=per_part)
    writer.add_name(spec.name)
    writer.add_context_length(spec.context_length)
    writer.add_embedding_length(spec.n_embd)
    writer.add_block_count(spec.n_layer)
    writer.add_feed_forward_length(spec.n_ff if isinstance(spec.n_ff, int) else n_ff)
    writer.add_head_count(spec.n_head if isinstance(spec.n_head, int) else n_head)
    writer.add_head_count_kv(spec.n_head_kv if isinstance(spec.n_head_kv, int) else n_head_kv)
    writer.add_rope_dimension_count(head_dim)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(_FILE_TYPES[spec.tensor_type])
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)

    add_vocabulary(writer, spec.n_vocab)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    if spec.chat_template is not None:
        writer.add_chat_template(spec.chat_template)
    if spec.n_expert:
        writer.add_expert_count(spec.n_expert)
        writer.add_expert_used_count(spec.n_expert_used)
    for key, value in spec.extra_metadata:
        add_value(writer, key, value)

    def weight(rows: int, cols: int) -> np.ndarray:
        """A (rows, cols) matrix: ggml shape (cols, rows), i.e. `cols` is the row length ne0."""
        return (rng.standard_normal((rows, cols)) * 0.02).astype(np.float32)

    def add_matrix(name: str, data: np.ndarray) -> None:
        if spec.tensor_type == "F32":
            writer.add_tensor(name, data)
        elif spec.tensor_type == "F16":
            writer.add_tensor(name, data.astype(np.float16))
        else:
            qtype = gguf.GGMLQuantizationType[spec.tensor_type]
            writer.add_tensor(name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)

    def add_norm(name: str, size: int) -> None:
        writer.add_tensor(name, np.ones(size, dtype=np.float32))

    add_matrix("token_embd.weight", weight(spec.n_vocab, spec.n_embd))
    add_norm("output_norm.weight", spec.n_embd)
    if not spec.tied_output:
        add_matrix("output.weight", weight(spec.n_vocab, spec.n_embd))
    for il in range(spec.n_layer):
        kv = n_head_kv[il] * head_dim
        add_norm(f"blk.{il}.attn_norm.weight", spec.n_embd)
        add_matrix(f"blk.{il}.attn_q.weight", weight(n_head[il] * head_dim, spec.n_embd))
        add_matrix(f"blk.{il}.attn_k.weight", weight(kv, spec.n_embd))
        add_matrix(f"blk.{il}.attn_v.weight", weight(kv, spec.n_embd))
        add_matrix(f"blk.{il}.attn_output.weight", weight(spec.n_embd, n_head[il] * head_dim))
        add_norm(f"blk.{il}.ffn_norm.weight", spec.n_embd)
        if spec.n_expert:
            writer.add_tensor(f"blk.{il}.ffn_gate_inp.weight", weight(spec.n_expert, spec.n_embd))
            for part, rows, cols in (
                ("gate", n_ff[il], spec.n_embd),
                ("up", n_ff[il], spec.n_embd),
                ("down", spec.n_embd, n_ff[il]),
            ):
                stack = np.stack([weight(rows, cols) for _ in range(spec.n_expert)])  # ggml (cols, rows, n_expert)
                add_matrix(f"blk.{il}.ffn_{part}_exps.weight", stack)
            continue
        add_matrix(f"blk.{il}.ffn_gate.weight", weight(n_ff[il], spec.n_embd))
        add_matrix(f"blk.{il}.ffn_up.weight", weight(n_ff[il], spec.n_embd))
        add_matrix(f"blk.{il}.ffn_down.weight", weight(spec.n_embd, n_ff[il]))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    n_parts = len(writer.tensors)
    if n_parts > 1:
        return path.with_name(f"{path.stem}-00001-of-{n_parts:05d}.gguf")
    return path


def add_vocabulary(writer: Any, n_vocab: int) -> None:
    """Write `vocabulary(n_vocab)` and its special token ids into a GGUFWriter's header."""
    tokens, scores, types = vocabulary(n_vocab)
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(UNK_ID)
    writer.add_bos_token_id(BOS_ID)
    writer.add_eos_token_id(EOS_ID)


def add_value(writer: Any, key: str, value: Any) -> None:
    """Add a header key with the GGUF type its Python value implies (lists become arrays)."""
    if isinstance(value, bool):
        writer.add_bool(key, value)
    elif isinstance(value, int):
        writer.add_uint32(key, value) if value >= 0 else writer.add_int32(key, value)
    elif isinstance(value, float):
        writer.add_float32(key, value)
    elif isinstance(value, str):
        writer.add_string(key, value)
    else:
        writer.add_array(key, list(value))


_FILE_TYPES = {"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 7}
