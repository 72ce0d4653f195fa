"""Acceptance on the real Gemma 3 270M: four quants (IQ2_XS with a computed imatrix) in one job, each
loading and generating, each scored against the source. Done once per test session (it is the slow part)."""

from __future__ import annotations

from pathlib import Path

import llama_cpp
import pytest

from app.quantize import events as ev
from app.quantize.pipeline import QuantizeSpec
from app.quantize.runner import JobProcess, cpu_threads

pytestmark = pytest.mark.slow

TYPES = ("Q8_0", "Q4_K_M", "Q6_K", "IQ2_XS")


@pytest.fixture(scope="session")
def gemma_quants(gemma_model: Path, tmp_path_factory: pytest.TempPathFactory) -> list[ev.Event]:
    out = tmp_path_factory.mktemp("gemma-quants")
    spec = QuantizeSpec(gemma_model, TYPES, out, quality=True, n_threads=cpu_threads())
    job = JobProcess("app.workers.quantize_job", spec)
    job.start()
    return job.wait()


def test_gemma_quants_are_produced_and_scored(gemma_quants: list[ev.Event]) -> None:
    done = gemma_quants[-1]
    assert isinstance(done, ev.Finished), done
    # the source is already Q4_K_M: requantizing is allowed (the warning came when the source was picked)
    assert [e.type_name for e in gemma_quants if isinstance(e, ev.Planned)] == list(TYPES)
    quants = {o.type_name: o for o in done.outputs if o.kind == "quant"}
    assert set(quants) == set(TYPES)
    assert any(o.kind == "imatrix" for o in done.outputs)
    for name, o in quants.items():
        assert o.path.name == f"gemma-3-270m-q4_k_m-{name}.gguf"
        assert o.mean_kld is not None and o.top1_agreement is not None
    assert quants["Q8_0"].mean_kld < quants["IQ2_XS"].mean_kld  # type: ignore[operator]
    assert quants["Q8_0"].top1_agreement > 0.8  # type: ignore[operator]


@pytest.mark.parametrize("name", TYPES)
def test_each_gemma_quant_loads_and_generates(gemma_quants: list[ev.Event], name: str) -> None:
    done = gemma_quants[-1]
    assert isinstance(done, ev.Finished)
    path = next(o.path for o in done.outputs if o.type_name == name and o.kind == "quant")
    llm = llama_cpp.Llama(str(path), n_ctx=128, verbose=False, n_threads=2)
    text = llm("The capital of France is", max_tokens=8, temperature=0.0)["choices"][0]["text"]
    assert isinstance(text, str) and len(text) > 0
