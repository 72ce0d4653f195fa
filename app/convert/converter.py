"""Convert a Hugging Face safetensors folder to GGUF, streaming one block of rows at a time."""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import os
import shutil
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

import gguf
import numpy as np
from gguf import GGMLQuantizationType as QT

from app import _native
from app.convert import fp8, kernels, mxfp4
from app.convert.accel import NATIVE_SOURCES, default_threads
from app.convert.architectures import Architecture, find_architecture, resolve
from app.convert.checkpoint import Checkpoint, open_checkpoint, read_json_if_exists
from app.convert.hparams import NO_MTP, flatten_config
from app.convert.plan import FILE_TYPES, OUT_TYPES, TensorPlan, plan_tensors
from app.convert.safetensors_file import MappedFiles, bf16_to_f32, read_values
from app.convert.vocab import Vocab, add_vocab, bpe_vocab, gemma4_vocab, sentencepiece_vocab, special_roles
from app.core.atomic import flushed_while_written, temp_name
from app.core.errors import Cancelled, ConvertError, DiskFullError

log = logging.getLogger("app.convert")

_CHUNK_ELEMENTS = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ConvertProgress:
    tensor: str
    index: int  # 1-based
    count: int
    bytes_done: int
    bytes_total: int


ProgressFn = Callable[[ConvertProgress], None]
CancelFn = Callable[[], bool]


@dataclass(frozen=True, slots=True)
class ConvertResult:
    path: Path
    architecture: str
    n_tensors: int
    size: int


def default_output(folder: Path, outtype: str) -> Path:
    return folder / f"{folder.name}-{outtype.upper()}.gguf"


def load_vocab(ckpt: Checkpoint, arch: Architecture, hp: dict) -> Vocab:
    folder = ckpt.folder
    if arch.vocab == "gemma4":
        return gemma4_vocab(folder)
    size = arch.vocab_size(hp) if arch.vocab_size else hp.get("vocab_size")
    use_spm = arch.vocab == "spm" or (arch.vocab == "auto" and (folder / "tokenizer.model").is_file())
    cfg = folder / "tokenizer_config.json"
    if use_spm and cfg.is_file() and '"GPT2Tokenizer"' in cfg.read_text(encoding="utf-8", errors="replace"):
        use_spm = False
    if use_spm:
        return sentencepiece_vocab(folder, size, arch.literal_added_tokens)
    return bpe_vocab(folder, size)


def convert(
    folder: Path,
    out: Path | None = None,
    outtype: str = "f16",
    progress: ProgressFn | None = None,
    cancelled: CancelFn | None = None,
    no_mtp: bool = False,
) -> ConvertResult:
    """`no_mtp` leaves multi-token-prediction layers out, as llama.cpp's converter does with --no-mtp."""
    if outtype not in OUT_TYPES:
        raise ConvertError(f"output type {outtype!r} is not one of {', '.join(OUT_TYPES)}")
    arch, plans, writer = _plan(folder, outtype, no_mtp)
    out = out or default_output(folder, outtype)
    write_file(writer, out, plans, progress, cancelled)
    return ConvertResult(out, arch.name, len(plans), out.stat().st_size)


def write_file(
    writer: gguf.GGUFWriter, out: Path, plans: list[TensorPlan], progress: ProgressFn | None, cancelled: CancelFn | None
) -> None:
    """The planned file under a temporary name of its own, renamed to `out` only when whole."""
    part = temp_name(out)
    try:
        _write(writer, part, plans, progress, cancelled or (lambda: False))
        os.replace(part, out)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def _plan(folder: Path, outtype: str, no_mtp: bool) -> tuple[Architecture, list[TensorPlan], gguf.GGUFWriter]:
    ckpt = open_checkpoint(folder)
    hp = flatten_config(ckpt.config)
    arch = resolve(find_architecture(ckpt.architecture), hp)
    if no_mtp:
        hp[NO_MTP] = True
    if arch.prepare is not None:
        hp = arch.prepare(hp, ckpt.tensors)
    vocab = load_vocab(ckpt, arch, hp)
    plans = plan_tensors(ckpt, arch, hp, OUT_TYPES[outtype], len(vocab.tokens))
    return arch, plans, _prepare_writer(ckpt, arch, hp, vocab, plans, OUT_TYPES[outtype])


def planned_layout(folder: Path, outtype: str = "f16", no_mtp: bool = False) -> tuple[list[TensorPlan], int]:
    """The tensors a conversion writes and the exact size of its header (metadata, vocabulary, tensor
    infos, padding), without reading a weight or writing a file: what a quant of the folder's model keeps."""
    _arch, plans, writer = _plan(folder, outtype, no_mtp)
    buffer = io.BytesIO()
    memory: Any = writer  # the writer serialises into memory: it never opens a file here
    memory.fout = [buffer]
    memory.state = gguf.gguf_writer.WriterState.EMPTY
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    size = buffer.tell()
    return plans, size + (-size) % writer.data_alignment


def new_writer(ckpt: Checkpoint, arch_name: str, kind: str, plans: list[TensorPlan]) -> gguf.GGUFWriter:
    """A writer holding the planned tensor infos and the general.* metadata llama.cpp's converter derives
    from the folder (name, size label) for a file of this kind (model or projector)."""
    writer = gguf.GGUFWriter(path=None, arch=arch_name)
    for p in plans:
        nbytes = p.n_rows * kernels.row_bytes(p.n_cols, p.qtype)
        writer.add_tensor_info(p.name, p.shape, np.dtype(np.float32), nbytes, raw_dtype=p.qtype)
    writer.add_type(kind)
    total, shared, expert, n_expert = writer.get_total_parameter_count()
    meta = gguf.Metadata.load(None, ckpt.folder, None, total)
    if meta.name is None:
        meta.name = ckpt.folder.name
    if meta.size_label is None and total > 0:
        meta.size_label = gguf.size_label(total, shared, expert, n_expert)
    meta.set_gguf_meta_model(writer)
    return writer


def _prepare_writer(
    ckpt: Checkpoint, arch: Architecture, hp: dict, vocab: Vocab, plans: list[TensorPlan], out: QT
) -> gguf.GGUFWriter:
    writer = new_writer(ckpt, arch.name, gguf.GGUFType.MODEL, plans)
    try:
        arch.write_params(writer, hp, int(mxfp4.file_type(hp, out) or FILE_TYPES[out]))
        if arch.tensor_metadata is not None:
            arch.tensor_metadata(writer, ckpt.tensors, hp)
    except KeyError as exc:
        raise ConvertError(f"config.json lacks {exc}, which the {arch.label} conversion needs") from exc
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    if arch.name in ("gemma2", "gemma3", "gemma3n") and vocab.model == "llama":
        writer.add_add_space_prefix(False)
    elif arch.name == "llama" or arch.llama_vocab or arch.prefix_space:
        prefix = read_json_if_exists(ckpt.folder / "tokenizer_config.json").get("add_prefix_space")
        if prefix is not None:
            writer.add_add_space_prefix(bool(prefix))
    add_vocab(writer, ckpt.folder, vocab, special_roles(vocab, arch.special_roles))
    if vocab.model == "gemma4":  # after the vocabulary's keys, as llama.cpp's converter writes them
        writer.add_add_space_prefix(False)
        writer.add_add_bos_token(True)
    if (arch.name == "llama" or arch.llama_vocab) and hp.get("vocab_size") == 49152:
        writer.add_add_bos_token(False)  # llama.cpp's rule for Granite's and SmolLM's small vocabularies
    return writer


def _write(
    writer: gguf.GGUFWriter,
    part: Path,
    plans: list[TensorPlan],
    progress: ProgressFn | None,
    cancelled: CancelFn,
) -> None:
    try:
        writer.write_header_to_file(path=part)
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
    except OSError as exc:  # a disk with a few KiB left fails here, before the space check below
        with contextlib.suppress(OSError):
            writer.close()
        if exc.errno == errno.ENOSPC:
            raise DiskFullError(
                f"the disk filled up while writing {part.name}", hint=f"free some space in {part.parent}"
            ) from exc
        raise ConvertError(f"cannot write {part}: {exc.strerror or exc}") from exc
    assert writer.fout is not None
    fout = _Output(writer.fout[0])
    align = writer.data_alignment
    total = sum(p.n_rows * kernels.row_bytes(p.n_cols, p.qtype) for p in plans)
    free = shutil.disk_usage(part.parent).free
    if total > free:
        raise DiskFullError(f"the GGUF needs {total / 2**20:.0f} MiB but {part.parent} has {free / 2**20:.0f} MiB free")
    done = 0
    files = MappedFiles()
    try:
        with flushed_while_written(part):
            _pad(fout, align)
            for i, plan in enumerate(plans, 1):
                if cancelled():
                    raise Cancelled("conversion cancelled")
                done += _write_tensor(fout, files, plan, cancelled)
                if plan.source is not None:
                    files.release(plan.source)
                _pad(fout, align)
                if progress is not None:
                    progress(ConvertProgress(plan.name, i, len(plans), done, total))
            fout.close()
        writer.fout[0].flush()
        os.fsync(writer.fout[0].fileno())
    except OSError as exc:
        if exc.errno == 28:
            raise DiskFullError(f"the disk filled up while writing {part.name}") from exc
        raise ConvertError(f"cannot write {part}: {exc.strerror or exc}") from exc
    finally:
        fout.close()
        files.close()
        writer.close()


class _Output:
    """Writes one block while the next is converted (both release the GIL); at most one write pending."""

    def __init__(self, fout: BinaryIO) -> None:
        self._fout = fout
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gguf-write")
        self._pending: Future[int] | None = None

    def write(self, data: Any) -> None:
        self._wait()
        self._pending = self._pool.submit(self._fout.write, data)

    def tell(self) -> int:
        self._wait()
        return self._fout.tell()

    def close(self) -> None:
        self._wait()
        self._pool.shutdown()

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()  # re-raises the write's OSError here


def _pad(fout: _Output, align: int) -> None:
    pos = fout.tell()
    if pos % align:
        fout.write(b"\x00" * (align - pos % align))


def _write_tensor(fout: _Output, files: MappedFiles, plan: TensorPlan, cancelled: CancelFn) -> int:
    if plan.scales is not None:
        return _write_mxfp4(fout, files, plan, cancelled)
    if plan.parts:  # merged experts: each expert's matrix in turn, so only one is ever touched at a time
        written = 0
        for i, part in enumerate(plan.parts):
            scales = plan.fp8_scales[i : i + 1]
            written += _write_tensor(fout, files, replace(plan, source=part, parts=(), fp8_scales=scales), cancelled)
            files.release(part)
        return written
    if plan.fp8_scales:
        return _write_fp8(fout, files, plan, cancelled)
    if plan.data is not None:
        data = kernels.convert_rows(plan.data, plan.qtype)
        fout.write(data.tobytes())
        return int(data.nbytes)
    assert plan.source is not None
    src = files.raw(plan.source)
    if plan.transform is not None:
        src = np.ascontiguousarray(plan.transform(src))
    if src.ndim == 1:
        src = src[plan.rows] if plan.rows is not None else src  # a permuted bias: reorder its values
        src = src.reshape(1, -1)
        rows = None
    else:
        src = src.reshape(-1, src.shape[-1])
        rows = plan.rows
    n_rows = len(rows) if rows is not None else src.shape[0]
    step = max(1, _CHUNK_ELEMENTS // max(1, src.shape[1]))
    written = 0
    for start in range(0, n_rows, step):
        if cancelled():
            raise Cancelled("conversion cancelled")
        stop = min(n_rows, start + step)
        block = _convert_block(src, rows, start, stop, plan)
        fout.write(block.tobytes() if not block.flags.c_contiguous else block.data.cast("B"))
        written += block.nbytes
    for start in range(0, plan.pad_rows, step):
        zeros = np.zeros((min(step, plan.pad_rows - start), src.shape[1]), dtype=np.float32)
        block = kernels.convert_rows(zeros, plan.qtype)
        fout.write(block.tobytes())
        written += block.nbytes
    return written


def _write_mxfp4(fout: _Output, files: MappedFiles, plan: TensorPlan, cancelled: CancelFn) -> int:
    assert plan.source is not None and plan.scales is not None
    blocks, scales = files.raw(plan.source), files.raw(plan.scales)
    n_blocks = blocks.shape[-2]
    blocks, scales = blocks.reshape(-1, n_blocks, 16), scales.reshape(-1, n_blocks)
    rows = plan.rows if plan.rows is not None else np.arange(blocks.shape[0])
    step = max(1, _CHUNK_ELEMENTS // (n_blocks * 32))
    written = 0
    for start in range(0, len(rows), step):
        if cancelled():
            raise Cancelled("conversion cancelled")
        picked = rows[start : start + step]
        block = mxfp4.repack(blocks[picked], scales[picked])
        fout.write(block.tobytes())
        written += block.nbytes
    files.release(plan.scales)
    return written


def _write_fp8(fout: _Output, files: MappedFiles, plan: TensorPlan, cancelled: CancelFn) -> int:
    assert plan.source is not None
    codes = files.raw(plan.source)
    codes = codes.reshape(-1, codes.shape[-1])
    scale = read_values(plan.fp8_scales[0])
    if plan.transform is not None:  # rearranged as a whole (DeepSeek's k_b): dequantized whole first, as llama.cpp
        values = fp8.dequantize_rows(codes, np.arange(codes.shape[0]), scale, plan.fp8_block)
        values = np.ascontiguousarray(plan.transform(values.reshape(plan.source.shape)))
        data = kernels.convert_rows(values.reshape(-1, values.shape[-1]), plan.qtype)
        fout.write(data.tobytes())
        return int(data.nbytes)
    rows = plan.rows if plan.rows is not None else np.arange(codes.shape[0])
    step = max(1, _CHUNK_ELEMENTS // max(1, codes.shape[1]))
    written = 0
    for start in range(0, len(rows), step):
        if cancelled():
            raise Cancelled("conversion cancelled")
        ids = rows[start : start + step]
        block = kernels.convert_rows(fp8.dequantize_rows(codes[ids], ids, scale, plan.fp8_block), plan.qtype)
        fout.write(block.tobytes())
        written += block.nbytes
    return written


def _convert_block(src: np.ndarray, rows: np.ndarray | None, start: int, stop: int, plan: TensorPlan) -> np.ndarray:
    assert plan.source is not None
    src_type = NATIVE_SOURCES.get(plan.source.dtype)
    if src_type is None or plan.scale is not None:  # a type the native kernels do not read, or values scaled first
        chunk = src[rows[start:stop]] if rows is not None else src[start:stop]
        values = _working(chunk, plan)
        if plan.scale is not None:
            values = plan.scale(values, rows[start:stop] if rows is not None else np.arange(start, stop))
        return np.ascontiguousarray(kernels.convert_rows(values, plan.qtype))
    n_cols = src.shape[1]
    out = np.empty((stop - start, kernels.row_bytes(n_cols, plan.qtype)), dtype=np.uint8)
    threads = default_threads()
    if rows is None:
        _native.convert(src[start:stop], src_type, out, int(plan.qtype), n_cols, shift=plan.shift, n_threads=threads)
    else:
        ids = np.ascontiguousarray(rows[start:stop], dtype=np.int64)
        _native.convert(src, src_type, out, int(plan.qtype), n_cols, rows=ids, shift=plan.shift, n_threads=threads)
    return out


def _working(chunk: np.ndarray, plan: TensorPlan) -> np.ndarray:
    """Values as llama.cpp's converter computes with them: f16 stays f16, everything else becomes f32."""
    assert plan.source is not None
    if plan.source.dtype == "BF16":
        x = bf16_to_f32(chunk)
    elif plan.source.dtype == "F16":
        x = chunk
    else:
        x = chunk.astype(np.float32, copy=False)
    if plan.shift:
        x = x + x.dtype.type(plan.shift)
    return x
