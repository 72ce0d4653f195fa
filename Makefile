# Two commands for a fresh machine: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
# pip's wheel cache keeps the llama-cpp-python build (llama.cpp compiles once, ~5-11 minutes).
PIP_INSTALL := $(PIP) install --disable-pip-version-check --progress-bar off

.PHONY: run test lint bench package package-check clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --upgrade pip

$(STAMP): pyproject.toml CMakeLists.txt $(wildcard native/*) | $(PY)
	$(PIP_INSTALL) -e .
	touch $@

$(TEST_STAMP): pyproject.toml CMakeLists.txt $(wildcard native/*) | $(PY)
	$(PIP_INSTALL) -e ".[test]"
	touch $@ $(STAMP)

run: $(STAMP)
	$(VENV)/bin/gguf-studio

test: $(TEST_STAMP)
	$(VENV)/bin/ruff check app tests benchmarks
	$(VENV)/bin/mypy
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check app tests benchmarks
	$(VENV)/bin/mypy

bench: $(TEST_STAMP)
	for script in benchmarks/*.py; do $(PY) $$script || exit 1; done

package: $(TEST_STAMP)
	PYTHON=$(PYTHON) bash packaging/linux/build.sh

package-check: package
	bash packaging/linux/check.sh

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
