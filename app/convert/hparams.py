"""Normalised view of a config.json: the hyper-parameters every architecture reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.core.errors import ConvertError

# Set in the hyper-parameters when the conversion leaves multi-token-prediction layers out (llama.cpp's --no-mtp).
NO_MTP = "_no_mtp"


@dataclass(frozen=True, slots=True)
class Rope:
    theta: float | None
    theta_swa: float | None
    scaling: dict[str, Any]  # rope_type, factor, ... for the full-attention layers


def flatten_config(config: dict[str, Any]) -> dict[str, Any]:
    """Multimodal wrappers (Gemma 3) keep the language model's settings in text_config."""
    text = config.get("text_config")
    if isinstance(text, dict):
        return {**config, **text}
    return dict(config)


def first(hp: dict[str, Any], *keys: str, default: Any = None, required: bool = False) -> Any:
    for key in keys:
        if hp.get(key) is not None:
            return hp[key]
    if required:
        raise ConvertError(f"config.json lacks {keys[0]!r}, which this architecture needs")
    return default


def rope(hp: dict[str, Any]) -> Rope:
    """Old configs put rope_theta at the top and rope_scaling beside it; newer ones nest everything in
    rope_parameters, possibly per layer kind (full_attention / sliding_attention)."""
    params = hp.get("rope_parameters") or hp.get("rope_scaling") or {}
    if not isinstance(params, dict):
        params = {}
    if "full_attention" in params or "sliding_attention" in params:
        full = dict(params.get("full_attention") or {})
        swa = params.get("sliding_attention") or {}
        theta_swa = swa.get("rope_theta")
    else:
        full = dict(params)
        theta_swa = first(hp, "rope_local_base_freq", "local_rope_theta")
    theta = full.get("rope_theta", hp.get("rope_theta"))
    if "rope_type" not in full and "type" in full:
        full["rope_type"] = full["type"]
    for key in ("original_max_position_embeddings", "partial_rotary_factor"):
        if key not in full and hp.get(key) is not None:
            full[key] = hp[key]
    return Rope(
        theta=float(theta) if theta is not None else None,
        theta_swa=float(theta_swa) if theta_swa is not None else None,
        scaling=full,
    )
