"""GGUF metadata value types, and the lazy reference that stands in for a large array."""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Union

from app.core.errors import GGUFError

if TYPE_CHECKING:
    import numpy as np


class ValueType(IntEnum):
    """Type tags of GGUF metadata values (the numbers are part of the file format)."""

    UINT8 = 0
    INT8 = 1
    UINT16 = 2
    INT16 = 3
    UINT32 = 4
    INT32 = 5
    FLOAT32 = 6
    BOOL = 7
    STRING = 8
    ARRAY = 9
    UINT64 = 10
    INT64 = 11
    FLOAT64 = 12


# struct code and size of each fixed-size type (little-endian; GGUF big-endian files are refused)
FIXED: dict[int, tuple[str, int]] = {
    ValueType.UINT8: ("B", 1),
    ValueType.INT8: ("b", 1),
    ValueType.UINT16: ("H", 2),
    ValueType.INT16: ("h", 2),
    ValueType.UINT32: ("I", 4),
    ValueType.INT32: ("i", 4),
    ValueType.FLOAT32: ("f", 4),
    ValueType.BOOL: ("?", 1),
    ValueType.UINT64: ("Q", 8),
    ValueType.INT64: ("q", 8),
    ValueType.FLOAT64: ("d", 8),
}
FIXED_STRUCTS: dict[int, struct.Struct] = {t: struct.Struct("<" + code) for t, (code, _) in FIXED.items()}
NUMPY_DTYPES: dict[int, str] = {
    ValueType.UINT8: "<u1",
    ValueType.INT8: "<i1",
    ValueType.UINT16: "<u2",
    ValueType.INT16: "<i2",
    ValueType.UINT32: "<u4",
    ValueType.INT32: "<i4",
    ValueType.FLOAT32: "<f4",
    ValueType.BOOL: "<u1",
    ValueType.UINT64: "<u8",
    ValueType.INT64: "<i8",
    ValueType.FLOAT64: "<f8",
}

Loader = Callable[[int, int], bytes]
"""`load(start, end_exclusive)`: bytes of the source, read when a lazy array is decoded."""


def type_name(value_type: int) -> str:
    try:
        return ValueType(value_type).name
    except ValueError:
        return f"type {value_type}"


@dataclass(frozen=True, slots=True)
class ArrayRef:
    """A metadata array left in the file: where it is and what it holds, decoded only on request.

    `offset` is the absolute file offset of the first element and `n_bytes` the size of all elements.
    Decoding re-reads those bytes from the source (file, buffer or ranged fetch) and hands them to the
    reader's element decoder, given by the reader that made the reference (so this module never imports it).
    """

    element_type: int
    count: int
    offset: int
    n_bytes: int
    _load: Loader = field(repr=False, compare=False)
    _decode: Decoder = field(repr=False, compare=False)

    def raw(self) -> bytes:
        """The elements' bytes exactly as stored."""
        data = self._load(self.offset, self.offset + self.n_bytes)
        if len(data) != self.n_bytes:
            raise GGUFError(f"could read only {len(data)} of the array's {self.n_bytes} bytes", offset=self.offset)
        return data

    def decode(self) -> tuple[Value, ...]:
        """All elements as Python values (str, int, float, bool, or tuples for nested arrays)."""
        return self._decode(self.raw(), self.element_type, self.count, self.offset)

    def to_numpy(self) -> np.ndarray:
        """A numeric array as a numpy array (one copy of the bytes, no per-element objects)."""
        import numpy as np

        dtype = NUMPY_DTYPES.get(self.element_type)
        if dtype is None:
            raise GGUFError(f"a {type_name(self.element_type)} array has no numpy form", offset=self.offset)
        values = np.frombuffer(self.raw(), dtype=dtype, count=self.count)
        return values.astype(bool) if self.element_type == ValueType.BOOL else values.copy()


Value = Union[int, float, bool, str, "tuple[Value, ...]", ArrayRef]
"""A metadata value: scalars, small arrays as tuples (nested arrays as tuples of tuples), large arrays lazy."""

Decoder = Callable[[bytes, int, int, int], "tuple[Value, ...]"]
"""`decode(raw, element_type, count, offset)`: the elements of an array from its bytes (the reader's parser)."""


def as_sequence(value: Value) -> Sequence[Value]:
    """A decoded array from either form (tuple or `ArrayRef`); a scalar becomes a 1-tuple."""
    if isinstance(value, ArrayRef):
        return value.decode()
    if isinstance(value, tuple):
        return value
    return (value,)
