"""The one verdict type and its one table of words."""

from __future__ import annotations

from app.estimate import VERDICT_WORDS, FileVerdict, QuantFile, VerdictKind, verdict_words


def test_the_table_covers_every_verdict_with_distinct_words() -> None:
    assert set(VERDICT_WORDS) == set(VerdictKind)
    assert len(set(VERDICT_WORDS.values())) == len(VerdictKind)
    assert all(words and words[0].isupper() for words in VERDICT_WORDS.values())


def test_words_name_the_layer_split_when_known() -> None:
    assert verdict_words(VerdictKind.PARTIAL, 12, 19) == "Fits in VRAM + RAM (12 of 19 layers on the GPU)"
    assert verdict_words(VerdictKind.PARTIAL) == VERDICT_WORDS[VerdictKind.PARTIAL]
    for kind in (VerdictKind.FULL_GPU, VerdictKind.CPU_ONLY, VerdictKind.WONT_FIT):
        assert verdict_words(kind, 3, 19) == VERDICT_WORDS[kind]


def test_a_size_only_verdict_uses_the_same_words() -> None:
    for kind in VerdictKind:
        verdict = FileVerdict(QuantFile("Q4_K_M", 1), kind, 0, 0, 1, 0, False, None)
        assert verdict.label == VERDICT_WORDS[kind]
