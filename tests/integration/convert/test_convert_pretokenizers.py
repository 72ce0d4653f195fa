"""Every pre-tokenizer name our converter writes tokenizes exactly as the Hugging Face tokenizer it came from.

For each pre-tokenizer configuration real models ship (tests/support/tiny_hf.PRE_TOKENIZER_CASES), a tiny
checkpoint is converted and llama.cpp's tokenization of a varied text compared id for id with the
`tokenizers` library's. The vocabulary is trained without pre-tokenization, so its merges cross the
boundaries pre-tokenizers draw, and carries whole-word entries only ignore_merges reaches: a name whose
regex or ignore_merges differs from the file's shows up as different ids.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import llama_cpp
import pytest
from gguf import GGUFReader

from app.convert.converter import convert
from tests.support.tiny_hf import PRE_TOKENIZER_CASES, SAMPLE_TEXTS, make_tiny_bpe

pytestmark = pytest.mark.slow

TEXTS = (
    *SAMPLE_TEXTS,
    "Call 1234567 or 555-0100; pay 3.14159, 1,000,000 or 42nd; 2024-11-22T07:45:00Z.",
    "I'm sure they'll say we'd known; DON'T, it's John's CAN'T and you've 'quoted' words.",
    "naïve café, Ångström, façade, Über straße, Ærøskøbing, São Paulo, Éric ŁÓDŹ.",
    "Emoji 🦙🔥 thumbs 👍🏽 family 👨\u200d👩\u200d👧 flags 🇫🇷🇯🇵 and ✓✗★.",
    "line one\n\n\nline two\r\nthen\ttabs\t\tand    four spaces    \n   \n  trailing   ",
    "    leading spaces, a lone\ttab, and a space before newline \nend",
    "for (int i = 0; i < n; ++i) { x[i] = y[i] * 2; }  // done!!!\nif a>=b&&c!=d: return {'k': [1, 2]}",
    'Wait... what?!?! (yes) [no] {maybe} <tag/> --- *** /// path/to/file.txt "quote" \u2014 \u201cfancy\u201d \u2026',
    "中文字符测试，日本語のテキスト、カタカナ。한국어 텍스트입니다! Ελληνικά Русский текст العربية हिन्दी",
    "HelloWorld iPhone McDonald's XMLHttpRequest snake_case kebab-case CamelCase42 v2.0.1",
)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pretok")


@pytest.mark.parametrize("case", sorted(PRE_TOKENIZER_CASES))
def test_llama_cpp_tokenizes_like_hf(root: Path, case: str, caplog: pytest.LogCaptureFixture) -> None:
    from tokenizers import Tokenizer

    spec = PRE_TOKENIZER_CASES[case]
    folder = make_tiny_bpe(root / case, case, list(TEXTS))
    with caplog.at_level(logging.WARNING, logger="app.convert"):
        out = convert(folder, root / f"{case}.gguf", "f32").path
    field = GGUFReader(out).fields["tokenizer.ggml.pre"]
    assert bytes(field.parts[-1]).decode() == spec.expected
    hf = Tokenizer.from_file(str(folder / "tokenizer.json"))
    llm = llama_cpp.Llama(str(out), vocab_only=True, verbose=False)

    def same(text: str) -> bool:
        return (
            llm.tokenize(text.encode(), add_bos=False, special=False) == hf.encode(text, add_special_tokens=False).ids
        )

    warnings = [r.getMessage() for r in caplog.records if "tokenization in llama.cpp will differ" in r.getMessage()]
    if spec.differs_on is not None:  # llama.cpp's pre-tokenizer of that name: known, measured, said in the log
        assert not same(spec.differs_on)
        assert len(warnings) == 1 and repr(spec.differs_on)[1:-1] in warnings[0]
    else:
        assert warnings == []
    for text in TEXTS:
        if spec.may_differ is not None and re.search(spec.may_differ, text):
            continue
        want = hf.encode(text, add_special_tokens=False).ids
        got = llm.tokenize(text.encode(), add_bos=False, special=False)
        assert got == want, f"{case} ({spec.models}): {text!r}\n  hf:    {want}\n  llama: {got}"
