"""Hand-built GGUF bytes for tests that need exact control over every field (hostile input included)."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from app.gguf.values import FIXED, ValueType


def u32(n: int) -> bytes:
    return struct.pack("<I", n)


def u64(n: int) -> bytes:
    return struct.pack("<Q", n)


def gstr(s: str | bytes) -> bytes:
    raw = s.encode() if isinstance(s, str) else s
    return u64(len(raw)) + raw


def scalar(vtype: int, value: object) -> bytes:
    return struct.pack("<" + FIXED[vtype][0], value)


def array(etype: int, values: Sequence[object]) -> bytes:
    """Payload of an ARRAY value (without the ARRAY type tag)."""
    parts: list[bytes] = []
    for v in values:
        if etype == ValueType.STRING:
            parts.append(gstr(v))  # type: ignore[arg-type]
        elif etype == ValueType.ARRAY:
            assert isinstance(v, tuple)
            parts.append(array(v[0], v[1]))
        else:
            parts.append(scalar(etype, v))
    return u32(etype) + u64(len(values)) + b"".join(parts)


@dataclass
class Tensor:
    name: str
    shape: tuple[int, ...]
    ggml_type: int = 0
    offset: int | None = None  # None: placed after the previous one


@dataclass
class Gguf:
    """A GGUF file: `kv` holds (key, type tag, encoded payload)."""

    kv: list[tuple[str, int, bytes]] = field(default_factory=list)
    tensors: list[Tensor] = field(default_factory=list)
    version: int = 3
    magic: bytes = b"GGUF"
    alignment: int = 32
    n_kv: int | None = None  # override the counts to lie
    n_tensors: int | None = None

    def add(self, key: str, vtype: int, value: object) -> Gguf:
        if vtype == ValueType.STRING:
            payload = gstr(value)  # type: ignore[arg-type]
        elif vtype == ValueType.ARRAY:
            assert isinstance(value, tuple)
            payload = array(value[0], value[1])
        else:
            payload = scalar(vtype, value)
        self.kv.append((key, vtype, payload))
        return self

    def header(self) -> bytes:
        out = bytearray(self.magic + u32(self.version))
        out += u64(len(self.tensors) if self.n_tensors is None else self.n_tensors)
        out += u64(len(self.kv) if self.n_kv is None else self.n_kv)
        for key, vtype, payload in self.kv:
            out += gstr(key) + u32(vtype) + payload
        offset = 0
        from app.gguf.types import tensor_nbytes

        for t in self.tensors:
            out += gstr(t.name) + u32(len(t.shape)) + b"".join(u64(d) for d in t.shape) + u32(t.ggml_type)
            out += u64(offset if t.offset is None else t.offset)
            n = tensor_nbytes(t.shape, t.ggml_type)
            offset += n + (-n % self.alignment)
        return bytes(out)

    def data_size(self) -> int:
        from app.gguf.types import tensor_nbytes

        total = 0
        for t in self.tensors:
            n = tensor_nbytes(t.shape, t.ggml_type)
            total += n + (-n % self.alignment)
        return total

    def build(self) -> bytes:
        head = self.header()
        pad = -len(head) % self.alignment if self.tensors else 0
        return head + b"\x00" * pad + b"\x00" * self.data_size()
