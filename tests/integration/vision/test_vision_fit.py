"""Fit verdicts with images (#13 item 6, #19 item 6): the projector Discover downloads is read remotely and
counted beside each quant, on the device mtmd gives it; the figures are the estimate function's plus it."""

from __future__ import annotations

import dataclasses
import json

from app.chat.protocol import EngineSettings
from app.estimate.engine import engine_load_settings
from app.estimate.hardware import HardwareSpec
from app.estimate.memory import estimate
from app.estimate.planner import DEFAULT_MARGIN
from app.estimate.projector import images_verdict, projector_memory
from app.estimate.settings import GPU_LAYERS_ALL
from app.estimate.verdict import VerdictKind
from app.gguf.reader import read_header
from app.hub import repo_detail
from app.hub.fit import fit_quants, reference_quant, reference_shape
from app.hub.projector import default_projector, remote_projector_memory
from tests.fakehub import LADDER_REPO, FakeHub
from tests.fakehub.catalogue import _mmproj
from tests.support import cli

GIB = 1024**3


def _projector(tmp_path: object) -> int:
    from pathlib import Path

    made = _mmproj()
    path = Path(str(tmp_path)) / "mmproj.gguf"
    with open(path, "wb") as f:  # the file as the fake Hub serves it: the header, then (sparse) zeros
        f.write(made.header)
        f.truncate(made.size)
    return projector_memory(read_header(path)).total


def test_the_remote_projector_is_the_one_discover_downloads_and_its_memory_is_the_files(
    fake_hub: FakeHub, tmp_path: object
) -> None:
    detail = repo_detail(LADDER_REPO)
    memory = remote_projector_memory(detail)
    assert memory is not None and default_projector(detail.mmproj) is not None
    assert memory.total == _projector(tmp_path)
    assert memory.weights > 90 * 2**20 and memory.compute > 0  # the ~100 MB tower and one 224-px image


def test_with_images_each_verdict_counts_the_projector_where_mtmd_puts_it(fake_hub: FakeHub) -> None:
    detail = repo_detail(LADDER_REPO)
    reference = reference_shape(detail)
    assert reference is not None
    memory = remote_projector_memory(detail)
    assert memory is not None
    own = reference_quant(detail)
    load = engine_load_settings(dataclasses.replace(EngineSettings(), n_ctx=4096))
    cpu = estimate(reference, dataclasses.replace(load, n_gpu_layers=0), gpu_available=False)

    # CPU only: RAM for the model alone but not for the projector too
    tight = HardwareSpec(ram_total=64 * GIB, ram_available=cpu.ram_need + memory.total // 2)
    plain = {f.quant.label: f.verdict for f in fit_quants(detail, tight, 4096, reference).fits}
    images = {f.quant.label: f.verdict for f in fit_quants(detail, tight, 4096, reference,
                                                            projector_bytes=memory.total).fits}
    assert own is not None and plain[own.label].kind is VerdictKind.CPU_ONLY
    assert images[own.label].kind is VerdictKind.WONT_FIT
    assert images[own.label].ram_bytes == plain[own.label].ram_bytes + memory.total == cpu.ram_bytes + memory.total

    # a GPU that holds the whole model, but not with the projector beside it: fewer layers, projector in VRAM
    full = estimate(reference, dataclasses.replace(load, n_gpu_layers=GPU_LAYERS_ALL))
    gpu = HardwareSpec(ram_total=64 * GIB, ram_available=32 * GIB, vram_total=8 * GIB,
                       vram_free=full.vram_need + DEFAULT_MARGIN + memory.total // 2, gpu_offload_supported=True)
    with_gpu = fit_quants(detail, gpu, 4096, reference, projector_bytes=memory.total)
    verdict = next(f.verdict for f in with_gpu.fits if f.quant is own)
    assert fit_quants(detail, gpu, 4096, reference).fits[detail.quants.index(own)].verdict.kind is VerdictKind.FULL_GPU
    assert verdict.kind is VerdictKind.PARTIAL
    expected, left = images_verdict(reference, load, gpu, memory.total)
    assert left.vram_free == gpu.vram_free - memory.total
    assert (verdict.n_gpu_layers, verdict.vram_bytes) == (expected.n_gpu_layers,
                                                           expected.estimate.vram_bytes + memory.total)
    assert verdict.vram_bytes + DEFAULT_MARGIN <= gpu.vram_free
    assert "and images" in with_gpu.reason


def test_files_images_counts_the_projector(fake_hub: FakeHub, tmp_path: object) -> None:
    plain = json.loads(cli.run_cli("files", LADDER_REPO, "--ctx", "2048", "--json", timeout=180).stdout)
    result = cli.run_cli("files", LADDER_REPO, "--ctx", "2048", "--json", "--images", timeout=180)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    projector = _projector(tmp_path)
    assert report["with_images"] is True and report["projector_bytes"] == projector
    assert plain["with_images"] is False and plain["projector_bytes"] == 0
    for before, after in zip(plain["quants"], report["quants"], strict=True):
        if before["verdict"] == after["verdict"] == "cpu_only":  # this machine: no GPU, projector in RAM
            assert after["ram_bytes"] == before["ram_bytes"] + projector
    text = cli.run_cli("files", LADDER_REPO, "--ctx", "2048", "--images", timeout=180).stdout
    assert "verdicts with images" in text
