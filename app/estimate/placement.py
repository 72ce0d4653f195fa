"""Which layers llama.cpp puts on the GPU for a given `n_gpu_layers` (llama-model.cpp, load_tensors).

The rule of the pinned llama.cpp, in our words:

* The output layer counts as one more layer, number `n_layer`, so a model has `n_layer + 1`
  offloadable layers; a negative `n_gpu_layers` means all of them.
* Offloading fills from the end: the first GPU layer is `max(n_layer + 1 - n_gpu_layers, 0)`.
  So `n_gpu_layers = 1` offloads only the output layer, `2` the output layer and the last
  repeating layer, and so on ("the output layer is offloaded first").
* The input layer (token embeddings) always stays on the host.
* Without a GPU backend nothing is offloaded, whatever `n_gpu_layers` says.
* With `offload_kqv` (the default) a layer's KV cache lives on the device of that layer;
  otherwise every KV cache is in host memory.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Placement:
    n_layer: int
    n_gpu_layers: int  # effective count, 0..n_layer+1
    first_gpu_layer: int

    def layer_on_gpu(self, il: int) -> bool:
        return self.n_gpu_layers > 0 and il >= self.first_gpu_layer

    @property
    def output_on_gpu(self) -> bool:
        return self.layer_on_gpu(self.n_layer)

    @property
    def repeating_on_gpu(self) -> int:
        return sum(1 for il in range(self.n_layer) if self.layer_on_gpu(il))

    @property
    def full_offload(self) -> bool:
        return self.n_gpu_layers > self.n_layer


def place_layers(n_layer: int, n_gpu_layers: int, gpu_available: bool) -> Placement:
    """Placement for `n_gpu_layers` requested layers (negative = all) on a machine with or without a GPU."""
    requested = n_layer + 1 if n_gpu_layers < 0 else n_gpu_layers
    effective = min(requested, n_layer + 1) if gpu_available else 0
    first = max(n_layer + 1 - effective, 0)
    return Placement(n_layer=n_layer, n_gpu_layers=effective, first_gpu_layer=first)
