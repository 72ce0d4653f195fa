"""The importance-matrix GGUF that llama-imatrix writes and llama-quantize reads.

Per weight: `<name>.in_sum2` (F32, n_cols x n_matrices: summed squared activations) and `<name>.counts`
(F32, 1 x n_matrices: tokens seen), plus imatrix.datasets / chunk_count / chunk_size metadata.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import gguf
import numpy as np

from app.core.atomic import temp_name
from app.core.errors import QuantizeError

KEY_DATASETS = "imatrix.datasets"
KEY_CHUNK_COUNT = "imatrix.chunk_count"
KEY_CHUNK_SIZE = "imatrix.chunk_size"


@dataclass(frozen=True, slots=True)
class ImatrixEntry:
    sums: np.ndarray  # float32, (n_matrices, n_cols)
    counts: np.ndarray  # int64, (n_matrices,)

    def importance(self) -> np.ndarray:
        """What llama-quantize uses: mean squared activation per column (1 where a matrix saw no token)."""
        out = np.ones_like(self.sums, dtype=np.float32)
        seen = self.counts > 0
        out[seen] = self.sums[seen] / self.counts[seen, None].astype(np.float32)
        return out.reshape(-1)


@dataclass(frozen=True, slots=True)
class Imatrix:
    entries: dict[str, ImatrixEntry]
    datasets: tuple[str, ...] = ()
    chunk_count: int = 0
    chunk_size: int = 0
    extra: dict[str, str] = field(default_factory=dict)


def save_imatrix(path: Path, imatrix: Imatrix) -> None:
    writer = gguf.GGUFWriter(path=None, arch="imatrix")
    writer.kv_data[0].pop("general.architecture", None)  # llama-imatrix files carry no architecture
    writer.add_string("general.type", "imatrix")
    writer.add_array(KEY_DATASETS, list(imatrix.datasets))
    writer.add_uint32(KEY_CHUNK_COUNT, imatrix.chunk_count)
    writer.add_uint32(KEY_CHUNK_SIZE, imatrix.chunk_size)
    for name in sorted(imatrix.entries):
        entry = imatrix.entries[name]
        writer.add_tensor(f"{name}.in_sum2", np.ascontiguousarray(entry.sums, dtype=np.float32))
        writer.add_tensor(f"{name}.counts", entry.counts.astype(np.float32).reshape(-1, 1))
    part = temp_name(path)
    try:
        writer.write_header_to_file(path=part)
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        fout = writer.fout[0] if writer.fout else None
        if fout is not None:
            fout.flush()
            os.fsync(fout.fileno())
        writer.close()
        os.replace(part, path)
    except BaseException:
        writer.close()
        part.unlink(missing_ok=True)
        raise


def load_imatrix(path: Path) -> Imatrix:
    try:
        reader = gguf.GGUFReader(path)
    except (OSError, ValueError) as exc:
        raise QuantizeError(f"{path.name} is not an imatrix GGUF file: {exc}") from exc
    fields = reader.fields
    if KEY_CHUNK_SIZE not in fields or KEY_DATASETS not in fields:
        raise QuantizeError(f"{path.name} lacks imatrix metadata (was it written by llama-imatrix?)")
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, np.ndarray] = {}
    for t in reader.tensors:
        data = np.array(t.data, dtype=np.float32)
        if t.name.endswith(".in_sum2"):
            sums[t.name[: -len(".in_sum2")]] = data
        elif t.name.endswith(".counts"):
            counts[t.name[: -len(".counts")]] = np.rint(data.reshape(-1)).astype(np.int64)
    if set(sums) != set(counts):
        raise QuantizeError(f"{path.name} has sums without counts (or the reverse)")
    entries = {}
    for name, s in sums.items():
        n_mat = len(counts[name])
        entries[name] = ImatrixEntry(sums=s.reshape(n_mat, -1), counts=counts[name])
    datasets = tuple(str(v) for v in fields[KEY_DATASETS].contents())
    return Imatrix(
        entries=entries,
        datasets=datasets,
        chunk_count=int(fields[KEY_CHUNK_COUNT].contents()) if KEY_CHUNK_COUNT in fields else 0,
        chunk_size=int(fields[KEY_CHUNK_SIZE].contents()),
    )
