"""Per-tensor type overrides as typed on the Quantize page."""

from __future__ import annotations

import pytest

from app.core.errors import QuantizeError
from app.quantize.overrides import TENSOR_TYPES, parse_overrides


def test_pairs_in_order_with_types_upper_case() -> None:
    text = "ffn_down=q6_k; attn_v=Q8_0\nblk\\.[0-3]\\..*=f16;;"
    assert parse_overrides(text) == (("ffn_down", "Q6_K"), ("attn_v", "Q8_0"), ("blk\\.[0-3]\\..*", "F16"))
    assert parse_overrides("  ") == ()
    assert parse_overrides("a=b=Q4_K") == (("a=b", "Q4_K"),)  # the last '=' splits pattern and type


@pytest.mark.parametrize("text", ["ffn_down", "=Q6_K", "ffn_down=Q7_K", "ffn_down= "])
def test_malformed_overrides_are_refused_with_the_types_named(text: str) -> None:
    with pytest.raises(QuantizeError, match="REGEX=TYPE") as caught:
        parse_overrides(text)
    assert all(name in caught.value.hint for name in TENSOR_TYPES)
