"""RPC workers in the Chat load panel (#18): a bar per device with its planned share, GPU layers enabled by
the pool, and a new engine process for another list of workers."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from app.chat import protocol as p
from app.estimate.engine import engine_load_settings
from app.estimate.split import device_shares
from app.remote import rpc_probe
from app.remote.pool import plan_split
from app.ui.pages.chat import ChatPage
from tests.support.fake_rpc import fake_server, worker
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf

MiB = 2**20


def test_listed_workers_get_a_bar_each_with_their_planned_share(chat_page: ChatPage, gemma_model: Path,
                                                               qtbot: Any, tmp_path: Path) -> None:
    panel = chat_page.load_panel
    panel.add_model_path(str(gemma_model))
    qtbot.waitUntil(lambda: panel.model is not None, timeout=30_000)
    version = (rpc_probe.PROTOCOL_MAJOR, rpc_probe.PROTOCOL_MINOR, 0)
    big, small = (2048 * MiB, 4096 * MiB), (1024 * MiB, 2048 * MiB)
    with fake_server(worker(version, [big])) as first, fake_server(worker(version, [small])) as second:
        panel.workers_edit.setText(f"{first}, {second}")
        panel.check_workers()
        qtbot.waitUntil(lambda: len(panel.devices.rows) == 2, timeout=20_000)
    assert panel.worker_list() == (first, second) and panel.load_button.isEnabled()
    assert "2 worker(s), 2 device(s)" in panel.workers_note.text()
    # The pool makes layers leave the CPU: the slider is on, and Auto put every layer on the workers.
    assert panel.can_offload and panel.ngl_slider.isEnabled() and not panel.offload_note.isVisible()
    settings = panel.settings()
    assert settings.rpc_workers == (first, second) and settings.n_gpu_layers == -1
    # Each bar is the split planner's figure for that device, against what its probe reported free.
    assert panel.model is not None and panel.model.shape is not None
    shares = device_shares(panel.model.shape, engine_load_settings(settings), plan_split([big[0], small[0]]))
    (name0, parts0, cap0), (name1, parts1, cap1) = panel.devices.rows
    assert (name0, cap0, name1, cap1) == ("RPC0", big[0], "RPC1", small[0])
    assert dict(parts0) == {"weights": shares[0].weights, "KV cache": shares[0].kv_full + shares[0].kv_swa}
    assert dict(parts1) == {"weights": shares[1].weights, "KV cache": shares[1].kv_full + shares[1].kv_swa}
    assert len(shares[0].layers) > len(shares[1].layers) > 0  # twice the free memory, about twice the layers
    assert first in panel.devices.toolTip() and second in panel.devices.toolTip()
    assert chat_page.grab().save(str(tmp_path / "chat-rpc-devices.png"))
    # Emptying the list removes the bars and the pool.
    panel.workers_edit.clear()
    panel.check_workers()
    assert panel.devices.rows == [] and panel.worker_list() == ()


def test_another_worker_list_gets_a_new_engine_process(chat_page: ChatPage, qtbot: Any, tmp_path: Path) -> None:
    page = chat_page
    model = str(write_tiny_gguf(tmp_path / "tiny.gguf", TinySpec(n_vocab=300)))
    local = p.EngineSettings(n_ctx=256, n_threads=1)
    with qtbot.waitSignal(page.modelLoaded, timeout=60_000):
        page.load_model(model, local)
    first_pid = page.engine.pid
    with socket.socket() as s:  # a port nobody listens on: the engine's probe refuses it before ggml hears of it
        s.bind(("127.0.0.1", 0))
        gone = f"127.0.0.1:{s.getsockname()[1]}"
    with qtbot.waitSignal(page.engine.received, timeout=60_000,
                          check_params_cb=lambda event: isinstance(event, p.Error)):
        page.load_model(model, p.EngineSettings(n_ctx=256, n_threads=1, rpc_workers=(gone,)))
    second_pid = page.engine.pid
    assert second_pid is not None and second_pid != first_pid
    assert page.banner.isVisible() and gone in page.banner.label.text()
    # Back to no workers: again a new process, and the model loads.
    with qtbot.waitSignal(page.modelLoaded, timeout=60_000):
        page.load_model(model, local)
    assert page.engine.pid not in (None, first_pid, second_pid)
    # The same list again keeps the process.
    kept = page.engine.pid
    with qtbot.waitSignal(page.modelLoaded, timeout=60_000):
        page.load_model(model, local)
    assert page.engine.pid == kept
