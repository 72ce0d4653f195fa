"""Every import statement of a source tree, read with ast (nothing is imported): for the architecture and
dependency tests."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Import:
    """`source` imports `target` (absolute dotted name) at `line`.

    For `from x import y`, `target` is `x.y` when `x.y` is a module of the scanned tree, else `x`.
    `at_import` is True when the statement runs while `source` itself is being imported: not inside a function,
    not under `if TYPE_CHECKING:`.
    """

    source: str
    target: str
    line: int
    at_import: bool

    @property
    def top(self) -> str:
        return self.target.split(".")[0]


def modules(root: Path, package: str) -> dict[str, Path]:
    """Dotted name → file of every module of `package` (a folder under `root`), packages by their __init__."""
    found: dict[str, Path] = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(source: str, is_package: bool, level: int, module: str | None) -> str:
    if level == 0:
        return module or ""
    base = source.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def imports(source: str, path: Path, known: set[str] | frozenset[str] = frozenset()) -> Iterator[Import]:
    """The imports of one module; `known` are the dotted module names that `from x import y` may name."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"

    def visit(node: ast.AST, at_import: bool) -> Iterator[Import]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(source, alias.name, node.lineno, at_import)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(source, is_package, node.level, node.module)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield Import(source, full if full in known else base, node.lineno, at_import)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for child in ast.iter_child_nodes(node):
                yield from visit(child, False)
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                yield from visit(child, False)
            for child in node.orelse:
                yield from visit(child, at_import)
        else:
            for child in ast.iter_child_nodes(node):
                yield from visit(child, at_import)

    yield from visit(tree, True)


def all_imports(root: Path, package: str) -> list[Import]:
    found = modules(root, package)
    known = set(found)
    return [imp for name, path in found.items() for imp in imports(name, path, known)]
