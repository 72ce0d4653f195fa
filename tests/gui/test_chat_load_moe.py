"""The Chat load panel's experts-in-RAM control (llama.cpp's --n-cpu-moe) on a tiny mixture-of-experts model,
on a machine whose GPU holds every layer only with some layers' experts kept in RAM."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from app.chat.protocol import EngineSettings
from app.core.settings import Settings
from app.estimate import DEFAULT_MARGIN, estimate, spec_from_info
from app.estimate.engine import engine_load_settings
from app.estimate.shape import shape_from_header
from app.gguf import read_model
from app.hardware import GpuInfo, HardwareInfo, LlamaBackend
from app.ui.context import AppContext
from app.ui.pages.chat_load import LoadPanel
from tests.support.hardware import FixedHardware
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf

GIB = 1024**3
MOE = TinySpec(n_layer=4, n_embd=64, n_ff=256, n_expert=8, n_expert_used=2, tensor_type="Q8_0", n_vocab=600)


def machine(vram_free: int) -> HardwareInfo:
    return HardwareInfo(
        ram_total=8 * GIB,
        ram_available=4 * GIB,
        cpu_name="Test CPU",
        cpu_physical_cores=4,
        cpu_logical_cores=8,
        os="Linux",
        machine="x86_64",
        gpus=(GpuInfo(0, "Test GPU", 2 * GIB, vram_free),),
        llama=LlamaBackend("test", True, ("cpu", "cuda"), ""),
    )


def test_experts_in_ram_control_drives_the_estimate(qtbot: Any, tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "tiny-moe.gguf", MOE)
    shape = shape_from_header(read_model(path))
    settings = Settings()
    n_ctx = min(settings.values.default_context, MOE.context_length)  # the panel's context: at most the trained
    load = engine_load_settings(EngineSettings(n_ctx=n_ctx, n_gpu_layers=-1))
    need = [estimate(shape, dataclasses.replace(load, n_cpu_moe=n)).vram_need for n in range(MOE.n_layer + 1)]
    info = machine(need[2] + DEFAULT_MARGIN)  # every layer fits the GPU once two layers' experts are in RAM
    panel = LoadPanel(AppContext.create(settings, hardware=FixedHardware(info)))
    qtbot.addWidget(panel)
    panel.resize(900, 300)
    panel.show()
    panel.add_model_path(str(path))
    qtbot.waitUntil(lambda: panel.model is not None, timeout=20_000)

    # Auto: every layer on the GPU and the fewest layers' experts in RAM
    assert panel.cpu_moe.isVisible() and panel.cpu_moe.maximum() == MOE.n_layer
    assert panel.ngl_slider.value() == MOE.n_layer + 1 and panel.cpu_moe.value() == 2
    view = panel.memory.view
    assert view is not None and view.ok and view.verdict == "Fits with 2 layers' experts on the CPU"
    assert panel.settings().n_cpu_moe == 2
    assert "2 layers' experts" in panel.verdict.text()
    assert panel.grab().save(str(tmp_path / "chat-load-moe.png"))  # to look at: pytest --basetemp=DIR

    # fewer layers' experts in RAM: more VRAM, less RAM, and the GPU no longer holds it
    panel.cpu_moe.setValue(0)
    full = panel.memory.view
    assert full is not None and not full.ok
    moved = sum(shape.expert_bytes[:2])
    assert dict(full.vram)["weights"] == dict(view.vram)["weights"] + moved
    assert dict(full.ram)["weights"] <= dict(view.ram)["weights"]
    assert spec_from_info(info).has_gpu


def test_the_control_stays_hidden_for_a_dense_model(qtbot: Any, tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "tiny.gguf", TinySpec())
    panel = LoadPanel(AppContext.create(Settings(), hardware=FixedHardware(machine(GIB))))
    qtbot.addWidget(panel)
    panel.show()
    panel.add_model_path(str(path))
    qtbot.waitUntil(lambda: panel.model is not None, timeout=20_000)
    assert not panel.cpu_moe.isVisible() and panel.settings().n_cpu_moe == 0
