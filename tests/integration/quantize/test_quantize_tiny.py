"""Quantization, imatrix and quality check on converted tiny models, and job processes (cancel, crash)."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import llama_cpp
import numpy as np
import pytest

from app.convert.converter import convert
from app.core.errors import QuantizeError
from app.quantize import events as ev
from app.quantize.imatrix import compute_imatrix, default_calibration
from app.quantize.pipeline import QuantizeSpec
from app.quantize.predict import header_tensors, predict_size
from app.quantize.quality import compare
from app.quantize.quality_file import load_quality
from app.quantize.quantizer import QuantizeOptions, TensorProgress, quantize_file
from app.quantize.runner import JobProcess
from app.quantize.types import quant_type
from tests.support.tiny_hf import make_tiny_hf

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny-quant")
    folder = make_tiny_hf(root / "llama3", "llama3")
    return convert(folder, root / "llama3-F32.gguf", "f32").path


def _generates(path: Path) -> str:
    llm = llama_cpp.Llama(str(path), n_ctx=64, verbose=False, n_threads=1)
    out = llm("The lighthouse", max_tokens=4, temperature=0.0)
    return str(out["choices"][0]["text"])


def test_imatrix_matches_activations_computed_by_hand(tiny_gguf: Path) -> None:
    """blk.0.attn_q sees RMS-normalised token embeddings times the norm weight: recompute them in numpy."""
    import gguf

    text = default_calibration().read_text(encoding="utf-8")
    imatrix = compute_imatrix(tiny_gguf, text, n_ctx=256)
    reader = gguf.GGUFReader(tiny_gguf)
    weights = {t.name: np.array(t.data) for t in reader.tensors}
    eps = float(reader.fields["llama.attention.layer_norm_rms_epsilon"].contents())
    llm = llama_cpp.Llama(str(tiny_gguf), n_ctx=64, verbose=False, vocab_only=True)
    tokens = llm.tokenize(text.encode(), add_bos=True)
    chunks = [tokens[i : i + 256] for i in range(0, len(tokens), 256)]
    used = [t for c in chunks if len(c) >= 16 for t in c]
    x = weights["token_embd.weight"][used].astype(np.float64)
    h = x / np.sqrt((x * x).mean(axis=1, keepdims=True) + eps) * weights["blk.0.attn_norm.weight"]
    entry = imatrix.entries["blk.0.attn_q.weight"]
    assert list(entry.counts) == [len(used)]
    np.testing.assert_allclose(entry.sums[0], (h * h).sum(axis=0), rtol=2e-3)
    assert set(imatrix.entries) >= {f"blk.{i}.{w}.weight" for i in (0, 1) for w in ("ffn_down", "attn_v")}


def test_quants_load_generate_and_rank_by_quality(tiny_gguf: Path, tmp_path: Path) -> None:
    text = default_calibration().read_text(encoding="utf-8")
    imatrix = compute_imatrix(tiny_gguf, text, n_ctx=256)
    kld = {}
    headers, offset = header_tensors(tiny_gguf)
    for name in ("Q8_0", "Q6_K", "Q4_K_M", "IQ2_XS"):
        q = quant_type(name)
        out = tmp_path / f"m-{name}.gguf"
        progress: list[TensorProgress] = []
        quantize_file(tiny_gguf, out, q, imatrix=imatrix if q.needs_imatrix else None, progress=progress.append)
        assert [p.index for p in progress] == list(range(1, len(headers) + 1))
        assert not list(tmp_path.glob(f"m-{name}.gguf.*.part"))
        assert isinstance(_generates(out), str)  # loads and generates (random weights: any text)
        predicted = predict_size(headers, q, overhead=offset)
        assert abs(predicted - out.stat().st_size) / out.stat().st_size < 0.08, name
        kld[name] = compare(tiny_gguf, out, text, max_tokens=64).mean_kld
    assert 0 <= kld["Q8_0"] < kld["Q6_K"] < kld["Q4_K_M"] < kld["IQ2_XS"]


def test_the_dry_run_ends_before_the_quantization_starts(tiny_gguf: Path, tmp_path: Path) -> None:
    """Two llama_model_quantize calls at once in one process share llama.cpp's global state (a SIGSEGV was
    seen once): the dry run that gives the planned size runs first, on the job's own thread."""
    from app.quantize.pipeline import run_quantize

    seen: list[tuple[ev.Event, str]] = []
    outputs = run_quantize(QuantizeSpec(tiny_gguf, ("Q4_0", "Q8_0"), tmp_path),
                           lambda e: seen.append((e, threading.current_thread().name)))
    job_thread = threading.current_thread().name
    for out in outputs:
        ours = [(e, name) for e, name in seen if _of_quant(e, out.type_name)]
        planned, _ = ours[0]
        assert isinstance(planned, ev.Planned), ours[:3]  # the planned size, before any tensor
        assert 0 < planned.size_bytes < out.size_bytes  # the tensors; the file adds its header
        assert {name for _, name in ours} == {job_thread}


def _of_quant(event: ev.Event, type_name: str) -> bool:
    if isinstance(event, ev.Planned):
        return event.type_name == type_name
    return isinstance(event, ev.Progress) and event.stage == f"quantize {type_name}"


def test_options_pure_and_overrides_change_tensor_types(tiny_gguf: Path, tmp_path: Path) -> None:
    import gguf

    out = tmp_path / "pure.gguf"
    options = QuantizeOptions(pure=True, overrides=((r"ffn_down", "Q8_0"),), output_type="Q5_K")
    quantize_file(tiny_gguf, out, quant_type("Q4_K_M"), options)
    types = {t.name: t.tensor_type.name for t in gguf.GGUFReader(out).tensors}
    assert types["blk.0.attn_v.weight"] == "Q4_K"  # pure: no Q6_K upgrade for attn_v
    assert types["blk.1.ffn_down.weight"] == "Q8_0"
    assert types["output.weight"] == "Q5_K"


def test_iq2_without_imatrix_is_refused(tiny_gguf: Path, tmp_path: Path) -> None:
    with pytest.raises(QuantizeError, match="importance matrix"):
        quantize_file(tiny_gguf, tmp_path / "x.gguf", quant_type("IQ1_M"))
    assert list(tmp_path.iterdir()) == []


def _run_until(job: JobProcess, stage_prefix: str) -> list[ev.Event]:
    seen: list[ev.Event] = []
    while not job.finished:
        for e in job.poll(0.2):
            seen.append(e)
            if isinstance(e, ev.Progress) and e.stage.startswith(stage_prefix):
                return seen
    return seen


def test_cancel_leaves_no_partial_output(tiny_gguf: Path, tmp_path: Path) -> None:
    spec = QuantizeSpec(tiny_gguf, ("IQ2_XS",), tmp_path, calibration=default_calibration())
    job = JobProcess("app.workers.quantize_job", spec)
    job.start()
    seen = _run_until(job, "quantize IQ2_XS")
    assert any(isinstance(e, ev.Progress) for e in seen)
    job.cancel()
    assert job.finished
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".part") or "IQ2_XS" in p.name]
    assert leftovers == []


def test_killed_worker_becomes_an_error_and_leaves_no_partial_output(tiny_gguf: Path, tmp_path: Path) -> None:
    spec = QuantizeSpec(tiny_gguf, ("IQ2_XS",), tmp_path, calibration=default_calibration())
    job = JobProcess("app.workers.quantize_job", spec)
    job.start()
    _run_until(job, "quantize IQ2_XS")
    assert job.pid is not None
    os.kill(job.pid, signal.SIGKILL)
    events = job.wait()
    assert isinstance(events[-1], ev.Failed) and events[-1].message.startswith("The quantize job was killed (SIGKILL)")
    assert job.outcome is not None and job.outcome.signal == "SIGKILL"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part") or "IQ2_XS" in p.name]


def test_job_from_hf_folder_converts_then_quantizes(tmp_path: Path) -> None:
    folder = make_tiny_hf(tmp_path / "qwen3", "qwen3")
    spec = QuantizeSpec(folder, ("Q8_0",), tmp_path / "out", quality=True)
    job = JobProcess("app.workers.quantize_job", spec)
    job.start()
    events = job.wait()
    done = events[-1]
    assert isinstance(done, ev.Finished), events[-1]
    stages = [e.name for e in events if isinstance(e, ev.Stage)]
    assert stages == ["convert", "quantize Q8_0", "quality Q8_0"]
    quant = next(o for o in done.outputs if o.kind == "quant")
    assert quant.path.name == "qwen3-Q8_0.gguf" and quant.mean_kld is not None and quant.mean_kld < 0.05
    kept = load_quality(quant.path, quant.path.stat().st_size)  # the score travels with the file
    assert kept is not None and (kept.mean_kld, kept.top1_agreement) == (quant.mean_kld, quant.top1_agreement)
    assert kept.source_name == "qwen3-F16.gguf" and kept.quant_type == "Q8_0"
    assert not (tmp_path / "out" / "qwen3-F16.gguf").exists()  # the intermediate goes unless kept
