"""Mixture-of-experts checkpoints keep one matrix per expert; llama.cpp wants each layer's experts stacked into
one 3-D tensor per projection (ffn_gate_exps, ffn_up_exps, ffn_down_exps).

Nothing is stacked in memory: a merged tensor is planned as its experts' matrices in order, and the writer
streams them one after another into the output, which is exactly the stacked layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from app.convert.hparams import first
from app.convert.safetensors_file import TensorRef
from app.core.errors import ConvertError


@dataclass(frozen=True, slots=True)
class Experts:
    pattern: str  # regex over checkpoint names with named groups bid, xid (expert index) and w (projection)
    order: tuple[str, ...]  # projections in the order llama.cpp's converter writes the merged tensors
    merged: str  # the merged tensor's checkpoint-style name (format fields bid, w) that llama.cpp's map knows
    count_keys: tuple[str, ...] = ("num_local_experts", "num_experts")
    count_less: int = 0  # stacks hold this many fewer than the count key says (Gemma 3n's altup: inputs - 1)


@dataclass(frozen=True, slots=True)
class MergedExperts:
    name: str
    parts: tuple[TensorRef, ...]  # expert 0, 1, ... (the new first axis)


class ExpertMerger:
    """Collects a layer's per-expert tensors as they come; hands out the merged tensors once the layer is
    complete, at the position llama.cpp's converter writes them (after the layer's last expert tensor)."""

    def __init__(self, spec: Experts, hp: dict[str, Any]) -> None:
        self._spec = spec
        self._re = re.compile(spec.pattern)
        self._n = int(first(hp, *spec.count_keys, required=True)) - spec.count_less
        # by layer; a pattern without a bid group (model-wide stacks, Gemma 3n's altup) by projection instead
        self._pending: dict[int | str, dict[tuple[int, str], TensorRef]] = {}

    def add(self, name: str, ref: TensorRef) -> list[MergedExperts] | None:
        """None when `name` is not an expert's tensor; else the merged tensors this one completes (maybe none)."""
        m = self._re.fullmatch(name)
        if m is None:
            return None
        xid, proj = int(m["xid"]), m["w"]
        if proj not in self._spec.order or not 0 <= xid < self._n:
            raise ConvertError(f"tensor {name!r} is not an expert this model's config.json describes")
        bid: int | str = int(m["bid"]) if "bid" in self._re.groupindex else proj
        projections = self._spec.order if isinstance(bid, int) else (proj,)
        layer = self._pending.setdefault(bid, {})
        layer[(xid, proj)] = ref
        if len(layer) < self._n * len(projections):
            return []
        del self._pending[bid]
        merged = []
        for proj in projections:
            parts = tuple(layer[(x, proj)] for x in range(self._n))
            if len({(p.shape, p.dtype) for p in parts}) != 1:
                raise ConvertError(f"the experts of layer {bid} ({proj}) differ in shape or type")
            merged.append(MergedExperts(self._spec.merged.format(bid=bid, w=proj), parts))
        return merged

    def finish(self) -> None:
        if self._pending:
            bid, layer = next(iter(self._pending.items()))
            expected = self._n * (len(self._spec.order) if isinstance(bid, int) else 1)
            raise ConvertError(
                f"layer {bid} has {len(layer)} of its {expected} expert tensors; the checkpoint is incomplete"
            )
