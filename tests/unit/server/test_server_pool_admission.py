"""The pool's memory model: worker devices in the budget, a model's need split as the engine splits it."""

from __future__ import annotations

from pathlib import Path

from app.chat.protocol import EngineSettings
from app.estimate.shape import shape_from_header
from app.estimate.view import engine_estimate
from app.gguf import read_model
from app.remote.rpc_probe import RpcDevice, RpcWorker
from app.server.pool_admission import device_names, pool_hardware, pool_need
from app.server.scheduler import Need
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf

GiB = 1024**3


def test_need_adds_and_compares_every_device() -> None:
    a, b = Need(10, 0, (5, 1)), Need(1, 0, (1,))
    assert a + b == Need(11, 0, (6, 1))
    assert (a + b).within(Need(11, 0, (6, 1)))
    assert not (a + b).within(Need(11, 0, (6, 0)))  # one device over is enough to refuse
    assert not Need(1, 0, (1,)).within(Need(1, 0))  # a device the budget does not have
    assert Need(1).within(Need(1, 0, (0, 0)))


def workers(*free: int) -> tuple[RpcWorker, ...]:
    return tuple(RpcWorker(f"127.0.0.1:{5000 + i}", (3, 0, 0), (RpcDevice(0, f, 2 * GiB),)) for i, f in enumerate(free))


def test_a_model_is_split_over_the_workers_by_their_free_memory(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "m.gguf", TinySpec(n_layer=4, n_embd=256, n_head=4, n_head_kv=2, n_ff=512,
                                                         n_vocab=2048, tensor_type="F16"))
    shape = shape_from_header(read_model(path))
    settings = EngineSettings(n_ctx=1024, n_gpu_layers=-1, rpc_workers=("a:1", "b:2"))
    pool = workers(GiB, GiB)
    ram, vram, per_device = pool_need(shape, settings, None, pool)
    assert vram == 0 and len(per_device) == 2
    est = engine_estimate(shape, settings, pool_hardware(None, pool))
    # both devices hold layers; together they hold the offloaded weights and cache plus a compute buffer each
    assert all(n > est.compute.gpu for n in per_device)
    assert sum(per_device) == est.weights.gpu + est.kv_device.gpu + 2 * est.compute.gpu
    assert ram == est.ram_need
    uneven = pool_need(shape, settings, None, workers(3 * GiB, GiB))[2]
    assert uneven[0] > uneven[1]  # more free memory, more layers
    assert device_names(pool) == ("RPC0 (127.0.0.1:5000 #0)", "RPC1 (127.0.0.1:5001 #0)")
