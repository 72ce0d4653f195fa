"""Tiny Hugging Face checkpoints for every architecture we convert: random weights, real tokenizers.

Tokenizers are trained here on the project's calibration text with the `tokenizers` and `sentencepiece`
libraries; weights come from transformers' own model classes (test-only dependency), saved as safetensors.
Column counts are multiples of 256 so K- and IQ-quants apply to every matrix.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.resources import resource

LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SAMPLE_TEXTS = (
    "Hello world",
    "The lighthouse keeper wrote in her log at 7:45, 3.14 and 12345.",
    "  two  spaces\nand a new line\n\n\tindented",
    "I've been told he's there; 'RE you sure? We'Ve a'lL",
    "Сегодня хорошая погода. 今日は晴れです。我想在花园里工作。 🦙",
    "def mean(values: list[float]) -> float:\n    return sum(values) / len(values)",
)


@dataclass(frozen=True)
class TinySpec:
    name: str
    model_type: str  # transformers config model_type
    tokenizer: str  # "llama3-bpe", "qwen2-bpe", "llama-spm", "gemma-spm", "phi3-spm"
    config: dict[str, Any] = field(default_factory=dict)


BASE = {
    "hidden_size": 256,
    "intermediate_size": 512,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 512,
    "tie_word_embeddings": False,
}

SPECS: dict[str, TinySpec] = {
    s.name: s
    for s in (
        TinySpec("llama3", "llama", "llama3-bpe", {"rms_norm_eps": 1e-5, "rope_theta": 500000.0}),
        TinySpec("llama2", "llama", "llama-spm", {"rms_norm_eps": 1e-5, "rope_theta": 10000.0}),
        TinySpec(
            "llama31",  # Llama 3.1 long-context rope scaling, which llama.cpp takes as a rope_freqs tensor
            "llama",
            "llama3-bpe",
            {
                "rms_norm_eps": 1e-5,
                "rope_theta": 500000.0,
                "rope_scaling": {
                    "rope_type": "llama3",
                    "factor": 8.0,
                    "low_freq_factor": 1.0,
                    "high_freq_factor": 4.0,
                    "original_max_position_embeddings": 64,
                },
            },
        ),
        TinySpec("mistral", "mistral", "llama-spm", {"sliding_window": None, "head_dim": 64}),
        TinySpec("qwen2", "qwen2", "qwen2-bpe", {"tie_word_embeddings": True}),
        TinySpec("qwen3", "qwen3", "qwen2-bpe", {"head_dim": 64}),
        TinySpec(
            "gemma2",
            "gemma2",
            "gemma-spm",
            {
                "head_dim": 64,
                "query_pre_attn_scalar": 64,
                "sliding_window": 128,
                "attn_logit_softcapping": 50.0,
                "final_logit_softcapping": 30.0,
                "hidden_activation": "gelu_pytorch_tanh",
                "tie_word_embeddings": True,
            },
        ),
        TinySpec(
            "gemma3",
            "gemma3_text",
            "gemma-spm",
            {
                "head_dim": 64,
                "query_pre_attn_scalar": 64,
                "sliding_window": 128,
                "rope_theta": 1000000.0,
                "rope_local_base_freq": 10000.0,
                "hidden_activation": "gelu_pytorch_tanh",
                "tie_word_embeddings": True,
            },
        ),
        TinySpec(
            "phi3",
            "phi3",
            "phi3-spm",
            {"num_key_value_heads": 4, "original_max_position_embeddings": 512, "rope_theta": 10000.0},
        ),
    )
}


def corpus() -> list[str]:
    return resource("calibration", "default.txt").read_text(encoding="utf-8").splitlines()


def make_tiny_hf(
    folder: Path, name: str, *, dtype: str = "float32", seed: int = 0, sizes: dict[str, Any] | None = None
) -> Path:
    """Write config.json, model.safetensors and tokenizer files for architecture `name` into folder.
    `sizes` overrides dimensions (benchmarks build larger models the same way)."""
    spec = SPECS[name]
    folder.mkdir(parents=True, exist_ok=True)
    special = _write_tokenizer(folder, spec.tokenizer)
    _write_model(folder, spec, special, dtype, seed, sizes or {})
    return folder


def _write_tokenizer(folder: Path, kind: str) -> dict[str, int]:
    if kind.endswith("-bpe"):
        return _bpe_tokenizer(folder, kind)
    return _spm_tokenizer(folder, kind)


def _bpe_tokenizer(folder: Path, kind: str) -> dict[str, int]:
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    llama = kind == "llama3-bpe"
    specials = (
        ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|user|>", "<|assistant|>", "<|end|>"]
        if llama
        else ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|user|>", "<|assistant|>", "<|end|>"]
    )
    tok = Tokenizer(models.BPE(ignore_merges=llama))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(LLAMA3_SPLIT if llama else QWEN2_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus(), trainer=trainer)
    ids = {t: tok.token_to_id(t) or 0 for t in specials}
    if llama:
        bos = specials[0]
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, ids[bos])]
        )
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.save(str(folder / "tokenizer.json"))
    eos = specials[2] if llama else specials[0]
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": specials[0] if llama else None,
        "eos_token": eos,
        "chat_template": CHAT_TEMPLATE,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    return {"bos": ids[specials[0]], "eos": ids[eos], "vocab": tok.get_vocab_size()}


# llama.cpp looks some of these up by name (Phi-3's <|endoftext|>), as in the real vocabularies.
_USER_SYMBOLS = {
    "gemma-spm": ["<start_of_turn>", "<end_of_turn>"],
    "phi3-spm": ["<|endoftext|>", "<|user|>", "<|assistant|>", "<|end|>"],
}


def _spm_tokenizer(folder: Path, kind: str) -> dict[str, int]:
    import sentencepiece as spm

    gemma = kind == "gemma-spm"
    ids = {"pad": 0, "eos": 1, "bos": 2, "unk": 3} if gemma else {"unk": 0, "bos": 1, "eos": 2, "pad": -1}
    names = ("<pad>", "<eos>", "<bos>", "<unk>") if gemma else ("<pad>", "</s>", "<s>", "<unk>")
    pieces: dict[str, Any] = dict(zip(("pad_piece", "eos_piece", "bos_piece", "unk_piece"), names, strict=True))
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus()),
        model_writer=model,
        vocab_size=512,
        model_type="bpe",
        byte_fallback=True,
        character_coverage=1.0,
        split_digits=True,
        add_dummy_prefix=not gemma,
        remove_extra_whitespaces=False,
        normalization_rule_name="identity",
        unk_id=ids["unk"],
        bos_id=ids["bos"],
        eos_id=ids["eos"],
        pad_id=ids["pad"],
        user_defined_symbols=_USER_SYMBOLS.get(kind, []),
        **pieces,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    (folder / "tokenizer.model").write_bytes(model.getvalue())
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    config: dict[str, Any] = {
        "tokenizer_class": "GemmaTokenizer" if gemma else "LlamaTokenizer",
        "bos_token": "<bos>" if gemma else "<s>",
        "eos_token": "<eos>" if gemma else "</s>",
        "unk_token": "<unk>",
        "add_bos_token": True,
        "add_eos_token": False,
        "legacy": True,
        "chat_template": CHAT_TEMPLATE,
    }
    if gemma:
        config["pad_token"] = "<pad>"
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    return {"bos": ids["bos"], "eos": ids["eos"], "vocab": sp.vocab_size()}


def _write_model(
    folder: Path, spec: TinySpec, special: dict[str, int], dtype: str, seed: int, sizes: dict[str, Any]
) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    kwargs = {**BASE, **spec.config, **sizes, "vocab_size": special["vocab"]}
    kwargs.update(bos_token_id=special["bos"], eos_token_id=special["eos"], pad_token_id=None)
    config = AutoConfig.for_model(spec.model_type, **kwargs)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    gemma = spec.model_type.startswith("gemma")
    with torch.no_grad():
        for pname, param in model.named_parameters():
            if pname.endswith("norm.weight"):
                # Gemma norms scale by (1 + w): keep both families near 1 but not exactly 1.
                param.copy_((0.0 if gemma else 1.0) + 0.1 * torch.randn_like(param))
            else:
                param.copy_(0.08 * torch.randn_like(param))
    model = model.to(getattr(torch, dtype))
    model.save_pretrained(folder, safe_serialization=True)


# --- Byte-level BPE tokenizers with the pre-tokenizers real models ship (tests of app.convert.vocab) ---------

_ISOLATED = {"behavior": "Isolated", "invert": False}
_BYTES = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}
_DIGITS = {"type": "Digits", "individual_digits": True}


def _split(regex: str, **how: Any) -> dict[str, Any]:
    return {"type": "Split", "pattern": {"Regex": regex}, **(how or _ISOLATED)}


# DeepSeek LLM's letter and punctuation classes, as its tokenizer.json spells them (JSON string bodies).
_DEEPSEEK_LETTERS = json.loads(
    '"'
    r"\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af"
    r"\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5"
    r"\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba"
    r"\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45"
    r"\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe\u1fc2-"
    r"\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc\u2102\u2107"
    r"\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139\u213c-\u213f"
    r"\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2\u2cf3\ua640-\ua66d"
    r"\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf\ufb00-\ufb06\ufb13-\ufb17"
    r"\uff21-\uff3a\uff41-\uff5a\ud801\udc00-\ud801\udc4f\ud801\udcb0-\ud801\udcd3\ud801\udcd8-\ud801"
    r"\udcfb\ud803\udc80-\ud803\udcb2\ud803\udcc0-\ud803\udcf2\ud806\udca0-\ud806\udcdf\ud83a\udd00-"
    r"\ud83a\udd43]+"
    '"'
)
_DEEPSEEK_PUNCT = json.loads('"' + r"\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+" + '"')
_DEEPSEEK_CJK = json.loads('"' + r"[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+" + '"')
_CL100K = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_O200K = (
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_TEKKEN = (
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"
    r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"
    r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


@dataclass(frozen=True)
class PreTokenizerCase:
    """A tokenizer.json pre-tokenizer as a family of real models ships it, and the llama.cpp name it needs."""

    expected: str | None  # tokenizer.ggml.pre our converter must write; None: it must refuse (llama.cpp differs)
    models: str  # the real models that ship it
    architecture: str  # a SPECS entry whose model config the tiny checkpoint uses
    pre_tokenizer: dict[str, Any]
    ignore_merges: bool


def _chain(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Sequence", "pretokenizers": list(steps)}


PRE_TOKENIZER_CASES: dict[str, PreTokenizerCase] = {
    "llama-bpe": PreTokenizerCase(
        "llama-bpe", "Llama 3.x", "llama3", _chain(_split(_CL100K), _BYTES), ignore_merges=True
    ),
    "smaug-bpe": PreTokenizerCase(
        "smaug-bpe",
        "Llama 3 tokenizers saved without ignore_merges (Smaug)",
        "llama3",
        _chain(_split(_CL100K), _BYTES),
        ignore_merges=False,
    ),
    "cl100k-inverted": PreTokenizerCase(
        "llama-bpe",
        "converters writing Split(Removed, invert)",
        "llama3",
        _chain(_split(_CL100K, behavior="Removed", invert=True), _BYTES),
        ignore_merges=True,
    ),
    "qwen2": PreTokenizerCase("qwen2", "Qwen 1.5-3", "qwen2", _chain(_split(QWEN2_SPLIT), _BYTES), ignore_merges=False),
    "gpt-2": PreTokenizerCase(
        "gpt-2",
        "GPT-2 style",
        "llama3",
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        ignore_merges=False,
    ),
    "tekken": PreTokenizerCase(
        None,
        "Mistral Nemo, Mistral Small 3, Ministral",
        "mistral",
        _chain(_split(_TEKKEN), _BYTES),
        ignore_merges=True,
    ),
    "gpt-4o": PreTokenizerCase(None, "Phi-4-mini", "phi3", _chain(_split(_O200K), _BYTES), ignore_merges=False),
    "smollm": PreTokenizerCase(
        "smollm",
        "SmolLM, SmolLM2",
        "llama3",
        _chain(_DIGITS, {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}),
        ignore_merges=False,
    ),
    "seed-coder": PreTokenizerCase(
        "seed-coder",
        "Seed-Coder",
        "llama3",
        # The published file writes CR and LF as literal characters inside the classes.
        _chain(
            _split(
                "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\r\n]+"
                "|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"
            ),
            _BYTES,
        ),
        ignore_merges=False,
    ),
    "deepseek-llm": PreTokenizerCase(
        None,
        "DeepSeek LLM 7B/67B",
        "llama3",
        _chain(
            _split("[\r\n]"),
            _split(_DEEPSEEK_LETTERS),
            _split(_DEEPSEEK_PUNCT),
            _split("\\s+$"),
            _split(_DEEPSEEK_CJK),
            _DIGITS,
            _BYTES,
        ),
        ignore_merges=False,
    ),
    "deepseek-coder": PreTokenizerCase(
        "deepseek-coder",
        "DeepSeek Coder 1.3B-33B",
        "llama3",
        _chain(
            _split("[\r\n]"),
            _split("\\s?\\p{L}+"),
            _split("\\s?\\p{P}+"),
            _split(_DEEPSEEK_CJK),
            _DIGITS,
            _BYTES,
        ),
        ignore_merges=False,
    ),
}


def make_tiny_bpe(folder: Path, case: str, training: list[str], *, seed: int = 0) -> Path:
    """A checkpoint whose tokenizer.json carries PRE_TOKENIZER_CASES[case]'s pre-tokenizer.

    The vocabulary is trained on `training` WITHOUT any pre-tokenization, so merges span the boundaries
    pre-tokenizers draw (digits, spaces, punctuation, scripts): a converter that picks a pre-tokenizer
    cutting text differently produces different ids. Then the whole pre-tokens of `training` (as the
    case's pre-tokenizer cuts them) join the vocabulary: every other one through merges appended after
    the trained ones, so it comes out as one token only where the text is cut exactly there; the rest
    without merges, reachable only by a tokenizer with ignore_merges, so that flag is tested too."""
    spec = PRE_TOKENIZER_CASES[case]
    folder.mkdir(parents=True, exist_ok=True)
    special = _trained_bpe(folder, spec, training)
    arch = SPECS[spec.architecture]
    _write_model(folder, TinySpec(case, arch.model_type, "bpe", arch.config), special, "float32", seed, {})
    return folder


def _trained_bpe(folder: Path, spec: PreTokenizerCase, training: list[str]) -> dict[str, int]:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    specials = ["<|endoftext|>", "<|user|>", "<|assistant|>", "<|end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1024,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        max_token_length=12,
        show_progress=False,
    )
    tok.train_from_iterator(corpus() + training, trainer=trainer)
    data = json.loads(tok.to_str())
    data["pre_tokenizer"] = spec.pre_tokenizer
    data["model"]["ignore_merges"] = spec.ignore_merges
    real = Tokenizer.from_str(json.dumps(data))
    vocab: dict[str, int] = data["model"]["vocab"]
    merges: list[Any] = data["model"]["merges"]
    pieces = [p for text in training for p, _ in real.pre_tokenizer.pre_tokenize_str(text)]
    for n, piece in enumerate(dict.fromkeys(p for p in pieces if len(p) >= 3 and p not in vocab)):
        if n % 2:  # reachable only through ignore_merges
            vocab[piece] = len(vocab)
            continue
        parts = [t.value for t in real.model.tokenize(piece)]
        left = parts[0]
        for right in parts[1:]:
            merges.append([left, right])
            left += right
            vocab.setdefault(left, len(vocab))
    (folder / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": None, "eos_token": specials[0]}
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    eos = vocab[specials[0]]
    return {"bos": eos, "eos": eos, "vocab": len(vocab)}
