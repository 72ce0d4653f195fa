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
from tests.support.llama_pretokenizers import converter_names, loader_regexes


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


def test_a_name_we_give_in_place_of_llama_cpps_splits_text_alike_in_llama_cpp(sources: Path) -> None:
    """Where llama.cpp's converter tells two vocabularies apart by their tokens alone, our name for the chain
    must make llama.cpp's loader run the very regexes the converter's name would."""
    regexes = loader_regexes(sources)
    for name, given in LLAMA_CPP_PRE_NAMES.items():
        if given is None or given == name:
            continue
        assert regexes.get(name), f"llama.cpp's loader has no regexes for {name!r}"
        assert regexes[name] == regexes[given], f"{name!r} and {given!r} split text differently in llama.cpp"


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
