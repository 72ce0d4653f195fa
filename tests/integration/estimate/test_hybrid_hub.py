"""End to end: `gguf-studio files` on fake-Hub repositories of a hybrid (Qwen3.5) and a hybrid MoE (Qwen3.5-MoE)
model gets verdicts from the remote header — recurrent state included — instead of falling back to file sizes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.estimate import LoadSettings, estimate
from app.estimate.shape import shape_from_header
from app.gguf import read_model
from app.gguf.synthetic_arch import DEFAULT_SPECS, write_arch_gguf
from tests.fakehub import FakeHub
from tests.fakehub.catalogue import HYBRID_REPOS, add_hybrid_repo
from tests.support import cli

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("arch", sorted(HYBRID_REPOS))
def test_files_gives_hybrid_verdicts_from_the_header(fake_hub_empty: FakeHub, tmp_path: Path, arch: str) -> None:
    from app.estimate.hardware import probe_spec
    from app.hub import repo_detail
    from app.hub.fit import fit_quants, reference_shape

    path = write_arch_gguf(tmp_path / f"{arch}.gguf", DEFAULT_SPECS[arch])
    add_hybrid_repo(fake_hub_empty, arch, path)
    result = cli.run_cli("files", HYBRID_REPOS[arch], "--ctx", "2048", "--json", timeout=180)
    assert result.returncode == 0, result.stderr
    assert "verdicts by file size only" not in result.stderr
    report = json.loads(result.stdout)
    assert report["exact"] is True  # the remote header was read and estimated, not refused

    detail = repo_detail(HYBRID_REPOS[arch])
    reference = reference_shape(detail)
    assert reference is not None and any(reference.rs_layers) and reference.n_embd_s > 0
    expected = fit_quants(detail, probe_spec(), 2048, reference)
    assert [q["verdict"] for q in report["quants"]] == [f.verdict.kind.value for f in expected.fits]
    # and the largest context each verdict holds at (a multiple of 256, up to the trained length)
    assert [q["max_context"] for q in report["quants"]] == [f.verdict.max_ctx or None for f in expected.fits]
    assert all(0 < q["max_context"] <= DEFAULT_SPECS[arch].context_length for q in report["quants"])

    local = estimate(shape_from_header(read_model(path)), LoadSettings(n_ctx=2048), gpu_available=False)
    assert local.state is not None
    (quant,) = report["quants"]
    # the verdict's RAM holds the weights, the attention cache of the attention layers and the state
    assert quant["ram_bytes"] >= local.weights.cpu + local.kv_bytes + local.state.total_bytes
