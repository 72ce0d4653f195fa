"""Split models (`name-00001-of-00003.gguf`, `split.*` metadata) read as one model."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from app.core.errors import GGUFError
from app.gguf.naming import parse_split
from app.gguf.reader import GGUFHeader, TensorInfo, read_header
from app.gguf.values import Value

KEY_COUNT = "split.count"
KEY_NO = "split.no"
KEY_TENSORS = "split.tensors.count"


@dataclass(frozen=True, slots=True)
class GGUFModel:
    """One model from one or more GGUF files. Metadata is the first part's; `tensors` lists every
    part's tensors in order, each with its `part` index and its offset within that part's file."""

    parts: tuple[GGUFHeader, ...]
    tensors: tuple[TensorInfo, ...]

    @property
    def metadata(self) -> Mapping[str, Value]:
        return self.parts[0].metadata

    @property
    def file_size(self) -> int:
        """Bytes of all parts together."""
        return sum(p.file_size for p in self.parts)

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(p.path_or_source for p in self.parts)

    @property
    def tensor_bytes(self) -> int:
        return sum(t.n_bytes for t in self.tensors)

    @property
    def architecture(self) -> str | None:
        return self.parts[0].architecture


def split_count(header: GGUFHeader) -> int:
    """How many files the model is split into (1 when the header says nothing)."""
    count = header.metadata.get(KEY_COUNT, 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise GGUFError(f"{header.path_or_source}: invalid {KEY_COUNT} {count!r}")
    return count


def read_model(path: str | os.PathLike[str]) -> GGUFModel:
    """Read a model from a file; for a split model (any of its parts), read and check every part."""
    p = Path(path)
    first = read_header(p)
    count = split_count(first)
    if count == 1:
        return merge_parts([first])
    name = parse_split(p.name)
    if name is None or name.count != count:
        raise GGUFError(
            f"{p.name} is part of a {count}-file split model but its name does not say which part "
            f"(expected NAME-0000N-of-{count:05d}.gguf)"
        )
    headers: list[GGUFHeader] = []
    missing: list[str] = []
    for number in range(1, count + 1):
        part_path = p.with_name(name.part_name(number))
        if number == name.number:
            headers.append(first)
        elif part_path.is_file():
            headers.append(read_header(part_path))
        else:
            missing.append(part_path.name)
    if missing:
        raise GGUFError(
            f"split model {name.stem} is incomplete: missing {', '.join(missing)}",
            hint="download every part into the same folder",
        )
    return merge_parts(headers)


def merge_parts(headers: Sequence[GGUFHeader]) -> GGUFModel:
    """Check that `headers` are parts 0..N-1 of one split model (or one whole model) and merge them."""
    if not headers:
        raise GGUFError("no GGUF parts given")
    count = split_count(headers[0])
    if len(headers) != count:
        raise GGUFError(f"{headers[0].path_or_source}: split model has {count} parts, {len(headers)} given")
    tensors: list[TensorInfo] = []
    names: set[str] = set()
    for index, header in enumerate(headers):
        where = header.path_or_source
        if count > 1:
            if split_count(header) != count:
                raise GGUFError(f"{where}: {KEY_COUNT} is {split_count(header)}, other parts say {count}")
            if header.metadata.get(KEY_NO) != index:
                raise GGUFError(f"{where}: {KEY_NO} is {header.metadata.get(KEY_NO)!r}, expected {index}")
        for tensor in header.tensors:
            if tensor.name in names:
                raise GGUFError(f"{where}: tensor {tensor.name!r} appears in more than one part")
            names.add(tensor.name)
            tensors.append(tensor)
    expected = headers[0].metadata.get(KEY_TENSORS)
    if count > 1 and isinstance(expected, int) and expected != len(tensors):
        raise GGUFError(
            f"split model declares {expected} tensors but its {count} parts hold {len(tensors)}",
            hint="a part may be from another version of the model",
        )
    return GGUFModel(parts=tuple(headers), tensors=tuple(tensors))
