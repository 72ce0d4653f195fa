"""Measure the name llama.cpp's converter gives a vocabulary, for app/convert/vocab_fingerprints.MEASURED.

    python -m tests.support.measure_vocab FOLDER

FOLDER holds a model's tokenizer.json, tokenizer_config.json and config.json (as on the Hub). Runs the pinned
llama.cpp's convert_hf_to_gguf.py with --vocab-only on it and prints our fingerprint of the vocabulary, the name
llama.cpp wrote and the name its pre-tokenizer chain gets from us: an entry for MEASURED when the two names
differ (add a test that measures it again, as tests/integration/convert/test_convert_measured_vocab.py does).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from app.convert.vocab import pre_tokenizer_name
from app.convert.vocab_fingerprints import fingerprint
from app.core.errors import ConvertError
from tests.support.llama_sources import llama_cpp_sources
from tests.support.reference_convert import ReferenceJob, read_gguf, reference_outputs


def main(folder: Path) -> int:
    tokenizer = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as cache:
        (result,) = reference_outputs(
            [ReferenceJob(folder, "f32", None, ("--vocab-only",))], llama_cpp_sources(), Path(cache)
        )
        if result.path is None:
            print(f"llama.cpp's converter failed: {result.error}", file=sys.stderr)
            return 1
        theirs = read_gguf(result.path).metadata.get("tokenizer.ggml.pre")
    print(f"fingerprint {fingerprint(tokenizer, config)}")
    print(f"llama.cpp   {theirs}")
    try:
        ours = pre_tokenizer_name(tokenizer, config)
    except ConvertError as exc:
        ours = f"(refused: {exc.hint})"
    print(f"our chain   {ours}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
