"""Every target type llama-quantize of the pinned llama.cpp offers (LLAMA_FTYPE values of llama.h)."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.errors import QuantizeError


@dataclass(frozen=True, slots=True)
class QuantType:
    name: str
    ftype: int  # llama_ftype
    base: str  # ggml type of most weight matrices (for size prediction)
    needs_imatrix: bool = False
    description: str = ""

    @property
    def file_suffix(self) -> str:
        return self.name


QUANT_TYPES: tuple[QuantType, ...] = (
    QuantType("Q1_0", 40, "Q1_0", description="1.1 bpw, experimental"),
    QuantType("Q2_0", 41, "Q2_0", description="2.25 bpw, experimental"),
    QuantType("IQ1_S", 24, "IQ1_S", True, "1.56 bpw, needs an importance matrix"),
    QuantType("IQ1_M", 31, "IQ1_M", True, "1.75 bpw, needs an importance matrix"),
    QuantType("TQ1_0", 36, "TQ1_0", description="1.69 bpw ternary (ternary models only)"),
    QuantType("IQ2_XXS", 19, "IQ2_XXS", True, "2.06 bpw, needs an importance matrix"),
    QuantType("TQ2_0", 37, "TQ2_0", description="2.06 bpw ternary (ternary models only)"),
    QuantType("IQ2_XS", 20, "IQ2_XS", True, "2.31 bpw, needs an importance matrix"),
    QuantType("IQ2_S", 28, "IQ2_S", True, "2.5 bpw, needs an importance matrix"),
    QuantType("IQ2_M", 29, "IQ2_S", True, "2.7 bpw, needs an importance matrix"),
    QuantType("Q2_K_S", 21, "Q2_K", True, "2.96 bpw small, needs an importance matrix"),
    QuantType("Q2_K", 10, "Q2_K", description="2.96 bpw"),
    QuantType("IQ3_XXS", 23, "IQ3_XXS", description="3.06 bpw (better with an imatrix)"),
    QuantType("IQ3_XS", 22, "IQ3_S", description="3.3 bpw"),
    QuantType("IQ3_S", 26, "IQ3_S", description="3.44 bpw"),
    QuantType("IQ3_M", 27, "IQ3_S", description="3.66 bpw mix"),
    QuantType("Q3_K_S", 11, "Q3_K", description="3.41 bpw"),
    QuantType("Q3_K_M", 12, "Q3_K", description="3.74 bpw"),
    QuantType("Q3_K_L", 13, "Q3_K", description="4.03 bpw"),
    QuantType("IQ4_XS", 30, "IQ4_XS", description="4.25 bpw non-linear"),
    QuantType("IQ4_NL", 25, "IQ4_NL", description="4.5 bpw non-linear"),
    QuantType("Q4_0", 2, "Q4_0", description="4.34 bpw legacy"),
    QuantType("Q4_1", 3, "Q4_1", description="4.78 bpw legacy"),
    QuantType("Q4_K_S", 14, "Q4_K", description="4.37 bpw"),
    QuantType("Q4_K_M", 15, "Q4_K", description="4.58 bpw, the usual choice"),
    QuantType("MXFP4_MOE", 38, "MXFP4", description="MXFP4 for mixture-of-experts models"),
    QuantType("Q5_0", 8, "Q5_0", description="5.21 bpw legacy"),
    QuantType("Q5_1", 9, "Q5_1", description="5.65 bpw legacy"),
    QuantType("Q5_K_S", 16, "Q5_K", description="5.21 bpw"),
    QuantType("Q5_K_M", 17, "Q5_K", description="5.33 bpw"),
    QuantType("Q6_K", 18, "Q6_K", description="6.14 bpw, near lossless"),
    QuantType("Q8_0", 7, "Q8_0", description="7.96 bpw, practically lossless"),
    QuantType("BF16", 32, "BF16", description="16 bpw brain float"),
    QuantType("F16", 1, "F16", description="16 bpw half float"),
    QuantType("F32", 0, "F32", description="32 bpw, unquantized"),
)

_ALIASES = {"Q3_K": "Q3_K_M", "Q4_K": "Q4_K_M", "Q5_K": "Q5_K_M"}


def quant_type(name: str) -> QuantType:
    key = name.strip().upper()
    key = _ALIASES.get(key, key)
    for t in QUANT_TYPES:
        if t.name == key:
            return t
    choices = ", ".join(t.name for t in QUANT_TYPES)
    raise QuantizeError(f"unknown quantization type {name!r}", hint=f"choose from {choices}")


def parse_types(text: str) -> list[QuantType]:
    """'Q4_K_M,Q8_0' -> the types, in order, without duplicates."""
    seen: dict[str, QuantType] = {}
    for part in text.split(","):
        if part.strip():
            t = quant_type(part)
            seen.setdefault(t.name, t)
    if not seen:
        raise QuantizeError("no quantization type given")
    return list(seen.values())


UNQUANTIZED_FILE_TYPES = (0, 1, 32)  # general.file_type of ALL_F32, MOSTLY_F16, MOSTLY_BF16


def output_name(model_stem: str, qtype: QuantType) -> str:
    """`<model>-<TYPE>.gguf`, dropping a type suffix the source already carries (model-F16 -> model-Q4_K_M)."""
    stem = model_stem
    upper = stem.upper()
    for suffix in ("-F32", "-F16", "-BF16", "-Q8_0", ".F32", ".F16", ".BF16", "_F16", "_F32", "_BF16"):
        if upper.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    return f"{stem}-{qtype.file_suffix}.gguf"
