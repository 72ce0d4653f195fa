"""Our fingerprint of a vocabulary (app/convert/vocab_fingerprints.py): the same for a tokenizer we convert and for
the GGUF llama.cpp's converter wrote of it, and changed by any token or merge. The measured entries themselves are
checked against their sources by tests/integration/convert/test_convert_measured_vocab.py."""

from __future__ import annotations

import pytest

from app.convert.vocab import LLAMA_CPP_PRE_NAMES, Vocab, written_pre
from app.convert.vocab_fingerprints import MEASURED, Measured, fingerprint

TOKENS = ["a", "b", "ab", "Ġa", "<|end|>"]
MERGES = ["a b", "Ġ a"]


def test_a_gguf_and_a_tokenizer_give_one_fingerprint() -> None:
    """Text (as a GGUF reader gives it) or bytes (as our converter holds it); padded to any vocab_size."""
    padded = [t.encode() for t in TOKENS] + [f"[PAD{i}]".encode() for i in range(len(TOKENS), 9)]
    assert fingerprint(padded, MERGES) == fingerprint(TOKENS, MERGES)


def test_any_token_or_merge_changes_the_fingerprint() -> None:
    base = fingerprint(TOKENS, MERGES)
    assert fingerprint([*TOKENS[:-1], "<|eot|>"], MERGES) != base
    assert fingerprint(TOKENS, MERGES[::-1]) != base  # merge order is rank
    assert fingerprint(TOKENS, MERGES[:-1]) != base
    assert fingerprint([*TOKENS, "Ġ a"], MERGES[:-1]) != base  # an item moved from merges to tokens
    assert fingerprint(["[PAD0]", *TOKENS[1:]], MERGES) != base  # fill only counts at the end
    assert fingerprint(["a b", *TOKENS[1:]], MERGES) != fingerprint(["a", "b", *TOKENS[2:]], MERGES)


@pytest.fixture
def measured(monkeypatch: pytest.MonkeyPatch) -> str:
    """A measured entry for TOKENS/MERGES: llama.cpp's 'olmo' for what we call a 'gpt-2' chain, with a BOS."""
    key = fingerprint(TOKENS, MERGES)
    monkeypatch.setitem(MEASURED, key, (Measured("olmo", True, "test"),))
    assert LLAMA_CPP_PRE_NAMES["olmo"] == "gpt-2"
    return key


def _vocab(pre: str) -> Vocab:
    return Vocab("gpt2", pre, [t.encode() for t in TOKENS], [1] * len(TOKENS), None)


@pytest.mark.usefixtures("measured")
def test_the_measured_name_needs_its_chain_and_its_bos() -> None:
    assert written_pre(_vocab("gpt-2"), MERGES, True) == "olmo"
    assert written_pre(_vocab("trillion"), MERGES, True) == "trillion"  # another chain's name: kept
    assert written_pre(_vocab("gpt-2"), MERGES, False) == "gpt-2"  # llama.cpp would hash the missing BOS
    assert written_pre(_vocab("gpt-2"), MERGES, None) == "gpt-2"
    assert written_pre(_vocab("gpt-2"), MERGES[:1], True) == "gpt-2"


def test_a_measurement_that_did_not_record_the_bos_ignores_it(measured: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(MEASURED, measured, (Measured("olmo", None, "test"),))
    assert {written_pre(_vocab("gpt-2"), MERGES, bos) for bos in (True, False, None)} == {"olmo"}


def test_one_vocabulary_may_carry_two_names_by_bos(measured: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """DeepSeek V3's files and JoyAI's differ only in the BOS their tokenizers add."""
    monkeypatch.setitem(MEASURED, measured, (Measured("olmo", True, "test"), Measured("jais", False, "test")))
    assert [written_pre(_vocab("gpt-2"), MERGES, bos) for bos in (True, False)] == ["olmo", "jais"]


def test_every_measured_name_stands_for_a_chain_we_read() -> None:
    for entries in MEASURED.values():
        for entry in entries:
            given = LLAMA_CPP_PRE_NAMES.get(entry.name)
            assert given is not None and given != entry.name, entry
