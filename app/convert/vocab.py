"""Tokenizer files -> the tokenizer.ggml.* metadata llama.cpp reads.

Two kinds: SentencePiece (tokenizer.model: pieces with scores and types) and byte-level BPE
(tokenizer.json: vocabulary, merges, and a pre-tokenizer that llama.cpp knows by name).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gguf

from app.convert.vocab_fingerprints import measurements
from app.core.errors import ConvertError

log = logging.getLogger("app.convert")

SPM_NORMAL, SPM_UNKNOWN, SPM_CONTROL, SPM_USER_DEFINED, SPM_UNUSED, SPM_BYTE = 1, 2, 3, 4, 5, 6

# llama.cpp's converter recognises a BPE pre-tokenizer by hashing the token ids of a fixed text, which only
# works for vocabularies it has seen. A pre-tokenizer is fully described by its chain of steps (split
# regexes, digit splitting, the byte-level regex) and by the BPE model's ignore_merges flag, so we map the
# chains that models of our architectures ship to the names llama.cpp implements; this also covers new
# vocabularies. The regexes are the tokenizers' published patterns, as tokenizer.json spells them.
# Every entry is proven against the `tokenizers` library by tests/integration/convert/test_convert_pretokenizers.py.
CL100K = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN2 = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
# Qwen3.5: Qwen 2's regex with combining marks kept inside words
QWEN35 = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
TEKKEN = (
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"
    r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"
    r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
O200K = (
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
SEED_CODER = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
# DeepSeek V3 (V3.x, R1, V4): numbers in threes, CJK runs, then words, where ASCII punctuation may lead a Latin one
DEEPSEEK3_NUMBERS = r"\p{N}{1,3}"
DEEPSEEK3_CJK = "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+"
DEEPSEEK3_WORDS = (
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+"
    r"|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
DEEPSEEK_NEWLINE = r"[\r\n]"
DEEPSEEK_CJK = "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+"
DEEPSEEK_LETTERS = (
    "\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af"
    "\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5"
    "\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba"
    "\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45"
    "\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe"
    "\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc"
    "\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139"
    "\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2\u2cf3"
    "\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf\ufb00-\ufb06"
    "\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a\U00010400-\U0001044f\U000104b0-\U000104d3\U000104d8-\U000104fb"
    "\U00010c80-\U00010cb2\U00010cc0-\U00010cf2\U000118a0-\U000118df\U0001e900-\U0001e943]+"
)
DEEPSEEK_PUNCT = "\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+"

Step = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PreTokenizer:
    name: str  # tokenizer.ggml.pre
    ignore_merges: bool  # what llama.cpp assumes for that name (it decides whole-word vocabulary lookups)
    # llama.cpp's clean_spaces for that name: detokenizing drops the space before punctuation, as the
    # tokenizer_config.json key clean_up_tokenization_spaces makes Transformers do
    clean_spaces: bool


def _split(pattern: str) -> Step:
    return ("split", pattern)


_BYTE_REGEX: Step = ("bytelevel-regex",)
_DIGITS: Step = ("digits", "individual")

# Chains of pre-tokenization steps (the trailing ByteLevel without a regex only maps bytes and is left out)
# -> llama.cpp names: the first whose ignore_merges matches the tokenizer's and, where the tokenizer_config.json
# says clean_up_tokenization_spaces, whose clean_spaces matches that. Covered models noted.
_PRE_TOKENIZERS: dict[tuple[Step, ...], tuple[PreTokenizer, ...]] = {
    # Llama 3.x; the same vocabulary re-saved without ignore_merges (Smaug and other fine-tunes).
    (_split(CL100K),): (PreTokenizer("llama-bpe", True, True), PreTokenizer("smaug-bpe", False, True)),
    # Qwen 1.5/2/2.5/3 and the models distilled onto them; with spaces cleaned up, what llama.cpp names Megrez's
    # and StableLM 2's vocabularies.
    (_split(QWEN2),): (PreTokenizer("qwen2", False, False), PreTokenizer("stablelm2", False, True)),
    # Qwen3.5 (dense and MoE).
    (_split(QWEN35),): (PreTokenizer("qwen35", False, False),),
    # GPT-2's own regex, built into ByteLevel or spelled out as a Split; without spaces cleaned up, what llama.cpp
    # names Trillion's and Granite Docling's vocabularies.
    (_BYTE_REGEX,): (PreTokenizer("gpt-2", False, True), PreTokenizer("trillion", False, False)),
    (_split(GPT2),): (PreTokenizer("gpt-2", False, True), PreTokenizer("trillion", False, False)),
    # SmolLM / SmolLM2 (LlamaForCausalLM): digits one by one, then GPT-2's regex; with spaces cleaned up, what
    # llama.cpp names StarCoder's, CodeShell's, Refact's, EXAONE 3's, Minerva's and Mellum 2's vocabularies.
    (_DIGITS, _BYTE_REGEX): (PreTokenizer("smollm", False, False), PreTokenizer("starcoder", False, True)),
    # Seed-Coder 8B (Llama architecture).
    (_split(SEED_CODER),): (PreTokenizer("seed-coder", False, False),),
    # DeepSeek V3, R1 and V4 (llama.cpp also names this chain hunyuan-dense, hy_v4 or joyai-llm, by vocabulary).
    (_split(DEEPSEEK3_NUMBERS), _split(DEEPSEEK3_CJK), _split(DEEPSEEK3_WORDS)): (
        PreTokenizer("deepseek-v3", False, False),
    ),
    # DeepSeek Coder 1.3B/6.7B/33B (LlamaForCausalLM).
    (
        _split(DEEPSEEK_NEWLINE),
        _split(r"\s?\p{L}+"),
        _split(r"\s?\p{P}+"),
        _split(DEEPSEEK_CJK),
        _DIGITS,
    ): (PreTokenizer("deepseek-coder", False, False),),
}
_DEEPSEEK_LLM = (
    _split(DEEPSEEK_NEWLINE),
    _split(DEEPSEEK_LETTERS),
    _split(DEEPSEEK_PUNCT),
    _split(r"\s+$"),
    _split(DEEPSEEK_CJK),
    _DIGITS,
)
# Chains real models ship whose llama.cpp counterpart cuts some texts differently. llama.cpp's converter names
# them anyway; so do we, and the job log says where the GGUF's tokenization departs (measured by
# tests/integration/convert/test_convert_pretokenizers.py, whose texts these examples come from).
_APPROXIMATE: dict[tuple[Step, ...], tuple[PreTokenizer, str]] = {
    (_split(TEKKEN),): (
        PreTokenizer("tekken", True, False),
        "Mistral's tekken pre-tokenizer (Mistral Nemo, Mistral Small 3, Ministral): llama.cpp's 'tekken' treats "
        "only ASCII letters as upper or lower case and leaves combining marks out of words, so Devanagari, "
        "Arabic with vowel marks and decomposed accents split differently (measured: ' हिन्दी', one token for "
        "the tokenizer, 13 in llama.cpp)",
    ),
    (_split(O200K),): (
        PreTokenizer("gpt-4o", False, False),
        "the o200k pre-tokenizer (Phi-4-mini): llama.cpp's 'gpt-4o' leaves combining marks out of words, so "
        "Devanagari, Arabic with vowel marks and decomposed accents split differently (measured: ' हिन्दी', one "
        "token for the tokenizer, 11 in llama.cpp)",
    ),
    _DEEPSEEK_LLM: (
        PreTokenizer("deepseek-llm", False, False),
        "DeepSeek LLM's pre-tokenizer: llama.cpp's 'deepseek-llm' keeps runs of digits together where the "
        "tokenizer splits every digit (measured: ' 1234567', 8 tokens for the tokenizer, 4 in llama.cpp)",
    ),
}
# Single regexes that match every character: a Split keeping the matches and dropping the rest
# (behavior Removed, invert) cuts such a text exactly as Isolated does; some converters write that form.
_TOTAL_REGEXES = frozenset({CL100K, QWEN2, QWEN35, GPT2, TEKKEN, O200K, SEED_CODER})

# Every name llama.cpp's converter gives a byte-level BPE vocabulary (by a hash of how its tokenizer cuts a fixed
# text), and the name we give the same pre-tokenizer chain: the same name; another name llama.cpp's loader treats
# identically, with the same split regexes and tokenizer flags (its converter tells the two apart by vocabulary
# alone, which a chain cannot); or None where we refuse the vocabulary. Checked against the pinned
# sources by tests/unit/convert/test_convert_pretokenizer_table.py. A vocabulary whose own name we measured
# (vocab_fingerprints.py) gets that name instead of its chain's, where this table pairs the two.
LLAMA_CPP_PRE_NAMES: dict[str, str | None] = {
    **{
        name: name
        for name in (
            "deepseek-coder",
            "deepseek-llm",
            "deepseek-v3",
            "gpt-2",
            "gpt-4o",
            "llama-bpe",
            "qwen2",
            "qwen35",
            "seed-coder",
            "smaug-bpe",
            "smollm",
            "stablelm2",
            "starcoder",
            "tekken",
            "trillion",
        )
    },
    **dict.fromkeys(
        ("a.x-4.0", "exaone4", "gigachat", "jais", "mellum", "modern-bert", "mpt", "olmo", "phi-2"), "gpt-2"
    ),
    "granite-docling": "trillion",  # GPT-2's regex, spaces not cleaned up (tokenizer_config.json says so)
    **dict.fromkeys(("chatglm-bpe", "dbrx"), "smaug-bpe"),
    # with ignore_merges set, as llama.cpp's glm4 assumes (smaug-bpe without); llama-bpe then differs from glm4
    # only in adding a BOS where the file does not say (tokenizer.ggml.add_bos_token). The published GLM-4-0414,
    # GLM-4.5 and GLM-4.7 vocabularies are measured (they get glm4, and their files say add_bos_token)
    "glm4": "llama-bpe",
    "command-r": "smollm",
    **dict.fromkeys(("codeshell", "exaone", "mellum2", "minerva-7b", "refact"), "starcoder"),  # spaces cleaned up
    **dict.fromkeys(("deepseek-r1-qwen", "f2llmv2", "grok-2", "hunyuan", "kormo", "solar-open"), "qwen2"),
    "megrez": "stablelm2",  # Qwen 2's regex, spaces cleaned up
    # GPT-2's regex, but llama.cpp adds a separator token or strips space before <mask> for these names; their
    # models (BERT-style encoders: JinaBert, RoBERTa) are refused by architecture before the vocabulary is read
    **dict.fromkeys(("jina-v1-en", "jina-v2-code", "jina-v2-de", "jina-v2-es", "roberta-bpe"), None),
    **dict.fromkeys(("falcon-h1", "falcon3", "jina-v5-nano", "lfm2", "midm-2.0", "pixtral"), "llama-bpe"),
    **dict.fromkeys(("kanana2", "llama4", "minimax-m2", "talkie"), "gpt-4o"),
    **dict.fromkeys(("hunyuan-dense", "hy_v4", "joyai-llm"), "deepseek-v3"),
    **dict.fromkeys(
        (
            "afmoe",
            "bailingmoe",
            "bailingmoe2",
            "bert-bge",
            "bert-bge-large",
            "bloom",
            "chameleon",
            "cohere2moe",
            "exaone-moe",
            "falcon",
            "gemma4",
            "gpt3-finnish",
            "granite-embed-multi-311m",
            "granite-embed-multi-97m",
            "jais-2",
            "jina-v2-en",
            "kimi-k2",
            "laguna",
            "minicpm5",
            "poro-chat",
            "sarvam-moe",
            "spark2_5",
            "superbpe",
            "tiny_aya",
            "ufakzeka",
            "viking",
            "youtu",
        ),
        None,
    ),
}


def names_given() -> set[str]:
    """Every tokenizer.ggml.pre value our converter writes for a byte-level BPE vocabulary."""
    exact = {choice.name for choices in _PRE_TOKENIZERS.values() for choice in choices}
    return exact | {choice.name for choice, _ in _APPROXIMATE.values()}


@dataclass(frozen=True, slots=True)
class Vocab:
    model: str  # "llama" (SentencePiece), "gpt2" (byte-level BPE) or "gemma4" (SentencePiece-style BPE)
    pre: str | None  # None: no tokenizer.ggml.pre key (the loader implies it from the model)
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
    # the chain's name (add_vocab writes llama.cpp's own instead for a vocabulary we measured)
    pre = pre_tokenizer_name(data, _load_json(folder / "tokenizer_config.json"))
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


def pre_tokenizer_name(data: dict[str, Any], config: dict[str, Any] | None = None) -> str:
    """llama.cpp's name for the tokenizer.json's pre-tokenizer (`config`: its tokenizer_config.json, whose
    clean_up_tokenization_spaces picks between names that detokenize apart)."""
    node = data.get("pre_tokenizer") or {}
    chain = _steps(node)
    choices = _PRE_TOKENIZERS.get(chain) if chain is not None else None
    if not choices and chain in _APPROXIMATE:
        choice, difference = _APPROXIMATE[chain]
        log.warning("tokenization in llama.cpp will differ from the model's own for some texts: %s", difference)
        return choice.name
    if not choices:
        raise ConvertError(
            "the tokenizer's pre-tokenizer is not one llama.cpp can reproduce for these architectures",
            hint=f"pre-tokenizer steps found: {_describe(node)}",
        )
    ignore_merges = bool((data.get("model") or {}).get("ignore_merges", False))
    matching = [choice for choice in choices if choice.ignore_merges == ignore_merges]
    if matching:
        return _by_clean_up(matching, (config or {}).get("clean_up_tokenization_spaces")).name
    log.warning(
        "pre-tokenizer %r assumes ignore_merges=%s but tokenizer.json says %s: words that are whole vocabulary "
        "entries may tokenize differently",
        choices[0].name,
        choices[0].ignore_merges,
        ignore_merges,
    )
    return choices[0].name


def _by_clean_up(choices: list[PreTokenizer], clean_up: object) -> PreTokenizer:
    """The name whose clean_spaces is the tokenizer's clean_up_tokenization_spaces; said in the log where the
    tokenizer leaves it open, or no name of this chain cleans up spaces as it says."""
    kinds = {choice.clean_spaces for choice in choices}
    if isinstance(clean_up, bool):
        chosen = next((choice for choice in choices if choice.clean_spaces == clean_up), None)
        if chosen is not None:
            return chosen
        log.warning(
            "tokenizer_config.json says clean_up_tokenization_spaces=%s, but llama.cpp's %r decodes with it %s: "
            "decoded text may differ in the spaces before punctuation",
            clean_up,
            choices[0].name,
            "on" if choices[0].clean_spaces else "off",
        )
    elif len(kinds) > 1:
        log.info(
            "tokenizer_config.json does not say clean_up_tokenization_spaces; written as %r, which decodes with it "
            "%s (llama.cpp's names for this pre-tokenizer differ in it)",
            choices[0].name,
            "on" if choices[0].clean_spaces else "off",
        )
    return choices[0]


def _steps(node: dict[str, Any]) -> tuple[Step, ...] | None:
    """The pre-tokenizer as a chain of comparable steps, or None when it is not a byte-level one we can read."""
    nodes = node.get("pretokenizers") if node.get("type") == "Sequence" else [node]
    if not isinstance(nodes, list) or not nodes:
        return None
    steps: list[Step] = []
    byte_level = False
    for child in nodes:
        kind = child.get("type") if isinstance(child, dict) else None
        if kind == "ByteLevel":
            if child.get("add_prefix_space") or byte_level:
                return None
            byte_level = True
            if child.get("use_regex", True):
                steps.append(_BYTE_REGEX)
        elif byte_level:
            return None  # steps after the byte mapping would see its remapped characters
        elif kind == "Split":
            step = _split_step(child)
            if step is None:
                return None
            steps.append(step)
        elif kind == "Digits":
            steps.append(_DIGITS if child.get("individual_digits") else ("digits", "runs"))
        else:
            return None
    if not byte_level:
        return None
    if len(steps) == 1 and steps[0][0] == "match":  # see _TOTAL_REGEXES
        steps[0] = _split(steps[0][1])
    return tuple(steps)


def _split_step(node: dict[str, Any]) -> Step | None:
    pattern = node.get("pattern") or {}
    if not isinstance(pattern, dict) or "Regex" not in pattern:
        return None
    # A literal CR or LF in the regex means what its escape means; files use both spellings.
    regex = str(pattern["Regex"]).replace("\r", "\\r").replace("\n", "\\n")
    behavior, invert = node.get("behavior"), bool(node.get("invert", False))
    if behavior == "Isolated" and not invert:
        return _split(regex)
    if behavior == "Removed" and invert and regex in _TOTAL_REGEXES:
        return ("match", regex)
    return None


def _describe(node: dict[str, Any]) -> str:
    nodes = node.get("pretokenizers") if node.get("type") == "Sequence" else [node]
    parts = []
    for child in nodes if isinstance(nodes, list) else []:
        if not isinstance(child, dict):
            continue
        pattern = child.get("pattern") or {}
        detail = pattern.get("Regex", pattern.get("String")) if isinstance(pattern, dict) else None
        if isinstance(detail, str) and len(detail) > 60:
            detail = detail[:60] + "…"
        options = {k: v for k, v in child.items() if k not in ("type", "pattern", "trim_offsets")}
        parts.append(f"{child.get('type')}({detail!r}, {options})" if detail else f"{child.get('type')}({options})")
    return " > ".join(parts) or "none"


_NAMED_SPECIALS = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
# GemmaTokenizer's defaults for the named special tokens a tokenizer_config.json leaves out
_GEMMA_SPECIALS = {
    "bos_token": "<bos>",
    "eos_token": "<eos>",
    "unk_token": "<unk>",
    "pad_token": "<pad>",
    "mask_token": "<mask>",
}
# Gemma 4's chat-format markers: user-defined, so that llama.cpp renders them for its chat parser
GEMMA4_VISIBLE = frozenset(
    {"<|channel>", "<channel|>", "<|tool_call>", "<tool_call|>", "<|tool_response>", "<tool_response|>", '<|"|>'}
)
_BYTE_TOKEN = re.compile(r"<0x[0-9A-Fa-f]{2}>")


def _gemma_special_texts(config: dict[str, Any]) -> set[str]:
    """The texts Transformers' GemmaTokenizer counts as special (all_special_tokens): the named roles, with its
    defaults for those the config leaves out, and the extra list."""
    named: dict[str, Any] = dict(_GEMMA_SPECIALS)
    named.update({k: config[k] for k in _NAMED_SPECIALS if config.get(k) is not None})
    texts = [v.get("content") if isinstance(v, dict) else v for v in named.values()]
    for key in ("additional_special_tokens", "extra_special_tokens"):
        extra = config.get(key) or []
        texts += list(extra.values()) if isinstance(extra, dict) else list(extra)
    return {str(t.get("content")) if isinstance(t, dict) else str(t) for t in texts if t is not None}


def gemma4_vocab(folder: Path) -> Vocab:
    """Gemma 4's SentencePiece-style BPE tokenizer.json (byte fallback, "\u2581" for spaces) as llama.cpp's
    converter reads it through Transformers: the model's tokens in id order (byte tokens typed BYTE, special
    ones CONTROL), then added tokens past them; every score -1000; the chat-format markers user-defined."""
    data = _load_json(folder / "tokenizer.json")
    model = data.get("model") or {}
    decoder = data.get("decoder") or {}
    if model.get("type") != "BPE" or not model.get("byte_fallback") or decoder.get("type") != "Sequence":
        raise ConvertError(
            "this Gemma 4's tokenizer.json is not the byte-fallback BPE Gemma 4 ships",
            hint="use the tokenizer files of the published Gemma 4 repository",
        )
    base: dict[str, int] = model.get("vocab") or {}
    reverse = {int(i): t for t, i in base.items()}
    n_base = len(base)
    if sorted(reverse) != list(range(n_base)):
        raise ConvertError("tokenizer.json's vocabulary has gaps in its ids")
    added = sorted((int(a["id"]), str(a["content"])) for a in data.get("added_tokens") or [] if int(a["id"]) >= n_base)
    specials = _gemma_special_texts(_load_json(folder / "tokenizer_config.json"))
    tokens: list[bytes] = []
    types: list[int] = []
    for i in range(n_base):
        text = reverse[i]
        if _BYTE_TOKEN.fullmatch(text):
            kind = gguf.TokenType.BYTE
        else:
            kind = gguf.TokenType.CONTROL if text in specials else gguf.TokenType.NORMAL
        tokens.append(text.encode("utf-8"))
        types.append(gguf.TokenType.USER_DEFINED if text in GEMMA4_VISIBLE else kind)
    for _, text in added:
        kind = gguf.TokenType.CONTROL if text in specials else gguf.TokenType.USER_DEFINED
        tokens.append(text.encode("utf-8"))
        types.append(gguf.TokenType.USER_DEFINED if text in GEMMA4_VISIBLE else kind)
    return Vocab(model="gemma4", pre=None, tokens=tokens, types=types, scores=[-1000.0] * len(tokens))


def special_roles(vocab: Vocab, roles: tuple[tuple[str, str], ...]) -> dict[str, int]:
    """Ids of the tokens a family assigns to roles (GLM: <|endoftext|>, <|user|>, ...), whatever the files say."""
    ids = {token: i for i, token in enumerate(vocab.tokens)}
    missing = sorted({text for _, text in roles if text.encode() not in ids})
    if missing:
        raise ConvertError(f"the vocabulary lacks {', '.join(missing)}, which this model family relies on")
    return {role: ids[text.encode()] for role, text in roles}


def add_vocab(w: gguf.GGUFWriter, folder: Path, vocab: Vocab, roles: dict[str, int] | None = None) -> None:
    """`roles`: special-token ids the family fixes where the tokenizer files name none."""
    special = special_vocab(folder, vocab)
    w.add_tokenizer_model(vocab.model)
    pre = written_pre(vocab, special.merges, special.add_special_token.get("bos"))
    if pre is not None:
        w.add_tokenizer_pre(pre)
    w.add_token_list(vocab.tokens)
    if vocab.scores is not None:
        w.add_token_scores(vocab.scores)
    w.add_token_types(vocab.types)
    for role, tid in (roles or {}).items():
        special.special_token_ids.setdefault(role, tid)
    special.add_to_gguf(w, quiet=True)


def special_vocab(folder: Path, vocab: Vocab) -> gguf.SpecialVocab:
    """The merges, special-token ids and add_bos/add_eos flags the tokenizer files give, as add_vocab writes them."""
    special = gguf.SpecialVocab(folder, load_merges=vocab.model in ("gpt2", "gemma4"), n_vocab=len(vocab.tokens))
    kinds = _post_processors(_load_json(folder / "tokenizer.json"))
    if "ByteLevel" in kinds and "TemplateProcessing" not in kinds:
        # A bare ByteLevel post-processor adds no BOS/EOS, whatever tokenizer_config says: the pinned
        # llama.cpp's converter writes that explicitly (the `gguf` package we depend on predates the rule).
        special.add_special_token["bos"] = False
        special.add_special_token["eos"] = False
    return special


def written_pre(vocab: Vocab, merges: list[str], add_bos: bool | None) -> str | None:
    """The tokenizer.ggml.pre add_vocab writes: llama.cpp's own name for a byte-level BPE vocabulary we measured
    (vocab_fingerprints.py; `merges` and `add_bos` as written), where llama.cpp's loader treats it exactly as the
    name the chain gets (LLAMA_CPP_PRE_NAMES); else the chain's name."""
    if vocab.model != "gpt2" or vocab.pre is None:
        return vocab.pre
    for measured in measurements(vocab.tokens, merges):
        if LLAMA_CPP_PRE_NAMES.get(measured.name) == vocab.pre and measured.add_bos in (None, add_bos):
            return measured.name
    return vocab.pre


def _post_processors(data: dict[str, Any]) -> set[str]:
    post = data.get("post_processor") or {}
    return {str(p.get("type")) for p in post.get("processors", [post]) if isinstance(p, dict)}
