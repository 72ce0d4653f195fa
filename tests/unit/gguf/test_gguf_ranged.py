"""Remote headers over a ranged reader: few requests, same result as the local read."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from app.gguf import ArrayRef, GGUFHeader, read_header, read_header_ranged
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf


class CountingFile:
    """A ranged reader over a local file that records every request."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        self.requests: list[tuple[int, int]] = []

    def fetch(self, start: int, end: int) -> bytes:
        assert 0 <= start < end <= self.size
        self.requests.append((start, end))
        with open(self.path, "rb") as f:
            f.seek(start)
            return f.read(end - start)


def _read_counted(path: Path) -> tuple[CountingFile, GGUFHeader]:
    remote = CountingFile(path)
    return remote, read_header_ranged(remote.fetch, remote.size, source=str(path))


def test_tiny_model_needs_one_request(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "m.gguf")
    remote, header = _read_counted(path)
    assert len(remote.requests) == 1
    assert header == dataclasses.replace(read_header(path), path_or_source=str(path))


def test_large_vocabulary_needs_at_most_three_requests(tmp_path: Path) -> None:
    spec = TinySpec(n_vocab=150_000, n_embd=32, n_head=2, n_head_kv=1, n_ff=64, n_layer=1, tensor_type="F16")
    path = write_tiny_gguf(tmp_path / "big.gguf", spec)
    remote, header = _read_counted(path)
    assert len(remote.requests) <= 3
    local = read_header(path)
    assert header.tensors == local.tensors
    # requests never reach into tensor data far beyond the header
    assert max(end for _, end in remote.requests) <= max(local.data_offset * 8, 2 * 1024 * 1024)


def test_gemma_header_needs_at_most_three_requests(gemma_model: Path) -> None:
    remote, header = _read_counted(gemma_model)
    assert len(remote.requests) <= 3
    local = read_header(gemma_model)
    assert header.tensors == local.tensors
    assert dict(header.metadata).keys() == dict(local.metadata).keys()
    tokens = header.metadata["tokenizer.ggml.tokens"]
    assert isinstance(tokens, ArrayRef)
    assert tokens.count == 262_144
    n_before = len(remote.requests)
    assert tokens.decode()[:3] == ("<pad>", "<eos>", "<bos>")
    assert len(remote.requests) == n_before + 1  # decoding a lazy array re-fetches just its bytes


def test_fetch_errors_pass_through(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "m.gguf")

    def broken(start: int, end: int) -> bytes:
        raise ConnectionError("network down")

    with pytest.raises(ConnectionError):
        read_header_ranged(broken, path.stat().st_size)


def test_big_bpe_header_needs_at_most_three_requests() -> None:
    """A 256k BPE vocabulary with merges (a header of about 9 MB), built by hand."""
    from app.gguf.values import ValueType as T
    from tests.unit.gguf.ggufbytes import Gguf, Tensor

    n = 256_000
    tokens = [f"\u0120tok{i}" for i in range(n)]
    merges = [f"\u0120t ok{i}" for i in range(n)]
    g = Gguf().add("general.architecture", T.STRING, "llama").add("tokenizer.ggml.tokens", T.ARRAY, (T.STRING, tokens))
    g.add("tokenizer.ggml.token_type", T.ARRAY, (T.INT32, [1] * n))
    g.add("tokenizer.ggml.merges", T.ARRAY, (T.STRING, merges)).add("tokenizer.ggml.eos_token_id", T.UINT32, 2)
    g.tensors = [Tensor(f"blk.{i}.w", (64, 64), 1) for i in range(300)]
    data = g.build()
    requests: list[tuple[int, int]] = []

    def fetch(start: int, end: int) -> bytes:
        requests.append((start, end))
        return data[start:end]

    header = read_header_ranged(fetch, len(data))
    assert header.data_offset > 8 * 2**20
    assert len(requests) <= 3
    assert header.metadata["tokenizer.ggml.eos_token_id"] == 2
    assert len(header.tensors) == 300
