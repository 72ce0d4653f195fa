"""Admission over a device pool (issue 18, item 5): llama.cpp RPC workers count like local GPUs.

When the server's engines load with RPC workers (`serve --rpc host:port,…`), every worker device is probed
once (app.remote.rpc_probe: protocol, free and total memory; a bad endpoint is a clear error, never an
abort) and becomes one entry of the memory budget. A model's need is split the way the engine will split
it (app.remote.pool.plan_split over every device's free memory, llama.cpp's layer rule in
app.estimate.split): each device gets its layers' weights and K/V cells plus a compute buffer, the host
keeps the rest. A model fits when the host, the local GPU and every worker device each have room.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from app.chat.protocol import EngineSettings
from app.estimate.hardware import HardwareSpec
from app.estimate.model import ModelShape
from app.remote.rpc_probe import RpcWorker

PROBE_TIMEOUT_S = 5.0


def probe_workers(endpoints: Sequence[str]) -> tuple[RpcWorker, ...]:
    """Every worker's devices; raises RpcError naming the first endpoint that does not answer as a worker."""
    from app.remote.rpc_probe import probe_all

    return tuple(probe_all(endpoints, reply_timeout=PROBE_TIMEOUT_S))


def device_free(workers: Sequence[RpcWorker]) -> tuple[int, ...]:
    """Free bytes of every worker device, in llama.cpp's device order (workers as listed, their devices)."""
    return tuple(d.free for w in workers for d in w.devices)


def device_names(workers: Sequence[RpcWorker]) -> tuple[str, ...]:
    return tuple(f"RPC{i} ({w.endpoint} #{d.index})"
                 for i, (w, d) in enumerate((w, d) for w in workers for d in w.devices))


def pool_hardware(hardware: HardwareSpec | None, workers: Sequence[RpcWorker]) -> HardwareSpec:
    """This machine with the workers' devices counted as offload memory (llama.cpp offloads to them alike)."""
    base = hardware or HardwareSpec(ram_total=0, ram_available=0)
    local = base.vram_free if base.has_gpu else 0
    total = base.vram_total if base.has_gpu else 0
    return dataclasses.replace(base, gpu_offload_supported=True, vram_free=sum(device_free(workers)) + local,
                               vram_total=sum(d.total for w in workers for d in w.devices) + total)


def pool_need(shape: ModelShape, settings: EngineSettings, hardware: HardwareSpec | None,
              workers: Sequence[RpcWorker]) -> tuple[int, int, tuple[int, ...]]:
    """(host RAM, local VRAM, bytes on each worker device) the engine takes for `shape` over the pool."""
    from app.estimate.engine import engine_load_settings
    from app.estimate.split import device_shares
    from app.estimate.view import engine_estimate
    from app.remote.pool import plan_split

    pooled = pool_hardware(hardware, workers)
    est = engine_estimate(shape, settings, pooled)
    free = list(device_free(workers))
    local_gpu = hardware is not None and hardware.has_gpu
    if local_gpu and hardware is not None:
        free.append(hardware.vram_free)
    shares = device_shares(shape, engine_load_settings(settings), plan_split(free))
    # every device that holds layers also allocates a compute buffer (counted whole on each: an upper bound)
    per_device = [s.weights + s.kv_full + s.kv_swa + (est.compute.gpu if s.layers else 0) for s in shares]
    n_rpc = len(free) - (1 if local_gpu else 0)
    local = per_device[n_rpc] if local_gpu else 0
    return est.ram_need, local, tuple(per_device[:n_rpc])
