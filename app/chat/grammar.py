"""GBNF grammars for llama.cpp's grammar sampler: JSON output from a JSON schema, and literal text.

JSON schema -> GBNF is llama-cpp-python's own converter (llama_cpp/llama_grammar.py), the Python twin of
llama.cpp's. It is loaded from its file rather than imported: importing the llama_cpp package loads the
native library into the calling process, and the API server keeps llama.cpp in its engine children.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from app.core.errors import TemplateError

JSON_OBJECT_SCHEMA: dict[str, Any] = {"type": "object"}
_MODULE = "app_llama_grammar"  # our name for the file's module, apart from the llama_cpp package


class GrammarError(TemplateError):
    """A schema or tool definition that cannot become a grammar; the message names what and why."""


@cache
def _converter_module() -> ModuleType:
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        raise GrammarError("llama-cpp-python is not installed, so JSON output cannot be enforced")
    path = Path(next(iter(spec.submodule_search_locations))) / "llama_grammar.py"
    if not path.is_file():  # a frozen bundle keeps the module in its archive: the ordinary import
        import llama_cpp.llama_grammar

        return llama_cpp.llama_grammar
    file_spec = importlib.util.spec_from_file_location(_MODULE, path)
    if file_spec is None or file_spec.loader is None:
        raise GrammarError(f"The grammar converter {path} cannot be loaded")
    module = importlib.util.module_from_spec(file_spec)
    sys.modules[_MODULE] = module  # its dataclass-like helpers look themselves up by module name
    file_spec.loader.exec_module(module)
    return module


class _Rules:
    """One GBNF grammar assembled from several schemas (each gets its own rule name)."""

    def __init__(self) -> None:
        module = _converter_module()
        self._converter = module.SchemaConverter(prop_order={}, allow_fetch=False, dotall=False,
                                                 raw_pattern=False)

    def schema_rule(self, schema: Any, name: str, where: str) -> str:
        """Adds the rules of `schema` under `name`; returns the rule name to reference."""
        if not isinstance(schema, dict):
            raise GrammarError(f"{where} must be a JSON schema object, not {type(schema).__name__}")
        try:
            resolved = self._converter.resolve_refs(json.loads(json.dumps(schema)), "schema")
            rule: str = self._converter.visit(resolved, name)
        except RecursionError:
            raise GrammarError(f"{where} nests too deeply to become a grammar") from None
        except (AssertionError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            reason = str(exc) or type(exc).__name__
            raise GrammarError(f"{where} cannot be enforced as a grammar: {reason}") from None
        return rule

    def add(self, name: str, rule: str) -> str:
        return str(self._converter._add_rule(name, rule))

    def text(self) -> str:
        return str(self._converter.format_grammar())


def literal(text: str) -> str:
    """A GBNF string literal for `text`."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    escaped = escaped.replace("\t", "\\t")
    return f'"{escaped}"'


def json_schema_grammar(schema: Any, where: str = "the JSON schema") -> str:
    """A grammar whose sentences are the JSON documents `schema` allows (a single space at most between
    tokens, so a model cannot pad its answer with whitespace)."""
    rules = _Rules()
    rules.schema_rule(schema, "", where)
    return rules.text()


def json_object_grammar() -> str:
    return json_schema_grammar(JSON_OBJECT_SCHEMA)


def new_rules() -> _Rules:
    return _Rules()


__all__ = ["GrammarError", "json_object_grammar", "json_schema_grammar", "literal", "new_rules"]
