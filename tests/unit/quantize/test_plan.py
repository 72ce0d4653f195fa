"""The Quantize page's plan, off the page: predicted sizes and fit verdicts from the engine's settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.chat.protocol import EngineSettings
from app.estimate import VERDICT_WORDS, HardwareSpec, VerdictKind, engine_load_settings, estimate
from app.estimate.shape import shape_from_header
from app.gguf import read_model
from app.quantize.plan import plan_source
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf

GIB = 1 << 30


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("plan") / "tiny.gguf", TinySpec(tensor_type="F16"))


def test_verdicts_use_the_hardware(tiny_gguf: Path) -> None:
    roomy = HardwareSpec(16 * GIB, 8 * GIB)
    cramped = HardwareSpec(1 << 20, 100 << 10)
    assert plan_source(tiny_gguf, roomy).fits["Q8_0"] == VERDICT_WORDS[VerdictKind.CPU_ONLY]
    assert plan_source(tiny_gguf, cramped).fits["Q8_0"] == VERDICT_WORDS[VerdictKind.WONT_FIT]
    assert plan_source(tiny_gguf, None).fits == {}  # no machine yet: sizes only


def test_the_source_type_is_judged_on_its_own_shape_with_the_engine_settings(tiny_gguf: Path) -> None:
    plan = plan_source(tiny_gguf, HardwareSpec(16 * GIB, 8 * GIB), EngineSettings(n_ctx=2048))
    assert set(plan.sizes) == set(plan.verdicts) and plan.sizes["Q8_0"] < plan.sizes["F16"]
    shape = shape_from_header(read_model(tiny_gguf))
    load = engine_load_settings(EngineSettings(n_ctx=2048, n_gpu_layers=0))
    f16 = plan.verdicts["F16"]
    assert f16.detail is not None and f16.detail.estimate.kv_bytes == estimate(shape, load).kv_bytes
    assert f16.detail.estimate.settings.n_outputs_max == 1  # the engine's one output row
