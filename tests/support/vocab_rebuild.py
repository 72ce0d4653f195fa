"""A model folder rebuilt from a vocabulary llama.cpp's converter wrote into a GGUF: tokenizer.json,
tokenizer_config.json and a small config.json that both converters read with --vocab-only.

The GGUF keeps the tokens, their types, the merges and whether a BOS is added; the rest of what llama.cpp's
converter hashes (pre-tokenizer, normalizer) is given: the pre-tokenizer chain its name stands for
(tests/support/tiny_hf.PRE_TOKENIZER_CASES), and the normalizer the family ships. When llama.cpp's converter
then writes the GGUF's own name again, the rebuilt folder is that vocabulary as far as its hash can tell.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.vocab_ggufs import GGUFVocab

NFC: dict[str, Any] = {"type": "NFC"}
_CONTROL, _USER_DEFINED = 3, 4
_BYTE_DECODER = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}


def rebuild(
    vocab: GGUFVocab,
    pre_tokenizer: dict[str, Any],
    folder: Path,
    *,
    ignore_merges: bool = False,
    normalizer: dict[str, Any] | None = None,
    clean_up_spaces: bool = False,
) -> Path:
    """Write `folder` (created) from `vocab`; a BOS is added where the GGUF says add_bos_token."""
    n = len(vocab.tokens)
    while n and vocab.tokens[n - 1] == f"[PAD{n - 1}]":
        n -= 1  # the fill config.json's vocab_size adds, not part of the tokenizer
    model_vocab: dict[str, int] = {}
    # user-defined tokens as normalized ones: both converters then keep their text as the GGUF holds it
    added: list[dict[str, Any]] = []
    for i, (text, kind) in enumerate(zip(vocab.tokens[:n], vocab.types[:n], strict=True)):
        model_vocab[text] = i  # added tokens too: the tokenizers library gives those it lacks new ids
        if kind in (_CONTROL, _USER_DEFINED):
            added.append(
                {"id": i, "content": text, "single_word": False, "lstrip": False, "rstrip": False,
                 "normalized": kind == _USER_DEFINED, "special": kind == _CONTROL}
            )  # fmt: skip
    text_of = {role: vocab.tokens[i] for role, i in vocab.special.items() if 0 <= i < n}
    bos = text_of.get("bos") if vocab.add_bos else None
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": normalizer,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": _bos_template(bos, vocab.special["bos"])
        if bos is not None
        else {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": _BYTE_DECODER,
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": ignore_merges,
            "vocab": model_vocab, "merges": list(vocab.merges),
        },
    }  # fmt: skip
    config: dict[str, Any] = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "clean_up_tokenization_spaces": clean_up_spaces,
        "add_bos_token": bos is not None,
        "unk_token": text_of.get("unknown"),  # None: Transformers would otherwise add one of its own
    }
    for role, key in (("bos", "bos_token"), ("eos", "eos_token"), ("padding", "pad_token")):
        if role in text_of:
            config[key] = text_of[role]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer, ensure_ascii=False), encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    write_config(
        folder, len(vocab.tokens), {role: vocab.special[role] for role in ("bos", "eos") if role in vocab.special}
    )
    return folder


def write_config(folder: Path, vocab_size: int, ids: dict[str, int] | None = None) -> None:
    """A small config.json beside tokenizer files, for --vocab-only runs: Qwen 2, whose vocabulary llama.cpp's
    converter names by hash (no tokenizer.model here). No model_type: with one, Transformers 5 would read the
    files through that family's tokenizer class instead of as tokenizer.json describes. `ids`: bos/eos ids."""
    model = {
        "architectures": ["Qwen2ForCausalLM"], "vocab_size": vocab_size,
        "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1, "num_attention_heads": 2,
        "num_key_value_heads": 1, "max_position_embeddings": 128, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
        **{f"{role}_token_id": tid for role, tid in (ids or {}).items()},
    }  # fmt: skip
    (folder / "config.json").write_text(json.dumps(model), encoding="utf-8")


def _bos_template(bos: str, bos_id: int) -> dict[str, Any]:
    def special(type_id: int) -> dict[str, Any]:
        return {"SpecialToken": {"id": bos, "type_id": type_id}}

    def sequence(name: str, type_id: int) -> dict[str, Any]:
        return {"Sequence": {"id": name, "type_id": type_id}}

    return {
        "type": "TemplateProcessing",
        "single": [special(0), sequence("A", 0)],
        "pair": [special(0), sequence("A", 0), special(1), sequence("B", 1)],
        "special_tokens": {bos: {"id": bos, "ids": [bos_id], "tokens": [bos]}},
    }
