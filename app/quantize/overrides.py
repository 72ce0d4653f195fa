"""Per-tensor type overrides as the user types them ("ffn_down=Q6_K; attn_v=Q8_0"), for llama-quantize's
--tensor-type."""

from __future__ import annotations

from app.core.errors import QuantizeError

# ggml types a tensor can be given explicitly (quantized ones llama.cpp can write, and the float types).
TENSOR_TYPES = (
    "Q8_0",
    "Q6_K",
    "Q5_K",
    "Q4_K",
    "Q3_K",
    "Q2_K",
    "Q5_0",
    "Q4_0",
    "IQ4_NL",
    "IQ4_XS",
    "F16",
    "BF16",
    "F32",
)


def parse_overrides(text: str) -> tuple[tuple[str, str], ...]:
    """'ffn_down=Q6_K; attn_v=Q8_0' (or one per line) -> (("ffn_down", "Q6_K"), ("attn_v", "Q8_0"))."""
    out = []
    for part in text.replace("\n", ";").split(";"):
        if not part.strip():
            continue
        pattern, sep, type_name = part.strip().rpartition("=")
        if not sep or not pattern.strip() or type_name.strip().upper() not in TENSOR_TYPES:
            raise QuantizeError(
                f"tensor type override {part.strip()!r} must look like REGEX=TYPE (e.g. ffn_down=Q6_K)",
                hint=f"TYPE is one of {', '.join(TENSOR_TYPES)}",
            )
        out.append((pattern.strip(), type_name.strip().upper()))
    return tuple(out)
