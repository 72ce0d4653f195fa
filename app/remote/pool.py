"""An engine's device pool: RPC workers (probed first, then registered with ggml) and this machine's GPUs,
in llama.cpp's order (workers first, then local GPUs), with the layer split our planner gives them.

Device lists are always explicit once a worker is registered: ggml cannot forget a worker, and a worker
the user has removed must never be used again (llama.cpp would abort if it is gone).
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.core.errors import RpcError
from app.remote import ggml_backend
from app.remote.ggml_backend import Device
from app.remote.rpc_probe import RpcWorker, probe_all


@dataclass(frozen=True, slots=True)
class PoolPlan:
    devices: tuple[Device, ...]  # offload devices in llama.cpp's order
    split: tuple[float, ...]  # each device's share of the offloaded layers (sums to 1)
    workers: tuple[RpcWorker, ...]


def plan_split(free: Sequence[int]) -> tuple[float, ...]:
    """Layer shares proportional to each device's free memory (what an equal-capability pool needs)."""
    total = sum(max(0, f) for f in free)
    if not free:
        return ()
    if total <= 0:
        return tuple(1.0 / len(free) for _ in free)
    return tuple(max(0, f) / total for f in free)


def _offload_devices(all_devices: Sequence[Device], workers: Sequence[RpcWorker]) -> list[int]:
    """Indexes into `all_devices`: each worker's devices in its order, then local GPUs (integrated GPUs
    only where there is no discrete one), as llama.cpp orders them by default."""
    chosen = []
    for worker in workers:
        found = [i for i, d in enumerate(all_devices) if d.name.startswith("RPC") and d.description == worker.endpoint]
        if len(found) != len(worker.devices):
            raise RpcError(f"llama.cpp sees {len(found)} devices of the RPC worker {worker.endpoint}, "
                           f"the probe saw {len(worker.devices)}", hint="restart the worker and try again")
        chosen += found
    local = [i for i, d in enumerate(all_devices) if not d.name.startswith("RPC")]
    gpus = [i for i in local if all_devices[i].kind == "GPU"]
    return chosen + (gpus or [i for i in local if all_devices[i].kind == "IGPU"])


class AttachedPool:
    """The ctypes arrays llama_model_params points at; keep this alive as long as the model."""

    def __init__(self, plan: PoolPlan, handles: Sequence[int], max_devices: int) -> None:
        self.plan = plan
        self._devices = (ctypes.c_void_p * (len(handles) + 1))(*handles, None)
        shares = list(plan.split)[:max_devices]
        self._split = (ctypes.c_float * max(1, max_devices))(*shares)

    def apply(self, mparams: Any) -> None:
        mparams.devices = ctypes.cast(self._devices, ctypes.c_void_p)
        if self.plan.split:
            mparams.tensor_split = self._split


def attach(endpoints: Sequence[str], max_devices: int, *, probe_timeout: float = 5.0) -> AttachedPool | None:
    """Probes `endpoints` (an RpcError before ggml hears of a bad one), registers them, and plans the split.
    None when there are no workers and none was ever registered (llama.cpp's own device choice is right)."""
    workers = probe_all(endpoints, reply_timeout=probe_timeout)
    if workers:
        ggml_backend.register_workers([w.endpoint for w in workers])
    all_devices = ggml_backend.devices()
    if not workers and not any(d.name.startswith("RPC") for d in all_devices):
        return None
    chosen = _offload_devices(all_devices, workers)
    if len(chosen) > max_devices:
        raise RpcError(f"{len(chosen)} devices are more than llama.cpp can use ({max_devices})",
                       hint="list fewer workers")
    worker_free = [dev.free for w in workers for dev in w.devices]
    free = worker_free + [all_devices[i].free for i in chosen[len(worker_free):]]
    plan = PoolPlan(tuple(all_devices[i] for i in chosen), plan_split(free), tuple(workers))
    handles = ggml_backend.device_handles()
    return AttachedPool(plan, [handles[i] for i in chosen], max_devices)
