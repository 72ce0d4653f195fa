"""Multi-token-prediction blocks: llama.cpp creates their tensors with TENSOR_SKIP (unless load_mtp), so
they sit in the file and in llama_model_size but in no buffer. The estimate's host weights must match
the CPU_Mapped model buffer llama.cpp logs, not the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.estimate import LoadSettings, estimate
from app.estimate.shape import shape_from_header
from app.gguf import read_model
from app.gguf.synthetic_arch import DEFAULT_SPECS, TRANSFORMER_SPECS, write_arch_gguf
from tests.integration.estimate.llama_log import expected_kv, load_and_log, mib_double, mib_float32

pytestmark = pytest.mark.slow

SETTINGS = LoadSettings(n_ctx=1024, n_outputs_max=1)
SPECS = {**DEFAULT_SPECS, **TRANSFORMER_SPECS}


@pytest.mark.parametrize("arch", ["qwen35", "qwen35moe", "glm4moe", "deepseek2", "glm4"])
def test_mtp_blocks_are_not_loaded(tmp_path: Path, arch: str) -> None:
    spec = SPECS[arch].with_(n_layer=SPECS[arch].n_layer + 1, n_nextn=1)
    path = write_arch_gguf(tmp_path / f"{arch}-mtp.gguf", spec)
    shape = shape_from_header(read_model(path))
    est = estimate(shape, SETTINGS, gpu_available=False)
    log = load_and_log(path, SETTINGS)

    last = spec.n_layer - 1
    assert f"model has unused tensor blk.{last}.nextn.eh_proj.weight" in log.log
    assert shape.layer_bytes[last] == 0 and shape.unloaded_bytes > 0
    assert log.model_size == shape.weight_bytes  # llama_model_size still counts the file's MTP tensors
    assert est.weights.cpu == shape.weight_bytes - shape.unloaded_bytes
    assert f"{log.model_buffers['CPU_Mapped']:.2f}" == mib_double(est.host_weight_buffers[0])
    caches = expected_kv(est, shape.has_swa)
    assert [(x.cells, x.layers, x.size_mib) for x in log.kv] == [(c, n, mib_float32(k + v)) for c, n, k, v in caches]


def test_mtp_blocks_of_other_architectures_are_loaded(tmp_path: Path) -> None:
    """An architecture without the skip (llama) loads every block, MTP or not: nothing is left out."""
    spec = TRANSFORMER_SPECS["llama"].with_(n_layer=5, n_nextn=1)
    path = write_arch_gguf(tmp_path / "llama-mtp.gguf", spec)
    shape = shape_from_header(read_model(path))
    assert shape.unloaded_bytes == 0 and shape.layer_bytes[4] > 0
