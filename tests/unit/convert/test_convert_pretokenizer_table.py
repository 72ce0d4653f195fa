"""Our account of every pre-tokenizer name llama.cpp's converter can write, checked against the pinned sources.

llama.cpp's converter names a byte-level BPE vocabulary by hashing how its tokenizer cuts a fixed text; ours
reads the tokenizer.json's pre-tokenizer chain. app.convert.vocab.LLAMA_CPP_PRE_NAMES says, for each name of
the pinned converter's table, which name we give that chain. A llama.cpp update that adds a name fails here
until it is accounted for.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.convert.vocab import LLAMA_CPP_PRE_NAMES, names_given
from tests.support.llama_pretokenizers import converter_names, loader_flags, loader_regexes

# Where a name we give differs from llama.cpp's in a default only: the flag's tokenizer.ggml key, when the file
# has it, overrides it (llama-bpe adds a BOS by default, glm4 does not; a GLM-4 file without add_bos_token
# gets one in llama.cpp where llama.cpp's own conversion gets none).
KEY_DEFAULTS_ONLY = {"glm4": {"add_bos"}}


@pytest.fixture(scope="module")
def sources(llama_cpp_sources: Path) -> Path:
    return llama_cpp_sources


def test_every_name_of_the_pinned_converter_is_accounted_for(sources: Path) -> None:
    names = converter_names(sources)
    assert len(names) > 50  # the table was read, not an empty match
    assert sorted(names - set(LLAMA_CPP_PRE_NAMES)) == [], "names llama.cpp's converter writes that we do not list"
    assert sorted(set(LLAMA_CPP_PRE_NAMES) - names) == [], "names we list that llama.cpp's converter never writes"


def test_the_names_we_write_are_the_converters_own(sources: Path) -> None:
    ours = names_given()
    assert ours <= converter_names(sources)
    assert ours <= set(loader_regexes(sources))  # and llama.cpp's loader runs each of them
    assert {name for name, given in LLAMA_CPP_PRE_NAMES.items() if given == name} == ours


def test_a_name_we_give_in_place_of_llama_cpps_loads_alike_in_llama_cpp(sources: Path) -> None:
    """Where llama.cpp's converter tells two vocabularies apart by their tokens alone, our name for the chain
    must make llama.cpp's loader run the very regexes the converter's name would, with the same tokenizer flags
    (clean_spaces, ignore_merges, add_bos, add_sep, escape_whitespaces...), the same pre-type where other code
    tests it, and the same special-token rules keyed on the name."""
    regexes, flags = loader_regexes(sources, run_only=True), loader_flags(sources)
    assert flags["megrez"]["clean_spaces"] != flags["qwen2"]["clean_spaces"]  # the flags were read
    for name, given in LLAMA_CPP_PRE_NAMES.items():
        if given is None or given == name:
            continue
        assert regexes.get(name), f"llama.cpp's loader has no regexes for {name!r}"
        assert regexes[name] == regexes[given], f"{name!r} and {given!r} split text differently in llama.cpp"
        differ = {k for k in flags[name].keys() | flags[given].keys() if flags[name].get(k) != flags[given].get(k)}
        assert differ <= KEY_DEFAULTS_ONLY.get(name, set()), f"{name!r} and {given!r} differ in llama.cpp: {differ}"


def test_the_flags_we_assume_for_a_name_are_llama_cpps(sources: Path) -> None:
    """ignore_merges and clean_spaces pick between the names of one chain: they must be what the loader sets."""
    from app.convert import vocab

    flags = loader_flags(sources)
    choices = [c for cs in vocab._PRE_TOKENIZERS.values() for c in cs] + [c for c, _ in vocab._APPROXIMATE.values()]
    for choice in choices:
        assert flags[choice.name]["ignore_merges"] == str(choice.ignore_merges).lower(), choice.name
        assert flags[choice.name]["clean_spaces"] == str(choice.clean_spaces).lower(), choice.name


def test_each_chain_we_read_is_llama_cpps_regex_verbatim(sources: Path) -> None:
    """A single-Split chain's regex is the first regex llama.cpp's loader runs for its name (C++-escaped)."""
    from app.convert import vocab

    regexes = loader_regexes(sources)
    for name, regex in (
        ("llama-bpe", vocab.CL100K),
        ("qwen2", vocab.QWEN2),
        ("qwen35", vocab.QWEN35),
        ("gpt-4o", vocab.O200K),
        ("seed-coder", vocab.SEED_CODER),
    ):
        assert _unescape(regexes[name][0]) == regex, name


def _unescape(cpp: str) -> str:
    return cpp.replace("\\\\", "\0").replace('\\"', '"').replace("\0", "\\")


def test_measured_vocabularies_get_names_of_the_converters_own(sources: Path) -> None:
    """The names app.convert.vocab_fingerprints gives particular vocabularies (by measurement) are llama.cpp's
    converter's, and stand in LLAMA_CPP_PRE_NAMES for a chain we read."""
    from app.convert.vocab_fingerprints import MEASURED

    for entries in MEASURED.values():
        for measured in entries:
            assert measured.name in converter_names(sources)
            assert LLAMA_CPP_PRE_NAMES[measured.name] not in (None, measured.name)


def test_how_many_names_we_write_as_llama_cpp_does() -> None:
    """Of llama.cpp's names: written for the chain itself (same); written for the vocabularies we measured
    (measured); a name the loader treats alike written in their place (hash-only); refused. A change here
    is progress or a regression: update the counts, and the closing note that quotes them."""
    from app.convert.vocab_fingerprints import MEASURED

    measured = {m.name for entries in MEASURED.values() for m in entries}
    counts = {"same": 0, "measured": 0, "hash-only": 0, "refused": 0}
    for name, given in LLAMA_CPP_PRE_NAMES.items():
        kind = "refused" if given is None else "same" if given == name else "measured" if name in measured else None
        counts[kind or "hash-only"] += 1
    assert counts == {"same": 15, "measured": 8, "hash-only": 31, "refused": 32}
