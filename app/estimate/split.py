"""A layer split over several offload devices (RPC workers, then local GPUs): which device each layer lands
on, by llama.cpp's own rule, and each device's weights and K/V cache.

llama.cpp (llama-model.cpp, split mode "layer") turns the split into cumulative float32 split points and
puts offloaded layer `il` on the first device whose point exceeds (il - first)/offloaded; the output layer
counts as layer n_layer. A layer's weights and its K/V cells live on its device.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.estimate.kv import kv_cache
from app.estimate.model import ModelShape
from app.estimate.placement import place_layers
from app.estimate.settings import LoadSettings


@dataclass(frozen=True, slots=True)
class DeviceShare:
    device: int  # index into the split (llama.cpp's device order)
    layers: tuple[int, ...]  # repeating layers on it (n_layer stands for the output layer)
    weights: int  # bytes of its model buffer
    kv_full: int  # bytes of its part of the full-attention cache
    kv_swa: int  # and of the sliding-window cache (0 without SWA layers)


def layer_devices(n_layer: int, n_gpu_layers: int, split: Sequence[float]) -> tuple[int | None, ...]:
    """The device of each layer 0…n_layer (n_layer: the output layer); None: the CPU."""
    if not split:
        return (None,) * (n_layer + 1)
    points = np.cumsum(np.asarray(split, dtype=np.float32), dtype=np.float32)
    points = (points / points[-1]).astype(np.float32)
    requested = n_layer + 1 if n_gpu_layers < 0 else n_gpu_layers
    first = max(n_layer + 1 - requested, 0)
    active = min(requested, n_layer + 1)
    out: list[int | None] = []
    for il in range(n_layer + 1):
        if il < first or il - first >= active:
            out.append(None)
            continue
        position = np.float32(il - first) / np.float32(active)
        out.append(min(int(np.searchsorted(points, position, side="right")), len(split) - 1))
    return tuple(out)


def device_shares(model: ModelShape, settings: LoadSettings, split: Sequence[float]) -> tuple[DeviceShare, ...]:
    """Each device's weights and K/V (dense and MoE models without --n-cpu-moe)."""
    where = layer_devices(model.n_layer, settings.n_gpu_layers, split)
    kv = kv_cache(model, settings, place_layers(model.n_layer, settings.n_gpu_layers, True))
    shares = []
    for device in range(len(split)):
        layers = tuple(il for il, d in enumerate(where) if d == device)
        weights = sum(model.layer_bytes[il] for il in layers if il < model.n_layer)
        if model.n_layer in layers:
            weights += model.output_bytes + model.tied_output_bytes
        on = [layer for layer in kv.sizes.layers if layer.layer in layers] if settings.offload_kqv else []
        shares.append(DeviceShare(device, layers, weights, sum(x.bytes for x in on if not x.swa),
                                  sum(x.bytes for x in on if x.swa)))
    return tuple(shares)
