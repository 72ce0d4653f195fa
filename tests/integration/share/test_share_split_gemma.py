"""Split and merge of the real Gemma 3 270M: a byte-identical round trip, llama.cpp loads the split set
directly and generates the same greedy tokens, and llama.cpp's own gguf and split-name functions (what
`llama-gguf-split --merge` runs) read our parts as it requires."""

from __future__ import annotations

import ctypes
import filecmp
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import llama_cpp
import pytest

from app.gguf import read_header
from app.share.split import SplitPlan, merge_gguf, split_gguf
from tests.support.llama_sources import installed_library

GGUF_TYPE_UINT16, GGUF_TYPE_INT32 = 2, 5
PROMPT = "The capital of France is"


@pytest.fixture(scope="module")
def gemma_split(gemma_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SplitPlan]:
    plan = split_gguf(gemma_model, max_tensors=80, out_dir=tmp_path_factory.mktemp("split"))
    yield plan


def test_split_then_merge_is_byte_identical(gemma_model: Path, gemma_split: SplitPlan, tmp_path: Path) -> None:
    assert [p.count for p in gemma_split.parts] == [80, 80, 76]
    merged = merge_gguf(gemma_split.parts[0].path, output=tmp_path / "merged.gguf")
    assert merged.stat().st_size == gemma_model.stat().st_size
    assert filecmp.cmp(merged, gemma_model, shallow=False)


def _greedy(path: Path, n: int = 12) -> list[int]:
    llm = llama_cpp.Llama(str(path), n_ctx=128, n_threads=2, verbose=False)
    try:
        tokens: list[int] = []
        for token in llm.generate(llm.tokenize(PROMPT.encode()), top_k=1, temp=0.0):
            tokens.append(token)
            if len(tokens) == n:
                break
        return tokens
    finally:
        llm.close()


def test_llama_cpp_loads_the_split_set_and_generates_the_same_greedy_tokens(
    gemma_model: Path, gemma_split: SplitPlan
) -> None:
    whole = _greedy(gemma_model)
    assert len(whole) == 12
    assert _greedy(gemma_split.parts[0].path) == whole


@cache
def _gguf_lib() -> ctypes.CDLL:
    lib = ctypes.CDLL(str(installed_library("ggml-base")))
    lib.gguf_init_from_file.restype = ctypes.c_void_p
    lib.gguf_init_from_file.argtypes = [ctypes.c_char_p, _InitParams]
    lib.gguf_free.argtypes = [ctypes.c_void_p]
    lib.gguf_find_key.restype = ctypes.c_int64
    lib.gguf_find_key.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.gguf_get_kv_type.restype = ctypes.c_int
    lib.gguf_get_kv_type.argtypes = [ctypes.c_void_p, ctypes.c_int64]
    lib.gguf_get_val_u16.restype = ctypes.c_uint16
    lib.gguf_get_val_u16.argtypes = [ctypes.c_void_p, ctypes.c_int64]
    lib.gguf_get_val_i32.restype = ctypes.c_int32
    lib.gguf_get_val_i32.argtypes = [ctypes.c_void_p, ctypes.c_int64]
    lib.gguf_get_n_tensors.restype = ctypes.c_int64
    lib.gguf_get_n_tensors.argtypes = [ctypes.c_void_p]
    lib.gguf_get_data_offset.restype = ctypes.c_size_t
    lib.gguf_get_data_offset.argtypes = [ctypes.c_void_p]
    lib.gguf_get_tensor_offset.restype = ctypes.c_size_t
    lib.gguf_get_tensor_offset.argtypes = [ctypes.c_void_p, ctypes.c_int64]
    lib.gguf_get_tensor_size.restype = ctypes.c_size_t
    lib.gguf_get_tensor_size.argtypes = [ctypes.c_void_p, ctypes.c_int64]
    lib.gguf_get_tensor_name.restype = ctypes.c_char_p
    lib.gguf_get_tensor_name.argtypes = [ctypes.c_void_p, ctypes.c_int64]
    return lib


class _InitParams(ctypes.Structure):
    _fields_ = [("no_alloc", ctypes.c_bool), ("ctx", ctypes.c_void_p)]


def test_parts_follow_the_rules_llama_gguf_split_merge_reads(gemma_model: Path, gemma_split: SplitPlan) -> None:
    """The steps of gguf-split's merge, through the pinned llama.cpp's own functions: the prefix from the first
    part's name, each part's name from it, `split.count` as u16 on the first part, every part opened by gguf,
    and each tensor's bytes (data offset + tensor offset) equal to the original's."""
    lib = _gguf_lib()
    first = str(gemma_split.parts[0].path).encode()
    ctx = lib.gguf_init_from_file(first, _InitParams(True, None))
    assert ctx
    key = lib.gguf_find_key(ctx, b"split.count")
    assert key >= 0 and lib.gguf_get_kv_type(ctx, key) == GGUF_TYPE_UINT16
    n_split = lib.gguf_get_val_u16(ctx, key)
    key = lib.gguf_find_key(ctx, b"split.tensors.count")
    assert lib.gguf_get_kv_type(ctx, key) == GGUF_TYPE_INT32
    n_tensors = lib.gguf_get_val_i32(ctx, key)
    lib.gguf_free(ctx)
    assert n_split == len(gemma_split.parts)

    prefix = ctypes.create_string_buffer(4096)
    assert llama_cpp.llama_split_prefix(prefix, len(prefix), first, 0, n_split) > 0
    original = {t.name: t for t in read_header(gemma_model).tensors}
    seen = 0
    with open(gemma_model, "rb") as source:
        for index in range(n_split):
            path = ctypes.create_string_buffer(4096)
            assert llama_cpp.llama_split_path(path, len(path), prefix.value, index, n_split) > 0
            assert Path(path.value.decode()) == gemma_split.parts[index].path
            ctx = lib.gguf_init_from_file(path.value, _InitParams(True, None))
            assert ctx, f"llama.cpp's gguf cannot open part {index + 1}"
            try:
                no = lib.gguf_find_key(ctx, b"split.no")
                assert lib.gguf_get_kv_type(ctx, no) == GGUF_TYPE_UINT16 and lib.gguf_get_val_u16(ctx, no) == index
                with open(path.value.decode(), "rb") as part:
                    for i in range(lib.gguf_get_n_tensors(ctx)):
                        name = lib.gguf_get_tensor_name(ctx, i).decode()
                        size = lib.gguf_get_tensor_size(ctx, i)
                        part.seek(lib.gguf_get_data_offset(ctx) + lib.gguf_get_tensor_offset(ctx, i))
                        source.seek(original[name].offset)
                        assert size == original[name].n_bytes
                        assert part.read(size) == source.read(size), name
                        seen += 1
            finally:
                lib.gguf_free(ctx)
    assert seen == n_tensors == len(original)


def test_split_and_merge_commands(tmp_path: Path) -> None:
    from app.gguf.synthetic import TinySpec, write_tiny_gguf
    from tests.support.cli import run_cli

    source = write_tiny_gguf(tmp_path / "Tiny-F32.gguf", TinySpec(n_layer=2))
    dry = run_cli("split", str(source), "--max-tensors", "8", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert not list(tmp_path.glob("*-of-*.gguf"))
    done = run_cli("split", str(source), "--max-tensors", "8", "--out-dir", str(tmp_path / "parts"))
    assert done.returncode == 0, done.stderr
    assert done.stdout == dry.stdout.replace(str(tmp_path), str(tmp_path / "parts"))
    parts = [Path(line.split("\t")[0]) for line in done.stdout.splitlines()]
    assert len(parts) == 3 and all(p.is_file() for p in parts)
    merged = run_cli("merge", str(parts[0]))
    assert merged.returncode == 0, merged.stderr
    assert Path(merged.stdout.strip()).read_bytes() == source.read_bytes()
    again = run_cli("merge", str(parts[0]))
    assert again.returncode == 1 and again.stderr.startswith("error: Tiny-F32.gguf already exists")
    bad = run_cli("split", str(source), "--max-size", "1K")
    assert bad.returncode == 1 and "choose a larger maximum size" in bad.stderr
