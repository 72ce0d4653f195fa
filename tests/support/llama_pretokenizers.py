"""What the pinned llama.cpp knows of BPE pre-tokenizers, read from its sources (tests/support/llama_sources.py):
the names its converter gives by vocabulary hash (get_vocab_base_pre), and the split regexes its loader runs
for each name (src/llama-vocab.cpp). Read as text: nothing of llama.cpp is imported or run here."""

from __future__ import annotations

import re
from pathlib import Path

_CONVERTER_FILES = ("conversion/base.py", "convert_hf_to_gguf.py")


def converter_names(sources: Path) -> set[str]:
    """Every tokenizer.ggml.pre value llama.cpp's converter can write for a byte-level BPE vocabulary."""
    for rel in _CONVERTER_FILES:
        path = sources / rel
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        start = text.find("def get_vocab_base_pre")
        if start < 0:
            continue
        end = text.find("\n    def ", start + 1)
        return set(re.findall(r'\bres = "([^"]+)"', text[start:end]))
    raise AssertionError(f"no get_vocab_base_pre in {sources} ({', '.join(_CONVERTER_FILES)})")


def loader_regexes(sources: Path) -> dict[str, tuple[str, ...]]:
    """For each tokenizer.ggml.pre name llama.cpp's loader accepts, the split regexes it pre-tokenizes with."""
    text = (sources / "src" / "llama-vocab.cpp").read_text(encoding="utf-8")
    types: dict[str, str] = {}
    for cond, kind in re.findall(r"if \(((?:[^{;]|\n)*?)\) \{\s*pre_type\s*=\s*LLAMA_VOCAB_PRE_TYPE_(\w+)", text):
        for name in re.findall(r'tokenizer_pre == "([^"]+)"', cond):
            types.setdefault(name, kind)
    regexes: dict[str, tuple[str, ...]] = {}
    block = r"case LLAMA_VOCAB_PRE_TYPE_(\w+):((?:\s*case LLAMA_VOCAB_PRE_TYPE_\w+:)*)\s*regex_exprs = \{(.*?)\};"
    for first, more, body in re.findall(block, text, re.S):
        exprs = tuple(re.findall(r'"((?:[^"\\]|\\.)*)"', body))
        for kind in (first, *re.findall(r"LLAMA_VOCAB_PRE_TYPE_(\w+)", more)):
            regexes[kind] = exprs
    return {name: regexes.get(kind, ()) for name, kind in types.items()}
