"""One quantization through llama.cpp's own `llama_model_quantize`, with progress from its log."""

from __future__ import annotations

import ctypes
import logging
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core.atomic import flushed_while_written, temp_name
from app.core.errors import DiskFullError, QuantizeError
from app.process import native_log
from app.quantize import llama_api
from app.quantize.types import QuantType

if TYPE_CHECKING:  # numpy and gguf stay off the GUI's start-up path
    from app.quantize.imatrix_file import Imatrix

log = logging.getLogger("app.quantize")

_NEARLY_FULL = 4 * 1024 * 1024  # free bytes below which a failed write is taken for a full disk
_TENSOR_LINE = re.compile(r"^\[\s*(\d+)/\s*(\d+)\]\s+(\S+)")


@dataclass(frozen=True, slots=True)
class QuantizeOptions:
    n_threads: int = 0  # 0: llama.cpp picks
    pure: bool = False  # every weight in the target type (no mixes, no output/embedding upgrades)
    output_type: str | None = None  # ggml type name for output.weight
    token_embedding_type: str | None = None
    overrides: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (tensor-name regex, ggml type)
    allow_requantize: bool = True


@dataclass(frozen=True, slots=True)
class TensorProgress:
    index: int  # 1-based tensor being quantized
    count: int
    name: str


ProgressFn = Callable[[TensorProgress], None]
LogFn = Callable[[str], None]


def _ggml_type_id(name: str) -> int:
    from app.gguf.types import ggml_types_by_name  # app.gguf stays out of a plain job's start

    found = ggml_types_by_name().get(name.strip().upper())
    if found is None:
        raise QuantizeError(f"unknown tensor type {name!r}")
    return found.id


def quantize_file(
    src: Path,
    dst: Path,
    qtype: QuantType,
    options: QuantizeOptions = QuantizeOptions(),
    imatrix: Imatrix | None = None,
    progress: ProgressFn | None = None,
    on_log: LogFn | None = None,
) -> None:
    """Quantize src into dst (written under a unique `*.part` name, renamed at the end; removed on failure)."""
    if qtype.needs_imatrix and imatrix is None:
        raise QuantizeError(f"{qtype.name} needs an importance matrix", hint="compute one from a calibration text")
    lib = llama_api.llama()
    params = lib.llama_model_quantize_default_params()
    params.ftype = qtype.ftype
    params.nthread = options.n_threads
    params.pure = options.pure
    params.allow_requantize = options.allow_requantize
    if options.output_type:
        params.output_tensor_type = _ggml_type_id(options.output_type)
    if options.token_embedding_type:
        params.token_embedding_type = _ggml_type_id(options.token_embedding_type)
    keep: list[Any] = []  # ctypes arrays must outlive the call
    if options.overrides:
        params.tt_overrides = _overrides(lib, options.overrides, keep)
    if imatrix is not None:
        params.imatrix = _imatrix_array(lib, imatrix, keep)
    part = temp_name(dst)
    last = [0]

    def on_line(level: int, line: str) -> None:
        match = _TENSOR_LINE.match(line)
        if match and progress is not None and int(match.group(1)) != last[0]:
            last[0] = int(match.group(1))
            progress(TensorProgress(last[0], int(match.group(2)), match.group(3)))
        elif line.strip() and on_log is not None and not match:
            on_log(line)

    try:
        with native_log.captured(on_line) as lines, flushed_while_written(part):
            rc = lib.llama_model_quantize(str(src).encode(), str(part).encode(), ctypes.byref(params))
        if rc != 0 or not part.exists():
            if _disk_nearly_full(dst.parent):  # llama.cpp writes with iostreams: ENOSPC is a bare "iostream error"
                raise DiskFullError(
                    f"the disk filled up while writing {dst.name}", hint=f"free some space in {dst.parent}"
                )
            raise QuantizeError(f"llama.cpp could not quantize {src.name} to {qtype.name}: {_reason(lines)}")
        _fsync(part)
        os.replace(part, dst)
    except OSError as exc:
        part.unlink(missing_ok=True)
        if exc.errno == 28:
            raise DiskFullError(f"the disk filled up while writing {dst.name}") from exc
        raise QuantizeError(f"cannot write {dst}: {exc.strerror or exc}") from exc
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def _disk_nearly_full(directory: Path) -> bool:
    """Checked while the partial output still takes its space: a failed write with this little left was ENOSPC."""
    try:
        return shutil.disk_usage(directory).free < _NEARLY_FULL
    except OSError:
        return False


def _reason(lines: list[str]) -> str:
    for line in reversed(lines):
        if "failed to quantize" in line or "error" in line.lower():
            return line.split("failed to quantize:")[-1].strip()
    return "see the log"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _overrides(lib: Any, overrides: tuple[tuple[str, str], ...], keep: list[Any]) -> Any:
    arr = (lib.llama_model_tensor_override * (len(overrides) + 1))()
    for i, (pattern, type_name) in enumerate(overrides):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise QuantizeError(f"tensor pattern {pattern!r} is not a valid regular expression: {exc}") from exc
        encoded = pattern.encode()
        keep.append(encoded)
        arr[i].pattern = encoded
        arr[i].type = _ggml_type_id(type_name)
    arr[len(overrides)].pattern = None  # terminator
    keep.append(arr)
    return ctypes.cast(arr, ctypes.POINTER(lib.llama_model_tensor_override))


def _imatrix_array(lib: Any, imatrix: Imatrix, keep: list[Any]) -> Any:
    entries = list(imatrix.entries.items())
    arr = (lib.llama_model_imatrix_data * (len(entries) + 1))()
    for i, (name, entry) in enumerate(entries):
        values = entry.importance()
        cvalues = (ctypes.c_float * len(values)).from_buffer_copy(values.tobytes())
        encoded = name.encode()
        keep.extend((cvalues, encoded))
        arr[i].name = encoded
        arr[i].data = ctypes.cast(cvalues, ctypes.POINTER(ctypes.c_float))
        arr[i].size = len(values)
    arr[len(entries)].name = None
    keep.append(arr)
    return ctypes.cast(arr, ctypes.POINTER(lib.llama_model_imatrix_data))
