"""The generated tiny models load in llama.cpp (llama-cpp-python) with the shape we asked for."""

from __future__ import annotations

from pathlib import Path

import llama_cpp
import pytest

from app.gguf import model_facts, read_model
from tests.support.tiny_gguf import LARGE_VOCAB, TinySpec, vocabulary, write_tiny_gguf

SPECS = {
    "f32": TinySpec(),
    "f16-template": TinySpec(tensor_type="F16", chat_template="{% for m in messages %}{{ m.content }}{% endfor %}"),
    "q8-gqa": TinySpec(tensor_type="Q8_0", n_head=8, n_head_kv=2),
    "q8-per-layer-heads": TinySpec(tensor_type="Q8_0", n_layer=3, n_head_kv=[2, 1, 4], n_ff=[64, 96, 128]),
    "tied": TinySpec(tied_output=True),
    "split": TinySpec(n_layer=3, split=3),
}


def test_vocabulary_is_exact_and_unique() -> None:
    tokens, scores, types = vocabulary(1000)
    assert len(tokens) == len(set(tokens)) == len(scores) == len(types) == 1000
    assert tokens[:3] == ["<unk>", "<s>", "</s>"] and tokens[3 + 10] == "<0x0A>"
    with pytest.raises(ValueError, match="at least"):
        vocabulary(100)


def test_spec_shapes_round_trip(tmp_path: Path) -> None:
    for name, spec in SPECS.items():
        facts = model_facts(read_model(write_tiny_gguf(tmp_path / f"{name}.gguf", spec)))
        assert facts.n_layer == spec.n_layer
        assert facts.vocab_size == spec.n_vocab
        assert facts.n_split == spec.split
        assert facts.has_chat_template == (spec.chat_template is not None)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SPECS))
def test_llama_cpp_loads_and_runs_it(tmp_path: Path, name: str) -> None:
    spec = SPECS[name]
    path = write_tiny_gguf(tmp_path / f"{name}.gguf", spec)
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=64, verbose=False)
    try:
        assert llm.n_vocab() == spec.n_vocab
        assert llm.tokenize(b"hello world", add_bos=True)[0] == 1
        out = llm("hello", max_tokens=2)
        assert out["usage"]["completion_tokens"] >= 1
    finally:
        llm.close()


@pytest.mark.slow
def test_large_vocabulary_model_loads(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "large.gguf", LARGE_VOCAB)
    assert path.stat().st_size < 16 * 2**20
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=64, verbose=False)
    try:
        assert llm.n_vocab() == 150_000
    finally:
        llm.close()
