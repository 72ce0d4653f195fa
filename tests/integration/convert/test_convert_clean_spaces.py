"""Where llama.cpp names vocabularies of one pre-tokenizer chain apart by whether decoding cleans up spaces
(qwen2 / stablelm2 for Megrez, smollm / starcoder, gpt-2 / trillion), the name we write decodes as the
tokenizer's own clean_up_tokenization_spaces says: llama.cpp's detokenizer gives Transformers' text (with its
clean-up rule where the key is true)."""

from __future__ import annotations

import ctypes
import json
from pathlib import Path

import llama_cpp
import pytest
from gguf import GGUFReader

from app.convert.converter import convert
from tests.support.tiny_hf import make_tiny_bpe

pytestmark = pytest.mark.slow
pytest.importorskip("transformers")

TEXT = "Well , I 'm here ! Are you ? Yes . They 've gone , it 's late and we 're done ."


@pytest.mark.parametrize(
    ("case", "clean_up", "expected"),
    [
        ("qwen2", True, "stablelm2"),
        ("qwen2", False, "qwen2"),
        ("smollm", True, "starcoder"),
        ("smollm", False, "smollm"),
        ("gpt-2", True, "gpt-2"),
        ("gpt-2", False, "trillion"),
    ],
)
def test_llama_cpp_decodes_spaces_as_the_tokenizer_says(
    tmp_path: Path, case: str, clean_up: bool, expected: str
) -> None:
    from transformers import PreTrainedTokenizerFast

    folder = make_tiny_bpe(tmp_path / case, case, [TEXT])
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    config["clean_up_tokenization_spaces"] = clean_up
    config_path.write_text(json.dumps(config), encoding="utf-8")
    out = convert(folder, tmp_path / "model.gguf", "f32").path
    assert bytes(GGUFReader(out).fields["tokenizer.ggml.pre"].parts[-1]).decode() == expected

    hf = PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"))
    ids = hf.encode(TEXT, add_special_tokens=False)
    # Transformers 5 no longer cleans up after a BPE tokenizer, but 4 did, for which these files were written
    # (and llama.cpp's flags set): its clean-up rule, applied as it was
    want = hf.clean_up_tokenization(hf.decode(ids)) if clean_up else hf.decode(ids)
    assert (want == TEXT) != clean_up  # the text has spaces to clean up
    llm = llama_cpp.Llama(str(out), vocab_only=True, verbose=False)
    assert llm.tokenize(TEXT.encode(), add_bos=False, special=False) == ids
    assert _detokenize(llm, ids) == want


def _detokenize(llm: llama_cpp.Llama, ids: list[int]) -> str:
    """llama.cpp's own llama_detokenize (llama-cpp-python's detokenize joins pieces without its clean-up)."""
    tokens = (llama_cpp.llama_token * len(ids))(*ids)
    buf = ctypes.create_string_buffer(4096)
    n = llama_cpp.llama_detokenize(llm._model.vocab, tokens, len(ids), buf, len(buf), False, False)
    assert n >= 0
    return buf.raw[:n].decode("utf-8")
