"""Tiny loadable GGUF models of the recurrent, hybrid and indexer-cache architectures, and (transformer.py,
recipes.py) of the dense, MoE, MLA and sliding-window transformers.

Each writer lays out the metadata and the tensors (names and shapes) that the pinned llama.cpp's
loader for that architecture asks for (src/models/<arch>.cpp, load_arch_hparams / load_arch_tensors);
the values are random, so the models load and can be estimated but say nothing. Used by the estimate
tests and benchmarks/estimate_vs_llama.py:

    from app.gguf.synthetic_arch import ArchSpec, write_arch_gguf
    path = write_arch_gguf(tmp_path / "qwen35.gguf", ArchSpec("qwen35"))

The state dimensions default to sizes whose recurrent state shows in llama.cpp's log (0.01 MiB steps).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from app.gguf.synthetic import add_value, add_vocabulary
from app.gguf.synthetic_arch.base import ArchSpec, Layout, Tensors, U64Array
from app.gguf.synthetic_arch.linear import (
    bailingmoe3,
    gated_delta_net,
    glm5_next,
    kimi_k3,
    kimi_linear,
    lfm2,
    minimax_01,
    qwen4exp,
)
from app.gguf.synthetic_arch.recipes import RECIPES
from app.gguf.synthetic_arch.rwkv import arwkv7, rwkv6, rwkv6qwen2, rwkv7
from app.gguf.synthetic_arch.sparse import deepseek4, deepseek32, dots3note, glm_dsa, hy_v4, minimax_m3
from app.gguf.synthetic_arch.ssm import (
    falcon_h1,
    granitehybrid,
    jamba,
    mamba,
    mamba2,
    nemotron_h,
    nemotron_h_moe,
    plamo2,
)
from app.gguf.synthetic_arch.transformer import TRANSFORMER_SPEC, transformer

__all__ = [
    "DEFAULT_SPECS",
    "FLASH_ATTN_OFF",
    "TRANSFORMER_ARCHS",
    "TRANSFORMER_SPECS",
    "WRITERS",
    "ArchSpec",
    "layout",
    "write_arch_gguf",
]

WRITERS: dict[str, Callable[[Layout], None]] = {
    "bailingmoe3": bailingmoe3,
    "glm-dsa": glm_dsa,
    "hy_v4": hy_v4,
    "dots3note": dots3note,
    "minimax-m3": minimax_m3,
    "minimax-01": minimax_01,
    "plamo2": plamo2,
    "nemotron_h_moe": nemotron_h_moe,
    "kimi-linear": kimi_linear,
    "kimi-k3": kimi_k3,
    "glm5-next": glm5_next,
    "deepseek32": deepseek32,
    "deepseek4": deepseek4,
    "mamba": mamba,
    "mamba2": mamba2,
    "jamba": jamba,
    "granitehybrid": granitehybrid,
    "nemotron_h": nemotron_h,
    "falcon-h1": falcon_h1,
    "qwen3next": lambda lay: gated_delta_net(lay, moe=True, fused_ba=True),
    "qwen35": lambda lay: gated_delta_net(lay, moe=False, fused_ba=False),
    "qwen35moe": lambda lay: gated_delta_net(lay, moe=True, fused_ba=False),
    "qwen4exp": qwen4exp,
    "lfm2": lambda lay: lfm2(lay, moe=False),
    "lfm2moe": lambda lay: lfm2(lay, moe=True),
    "rwkv6": rwkv6,
    "rwkv7": rwkv7,
    "rwkv6qwen2": rwkv6qwen2,
    "arwkv7": arwkv7,
}
# The transformers, one recipe each (recipes.py), in the order of the benchmark table.
TRANSFORMER_ARCHS: tuple[str, ...] = tuple(arch for arch in RECIPES if arch not in WRITERS)
for _arch in TRANSFORMER_ARCHS:
    WRITERS[_arch] = functools.partial(transformer, recipe=RECIPES[_arch])


def layout(spec: ArchSpec) -> tuple[dict[str, Any], Tensors]:
    """The metadata and the (name, ggml shape) tensor list of `spec`, without writing anything."""
    if spec.arch not in WRITERS:
        raise ValueError(f"no synthetic writer for {spec.arch}; known: {', '.join(sorted(WRITERS))}")
    lay = Layout(spec)
    WRITERS[spec.arch](lay)
    meta = {key: value for key, value in lay.meta.items() if key not in spec.omit}
    meta.update(spec.metadata)
    return meta, lay.tensors


def write_arch_gguf(path: str | Path, spec: ArchSpec) -> Path:
    """Write the model (all tensors f32) and return its path."""
    import gguf

    path = Path(path)
    meta, tensors = layout(spec)
    rng = np.random.default_rng(spec.seed)
    writer = gguf.GGUFWriter(path, spec.arch)
    writer.add_name("Tiny synthetic model")  # not the arch: llama.cpp's vocabulary special-cases names like phi3
    writer.add_file_type(0)
    add_vocabulary(writer, spec.n_vocab)
    for key, value in meta.items():
        if isinstance(value, U64Array):
            writer.add_key_value(key, list(value), gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType.UINT64)
        else:
            add_value(writer, key, value)
    for name, shape in tensors:
        data = (rng.standard_normal(tuple(reversed(shape))) * 0.02).astype(np.float32)
        writer.add_tensor(name, data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


# Shapes that every writer's loader and graph accept, with states large enough for llama.cpp's log.
DEFAULT_SPECS: dict[str, ArchSpec] = {
    "mamba": ArchSpec("mamba", n_head=0, n_head_kv=0, n_embd=64, d_inner=128, d_state=64, dt_rank=8),
    "mamba2": ArchSpec("mamba2", n_head=0, n_head_kv=0, d_inner=128, d_state=64, dt_rank=4, n_group=2),
    "jamba": ArchSpec("jamba", n_head_kv=(0, 2, 0, 0), d_inner=128, d_state=64, dt_rank=8),
    "granitehybrid": ArchSpec("granitehybrid", n_head_kv=(0, 2, 0, 2), d_inner=128, d_state=64, dt_rank=4),
    "nemotron_h": ArchSpec("nemotron_h", n_layer=6, n_head_kv=(0, 0, 2, 0, 0, 0), n_ff=(0, 128, 0, 0, 128, 0)),
    "falcon-h1": ArchSpec("falcon-h1", d_inner=128, d_state=64, dt_rank=4),
    "qwen3next": ArchSpec("qwen3next", d_inner=256, d_state=64, dt_rank=4, n_group=2),
    "qwen35": ArchSpec("qwen35", d_inner=256, d_state=64, dt_rank=4, n_group=2),
    "qwen35moe": ArchSpec("qwen35moe", d_inner=256, d_state=64, dt_rank=4, n_group=2),
    "qwen4exp": ArchSpec("qwen4exp", d_inner=256, d_state=64, dt_rank=4, n_group=2),
    "lfm2": ArchSpec("lfm2", n_embd=512, n_head=8, head_dim=64, n_head_kv=(0, 2, 0, 0), l_cache=9),
    "lfm2moe": ArchSpec("lfm2moe", n_embd=512, n_head=8, head_dim=64, n_head_kv=(0, 2, 0, 0), l_cache=9),
    "rwkv6": ArchSpec("rwkv6", n_embd=128, n_head=0, n_head_kv=0, n_ff=256, wkv_head_size=64),
    "rwkv7": ArchSpec("rwkv7", n_embd=128, n_head=0, n_head_kv=0, n_ff=256, wkv_head_size=64),
    "rwkv6qwen2": ArchSpec("rwkv6qwen2", n_embd=128, n_head=0, n_head_kv=0, n_ff=256, wkv_head_size=64),
    "arwkv7": ArchSpec("arwkv7", n_embd=128, n_head=0, n_head_kv=0, n_ff=256, wkv_head_size=64),
    "deepseek32": ArchSpec("deepseek32", head_dim=32),
    "deepseek4": ArchSpec("deepseek4", head_dim=64),
    "plamo2": ArchSpec("plamo2", n_head_kv=(0, 2, 0, 0), d_inner=128, d_state=64, dt_rank=4, n_group=0),
    "nemotron_h_moe": ArchSpec(
        "nemotron_h_moe", n_layer=6, n_head_kv=(0, 0, 2, 0, 0, 0), n_ff=(0, 128, 0, 0, 128, 0), n_group=2
    ),
    "kimi-linear": ArchSpec("kimi-linear", head_dim=32, n_head_kv=(0, 0, 0, 1)),
    "minimax-01": ArchSpec("minimax-01", head_dim=32),
    "minimax-m3": ArchSpec("minimax-m3"),
    "glm-dsa": ArchSpec("glm-dsa", head_dim=32),
    "hy_v4": ArchSpec("hy_v4", head_dim=32),
    "dots3note": ArchSpec("dots3note", head_dim=32),
    "bailingmoe3": ArchSpec("bailingmoe3", head_dim=32, n_head_kv=(0, 0, 0, 1)),
    "kimi-k3": ArchSpec("kimi-k3", head_dim=32, n_head_kv=(0, 0, 0, 1)),
    "glm5-next": ArchSpec("glm5-next", head_dim=32, n_head_kv=(0, 1, 0, 1)),
}
# The transformers' shape: the one their recipes were made at.
TRANSFORMER_SPECS: dict[str, ArchSpec] = {arch: TRANSFORMER_SPEC.with_(arch=arch) for arch in TRANSFORMER_ARCHS}
# Synthetic models whose graph the pinned llama.cpp aborts on (a GGML_ASSERT kills the process) unless
# flash attention is off: load them with it off.
FLASH_ATTN_OFF: dict[str, str] = {"plm": "llama.cpp's plm graph aborts with flash attention on or auto"}
# Chameleon's graph blanks the logits of its image tokens (ids 4 to 8195): its vocabulary must hold them.
TRANSFORMER_SPECS["chameleon"] = TRANSFORMER_SPEC.with_(arch="chameleon", n_vocab=8320)
