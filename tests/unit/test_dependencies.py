"""Every third-party module the code imports comes from a distribution pyproject.toml declares: app/ from the
runtime dependencies, tests/ and benchmarks/ from those or the `test` extra. A module that only arrives as a
dependency of a dependency can vanish with that package's next release."""

from __future__ import annotations

import importlib.metadata
import re
import sys

import pytest

from tests.support.imports import all_imports
from tests.support.models import REPO_ROOT

FIRST_PARTY = {"app", "tests", "__future__"}


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, requirement
    return _normalize(match.group(1))


def _declared() -> tuple[set[str], dict[str, set[str]]]:
    """(runtime dependencies, extra → its requirements), by normalized distribution name."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the installed metadata says the same (the Makefile reinstalls)
        requires = importlib.metadata.requires("gguf-studio") or []
        runtime = {_requirement_name(r) for r in requires if "extra ==" not in r}
        extras: dict[str, set[str]] = {}
        for r in requires:
            extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", r)
            if extra:
                extras.setdefault(extra.group(1), set()).add(_requirement_name(r))
        return runtime, extras
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = {_requirement_name(r) for r in project["dependencies"]}
    optional = project.get("optional-dependencies", {})
    return runtime, {extra: {_requirement_name(r) for r in reqs} for extra, reqs in optional.items()}


def _undeclared(package: str, allowed: set[str]) -> list[str]:
    local = {package} | {p.stem for p in (REPO_ROOT / package).glob("*.py")}  # scripts import their neighbours
    providers = importlib.metadata.packages_distributions()
    problems: dict[str, str] = {}
    for imp in all_imports(REPO_ROOT, package):
        top = imp.top
        if not top or top in FIRST_PARTY or top in local or top in sys.stdlib_module_names or top in problems:
            continue
        dists = providers.get(top)
        where = f"{top} (imported by {imp.source}, line {imp.line})"
        if not dists:
            problems[top] = f"{where} is not installed by any distribution"
        elif not {_normalize(d) for d in dists} & allowed:
            problems[top] = f"{where} comes from undeclared {', '.join(dists)}"
    return sorted(problems.values())


def test_app_imports_only_declared_dependencies() -> None:
    runtime, _extras = _declared()
    assert _undeclared("app", runtime) == []


@pytest.mark.parametrize("package", ["tests", "benchmarks"])
def test_tests_and_benchmarks_import_only_declared_dependencies(package: str) -> None:
    runtime, extras = _declared()
    assert _undeclared(package, runtime | extras["test"]) == []


def test_an_undeclared_import_is_reported() -> None:
    """httpx2 arrives with huggingface_hub; without its own line it would be reported."""
    runtime, _extras = _declared()
    assert any(p.startswith("httpx2 ") for p in _undeclared("app", runtime - {"httpx2"}))
