"""Tokenizer files -> the tokenizer.ggml.* metadata llama.cpp reads.

Two kinds: SentencePiece (tokenizer.model: pieces with scores and types) and byte-level BPE
(tokenizer.json: vocabulary, merges, and a pre-tokenizer that llama.cpp knows by name).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gguf

from app.core.errors import ConvertError

log = logging.getLogger("app.convert")

SPM_NORMAL, SPM_UNKNOWN, SPM_CONTROL, SPM_USER_DEFINED, SPM_UNUSED, SPM_BYTE = 1, 2, 3, 4, 5, 6

# llama.cpp's converter recognises a BPE pre-tokenizer by hashing the token ids of a fixed text, which only
# works for vocabularies it has seen. The pre-tokenizer is fully described by its split pattern, so we map
# the patterns of the families we convert to the names llama.cpp implements; this also covers new vocabularies.
_PRE_TOKENIZERS = {
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+": "llama-bpe",
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+": "qwen2",
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+": "gpt-2",
}


@dataclass(frozen=True, slots=True)
class Vocab:
    model: str  # "llama" (SentencePiece) or "gpt2" (byte-level BPE)
    pre: str
    tokens: list[bytes]
    types: list[int]
    scores: list[float] | None


def looks_special(text: str) -> bool:
    return (
        text in ("<pad>", "<mask>", "<2mass>", "[@BOS@]")
        or (text.startswith("<|") and text.endswith("|>"))
        or (text.startswith("<｜") and text.endswith("｜>"))
        or (text.startswith("<unused") and text.endswith(">"))
    )


def _load_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConvertError(f"{path.name} cannot be read: {exc}") from exc
    return data if isinstance(data, dict) else {}


def sentencepiece_vocab(folder: Path, vocab_size: int | None, literal_added: bool = False) -> Vocab:
    """`literal_added`: Phi-3's rule for added tokens (kept as written, control only when marked special,
    tokenizer.json's list applied too) instead of the general one (pre-normalised, special-looking = control)."""
    from sentencepiece import SentencePieceProcessor

    sp = SentencePieceProcessor()
    try:
        sp.LoadFromFile(str(folder / "tokenizer.model"))
    except (OSError, RuntimeError) as exc:
        raise ConvertError(f"tokenizer.model in {folder} is not a SentencePiece model: {exc}") from exc
    n = vocab_size or sp.vocab_size()
    tokens = [f"[PAD{i}]".encode() for i in range(n)]
    scores = [-10000.0] * n
    types = [SPM_UNUSED] * n
    for i in range(min(n, sp.vocab_size())):
        tokens[i] = sp.IdToPiece(i).encode("utf-8")
        scores[i] = sp.GetScore(i)
        types[i] = _piece_type(sp, i)
    for text, tid in _load_json(folder / "added_tokens.json").items():
        if 0 <= int(tid) < n:
            tokens[int(tid)], scores[int(tid)], types[int(tid)] = text.encode(), -1000.0, SPM_USER_DEFINED
    decoder = _load_json(folder / "tokenizer_config.json").get("added_tokens_decoder") or {}
    entries = [(int(key), entry) for key, entry in decoder.items()]
    if literal_added:
        entries += [(int(e["id"]), e) for e in _load_json(folder / "tokenizer.json").get("added_tokens") or []]
    for tid, entry in entries:
        text = str(entry["content"])
        if not 0 <= tid < n:
            continue
        if literal_added:
            types[tid] = SPM_CONTROL if entry.get("special") else SPM_USER_DEFINED
        elif entry.get("special") or looks_special(text):
            types[tid] = SPM_CONTROL
        else:
            text = text.replace("\u2581", " ")  # llama.cpp expects user-defined tokens pre-normalised
            types[tid] = SPM_USER_DEFINED
        tokens[tid], scores[tid] = text.encode(), -1000.0
    return Vocab(model="llama", pre="default", tokens=tokens, types=types, scores=scores)


def _piece_type(sp: Any, i: int) -> int:
    if sp.IsUnknown(i):
        return SPM_UNKNOWN
    if sp.IsControl(i):
        return SPM_CONTROL
    if sp.IsUnused(i):
        return SPM_UNUSED
    if sp.IsByte(i):
        return SPM_BYTE
    return SPM_NORMAL


def bpe_vocab(folder: Path, vocab_size: int | None) -> Vocab:
    from tokenizers import Tokenizer

    path = folder / "tokenizer.json"
    if not path.is_file():
        raise ConvertError(f"{folder} has neither tokenizer.model nor tokenizer.json")
    tok = Tokenizer.from_file(str(path))
    data = _load_json(path)
    model = data.get("model") or {}
    if model.get("type") != "BPE":
        raise ConvertError(f"tokenizer.json of type {model.get('type')!r} is not supported (byte-level BPE only)")
    pre = pre_tokenizer_name(data)
    vocab = tok.get_vocab(with_added_tokens=True)
    reverse = {i: t for t, i in vocab.items()}
    added = {int(a["id"]): a for a in data.get("added_tokens") or []}
    n = vocab_size or (max(reverse) + 1)
    if max(reverse) >= n:
        raise ConvertError(f"tokenizer has ids up to {max(reverse)} but config.json says vocab_size={n}")
    tokens: list[bytes] = []
    types: list[int] = []
    for i in range(n):
        if i not in reverse:
            tokens.append(f"[PAD{i}]".encode())
            types.append(gguf.TokenType.UNUSED)
            continue
        text = reverse[i]
        entry = added.get(i)
        if entry is None:
            types.append(gguf.TokenType.NORMAL)
        else:
            if not entry.get("normalized", True):
                text = tok.decode(tok.encode(text, add_special_tokens=False).ids, skip_special_tokens=False)
            if entry.get("special") or looks_special(text):
                types.append(gguf.TokenType.CONTROL)
            else:
                text = text.replace("\u2581", " ")
                types.append(gguf.TokenType.USER_DEFINED)
        tokens.append(text.encode("utf-8"))
    return Vocab(model="gpt2", pre=pre, tokens=tokens, types=types, scores=None)


def pre_tokenizer_name(data: dict[str, Any]) -> str:
    patterns = _split_patterns(data.get("pre_tokenizer") or {})
    for pattern in patterns:
        if pattern in _PRE_TOKENIZERS:
            return _PRE_TOKENIZERS[pattern]
    if not patterns and _has_byte_level(data.get("pre_tokenizer") or {}):
        return "gpt-2"
    raise ConvertError(
        "the tokenizer's pre-tokenizer is not one llama.cpp can reproduce for these architectures",
        hint=f"split patterns found: {patterns or 'none'}",
    )


def _split_patterns(node: dict[str, Any]) -> list[str]:
    found: list[str] = []
    if node.get("type") == "Split":
        pattern = node.get("pattern") or {}
        if isinstance(pattern, dict) and "Regex" in pattern:
            found.append(str(pattern["Regex"]))
    for child in node.get("pretokenizers") or []:
        found.extend(_split_patterns(child))
    return found


def _has_byte_level(node: dict[str, Any]) -> bool:
    if node.get("type") == "ByteLevel":
        return bool(node.get("use_regex", True))
    return any(_has_byte_level(c) for c in node.get("pretokenizers") or [])


def add_vocab(w: gguf.GGUFWriter, folder: Path, vocab: Vocab) -> None:
    w.add_tokenizer_model(vocab.model)
    w.add_tokenizer_pre(vocab.pre)
    w.add_token_list(vocab.tokens)
    if vocab.scores is not None:
        w.add_token_scores(vocab.scores)
    w.add_token_types(vocab.types)
    special = gguf.SpecialVocab(folder, load_merges=vocab.model == "gpt2", n_vocab=len(vocab.tokens))
    kinds = _post_processors(_load_json(folder / "tokenizer.json"))
    if "ByteLevel" in kinds and "TemplateProcessing" not in kinds:
        # A bare ByteLevel post-processor adds no BOS/EOS, whatever tokenizer_config says: the pinned
        # llama.cpp's converter writes that explicitly (the `gguf` package we depend on predates the rule).
        special.add_special_token["bos"] = False
        special.add_special_token["eos"] = False
    special.add_to_gguf(w, quiet=True)


def _post_processors(data: dict[str, Any]) -> set[str]:
    post = data.get("post_processor") or {}
    return {str(p.get("type")) for p in post.get("processors", [post]) if isinstance(p, dict)}
