"""Invisible and text-reordering characters in names from outside (finding 7 of the fault-injection pass)."""

from __future__ import annotations

import pytest

from app.core.names import display_name, hidden_characters

SPOOFS = [
    "model\u202efgg.exe",  # right-to-left override: shows as "modelexe.ggf"
    "model\u202a.gguf",
    "model\u2066x\u2069.gguf",
    "mo\u200bdel.gguf",  # zero-width space
    "mo\u200ddel.gguf",  # zero-width joiner
    "mo\ufeffdel.gguf",  # BOM / zero-width no-break space
    "mo\u00addel.gguf",  # soft hyphen
    "mo\u2028del.gguf",  # line separator
    "mo\x7fdel.gguf",
]


@pytest.mark.parametrize("name", SPOOFS)
def test_hidden_characters_are_found_and_shown_escaped(name: str) -> None:
    assert hidden_characters(name)
    shown = display_name(name)
    assert not hidden_characters(shown)
    assert shown.startswith("mo") and shown.endswith((".gguf", ".exe"))
    assert "\\u" in shown


def test_the_rtl_override_is_shown_where_it_is() -> None:
    assert display_name("model\u202efgg.exe") == "model\\u202efgg.exe"
    assert hidden_characters("a\u202eb\u200bc") == ["U+202E", "U+200B"]


@pytest.mark.parametrize("name", ["Llama-3.1-8B-Q4_K_M.gguf", "模型-Q8_0.gguf", "café/model é.gguf", "emoji-🦙.gguf"])
def test_ordinary_names_are_untouched(name: str) -> None:
    assert hidden_characters(name) == []
    assert display_name(name) == name
