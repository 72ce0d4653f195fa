"""The shapes of tokenizer.json pre-tokenizers that app.convert.vocab reads, and those it refuses.

Which name each real configuration gets, and that llama.cpp then tokenizes like Hugging Face, is proven in
tests/integration/convert/test_convert_pretokenizers.py; here: the spellings and the refusals.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from app.convert.vocab import pre_tokenizer_name
from app.core.errors import ConvertError
from tests.support.tiny_hf import PRE_TOKENIZER_CASES, QWEN2_SPLIT

BYTES = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}


def _file(*steps: dict[str, Any], ignore_merges: bool = False) -> dict[str, Any]:
    return {
        "model": {"type": "BPE", "ignore_merges": ignore_merges},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": list(steps)},
    }


def _split(regex: str, behavior: str = "Isolated", invert: bool = False) -> dict[str, Any]:
    return {"type": "Split", "pattern": {"Regex": regex}, "behavior": behavior, "invert": invert}


@pytest.mark.parametrize("case", sorted(PRE_TOKENIZER_CASES))
def test_each_real_configuration_gets_the_name_llama_cpp_gives_it(case: str) -> None:
    spec = PRE_TOKENIZER_CASES[case]
    data = {"model": {"type": "BPE", "ignore_merges": spec.ignore_merges}, "pre_tokenizer": spec.pre_tokenizer}
    assert pre_tokenizer_name(data) == spec.expected


def test_escaped_and_literal_line_breaks_are_the_same_regex() -> None:
    literal = QWEN2_SPLIT.replace("\\r", "\r").replace("\\n", "\n")
    assert literal != QWEN2_SPLIT
    assert pre_tokenizer_name(_file(_split(literal), BYTES)) == "qwen2"


def test_a_bare_byte_level_regex_without_a_sequence_is_gpt2() -> None:
    data = {"model": {"type": "BPE"}, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False}}
    assert pre_tokenizer_name(data) == "gpt-2"


def test_ignore_merges_picks_between_names_sharing_a_regex() -> None:
    cl100k = PRE_TOKENIZER_CASES["llama-bpe"].pre_tokenizer["pretokenizers"][0]
    assert pre_tokenizer_name(_file(cl100k, BYTES, ignore_merges=True)) == "llama-bpe"
    assert pre_tokenizer_name(_file(cl100k, BYTES, ignore_merges=False)) == "smaug-bpe"


@pytest.mark.parametrize(
    ("chain", "cleaned", "kept"),
    [
        ("qwen2", "stablelm2", "qwen2"),  # Megrez's and StableLM 2's vocabularies: spaces cleaned up
        ("smollm", "starcoder", "smollm"),  # StarCoder's, CodeShell's, Refact's, EXAONE 3's...
        ("gpt-2", "gpt-2", "trillion"),  # Trillion's and Granite Docling's: not cleaned up
    ],
)
def test_clean_up_tokenization_spaces_picks_between_names_sharing_a_regex(chain: str, cleaned: str, kept: str) -> None:
    data = {"model": {"type": "BPE"}, "pre_tokenizer": PRE_TOKENIZER_CASES[chain].pre_tokenizer}
    assert pre_tokenizer_name(data, {"clean_up_tokenization_spaces": True}) == cleaned
    assert pre_tokenizer_name(data, {"clean_up_tokenization_spaces": False}) == kept


def test_an_open_clean_up_keeps_the_first_name_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    data = {"model": {"type": "BPE"}, "pre_tokenizer": PRE_TOKENIZER_CASES["qwen2"].pre_tokenizer}
    with caplog.at_level(logging.INFO, logger="app.convert"):
        assert pre_tokenizer_name(data, {}) == "qwen2"
    assert "does not say clean_up_tokenization_spaces" in caplog.text


def test_a_clean_up_llama_cpp_lacks_warns_and_keeps_the_name(caplog: pytest.LogCaptureFixture) -> None:
    data = {"model": {"type": "BPE"}, "pre_tokenizer": PRE_TOKENIZER_CASES["qwen35"].pre_tokenizer}
    with caplog.at_level(logging.WARNING, logger="app.convert"):
        assert pre_tokenizer_name(data, {"clean_up_tokenization_spaces": True}) == "qwen35"
    assert "clean_up_tokenization_spaces=True" in caplog.text


def test_an_ignore_merges_llama_cpp_lacks_warns_and_keeps_the_regex(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="app.convert"):
        assert pre_tokenizer_name(_file(_split(QWEN2_SPLIT), BYTES, ignore_merges=True)) == "qwen2"
    assert "ignore_merges" in caplog.text


@pytest.mark.parametrize(
    ("steps", "shown"),
    [
        # Removed+invert keeps only the matches: the same cut as Isolated only for a regex matching everything.
        ((_split("\\s?\\p{L}+", "Removed", True), BYTES), "Removed"),
        ((_split(QWEN2_SPLIT, "MergedWithPrevious"), BYTES), "MergedWithPrevious"),
        ((_split(QWEN2_SPLIT), {**BYTES, "add_prefix_space": True}), "add_prefix_space': True"),
        ((BYTES, _split(QWEN2_SPLIT)), "Split"),  # a split after the byte mapping sees remapped characters
        ((_split(QWEN2_SPLIT),), "Split"),  # no byte-level step: not a byte-level BPE
        (({"type": "Digits", "individual_digits": False}, {**BYTES, "use_regex": True}), "Digits"),
        (({"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False},), "Metaspace"),
        ((_split("\\p{N}{1,3}"), _split(QWEN2_SPLIT), BYTES), "\\\\p{N}{1,3}"),
    ],
)
def test_unknown_chains_are_refused_naming_their_steps(steps: tuple[dict[str, Any], ...], shown: str) -> None:
    with pytest.raises(ConvertError, match=r"not one llama\.cpp can reproduce for these architectures") as err:
        pre_tokenizer_name(_file(*steps))
    assert shown in str(err.value.hint)


def test_a_missing_pre_tokenizer_is_refused() -> None:
    with pytest.raises(ConvertError, match=r"not one llama\.cpp can reproduce"):
        pre_tokenizer_name({"model": {"type": "BPE"}, "pre_tokenizer": None})
