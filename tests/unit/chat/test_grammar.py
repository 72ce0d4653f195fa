"""JSON schema -> GBNF through llama-cpp-python's converter, loaded without importing the llama_cpp package."""

from __future__ import annotations

import subprocess
import sys

import pytest

from app.chat import grammar


def test_schema_becomes_a_grammar_without_padding() -> None:
    text = grammar.json_schema_grammar({"type": "object", "properties": {"name": {"type": "string", "maxLength": 3}},
                                        "required": ["name"]})
    rules = dict(line.split(" ::= ", 1) for line in text.splitlines())
    assert "root" in rules and '"\\"name\\""' in rules["name-kv"]
    assert rules["space"] == '" "?'  # one optional blank between tokens: no whitespace to pad with
    assert "root ::=" in grammar.json_object_grammar()


@pytest.mark.parametrize(("schema", "reason"), [
    ({"type": "frobnicate"}, "Unrecognized schema"),
    ({"$ref": "#/$defs/missing"}, "Error resolving ref"),
    ([1, 2], "must be a JSON schema object"),
])
def test_schemas_the_converter_cannot_take_are_named(schema: object, reason: str) -> None:
    with pytest.raises(grammar.GrammarError, match="response_format") as info:
        grammar.json_schema_grammar(schema, "response_format")
    assert reason in str(info.value)


def test_the_converter_does_not_load_the_native_library() -> None:
    code = ("import sys; from app.chat import grammar; grammar.json_object_grammar(); "
            "print('llama_cpp' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_literal_escapes() -> None:
    assert grammar.literal('a"b\\c\n') == '"a\\"b\\\\c\\n"'
