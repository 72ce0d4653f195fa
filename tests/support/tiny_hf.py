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
