"""Measure the name llama.cpp's converter gives a vocabulary, for app/convert/vocab_fingerprints.MEASURED.

    python -m tests.support.measure_vocab FOLDER | FILE.gguf

FOLDER holds a model's tokenizer.json, tokenizer_config.json and config.json (as on the Hub): the pinned
llama.cpp's convert_hf_to_gguf.py runs on it with --vocab-only. FILE.gguf is a GGUF llama.cpp's converter wrote
(a whole file, or the first part of one split by bytes): its header is read. Prints the fingerprint, the name
llama.cpp wrote, its add_bos_token and, for a folder, the name our converter writes and its chain's name. An entry
for MEASURED when llama.cpp's name is one LLAMA_CPP_PRE_NAMES gives to another chain name (add its source to
tests/integration/convert/test_convert_measured_vocab.py, which measures every entry again).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from app.convert.vocab import LLAMA_CPP_PRE_NAMES, bpe_vocab, special_vocab, written_pre
from app.convert.vocab_fingerprints import fingerprint
from app.core.errors import ConvertError
from tests.support.converter_requirements import declared_transformers
from tests.support.llama_sources import llama_cpp_sources
from tests.support.reference_convert import ReferenceJob, reference_outputs
from tests.support.vocab_ggufs import GGUFVocab, read_vocab_gguf


def _print_measurement(theirs: GGUFVocab) -> None:
    print(f"fingerprint {fingerprint(theirs.tokens, theirs.merges)}")
    print(f"llama.cpp   {theirs.pre} (add_bos_token {theirs.add_bos}, {len(theirs.tokens)} tokens)")
    given = LLAMA_CPP_PRE_NAMES.get(theirs.pre or "", "(not a name llama.cpp's converter writes today)")
    print(f"its chain   {given} (what LLAMA_CPP_PRE_NAMES gives in its place)")


def _ours(folder: Path) -> str:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        vocab = bpe_vocab(folder, config.get("vocab_size"))
    except ConvertError as exc:
        return f"(refused: {exc}; {exc.hint})"
    special = special_vocab(folder, vocab)
    return f"{written_pre(vocab, special.merges, special.add_special_token.get('bos'))} (chain: {vocab.pre})"


def main(path: Path) -> int:
    if path.is_file():
        _print_measurement(read_vocab_gguf(path))
        return 0
    sources = llama_cpp_sources()
    with tempfile.TemporaryDirectory() as cache:
        (result,) = reference_outputs(
            [ReferenceJob(path, "f32", None, ("--vocab-only",))],
            sources,
            Path(cache),
            site=declared_transformers(sources),
        )
        if result.path is None:
            print(f"llama.cpp's converter failed: {result.error}", file=sys.stderr)
            return 1
        _print_measurement(read_vocab_gguf(result.path))
    print(f"ours        {_ours(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
