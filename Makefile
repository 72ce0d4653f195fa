# Two commands for a fresh machine: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
PIP_INSTALL := $(PIP) install --disable-pip-version-check --progress-bar off
# llama.cpp (llama-cpp-python) is compiled once (~5-15 minutes) with its RPC backend, into a wheel folder named
# after the version and the flags. pip's own wheel cache ignores CMAKE_ARGS and could hand back a build without
# RPC; this folder never holds one. PIP_FIND_LINKS reaches pip's isolated build of native/ too, so the
# build-time requirement is the same wheel and nothing compiles twice.
LLAMA_VERSION := $(shell grep -o 'llama-cpp-python==[0-9.]*' pyproject.toml | head -1 | cut -d= -f3)
# A GPU backend: make run LLAMA_BACKEND_ARGS="-DGGML_CUDA=on" (or -DGGML_VULKAN=on, -DGGML_METAL=on).
LLAMA_BACKEND_ARGS ?=
LLAMA_CMAKE_ARGS := -DGGML_RPC=on $(LLAMA_BACKEND_ARGS)
LLAMA_FLAGS_ID := $(shell printf '%s' '$(strip $(LLAMA_CMAKE_ARGS))' | md5sum | cut -c1-8)
LLAMA_WHEELS := $(or $(GGUF_STUDIO_WHEEL_CACHE),$(HOME)/.cache/gguf-studio/wheels)/dev-$(LLAMA_VERSION)-$(LLAMA_FLAGS_ID)
LLAMA_WHEEL_STAMP := $(LLAMA_WHEELS)/.built
WITH_LLAMA_WHEEL := PIP_FIND_LINKS=$(LLAMA_WHEELS)
INSTALL_LLAMA_WHEEL := $(PIP_INSTALL) --force-reinstall --no-deps $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
CHECK_RPC := $(PY) -c "import llama_cpp, sys; sys.exit(0 if llama_cpp.llama_supports_rpc() else 1)"

.PHONY: run test lint bench package package-check clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --upgrade pip

$(LLAMA_WHEEL_STAMP): | $(PY)
	rm -rf $(LLAMA_WHEELS).tmp
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) wheel --disable-pip-version-check --progress-bar off --no-deps \
		--no-cache-dir --no-binary llama-cpp-python llama-cpp-python==$(LLAMA_VERSION) -w $(LLAMA_WHEELS).tmp
	rm -rf $(LLAMA_WHEELS) && mv $(LLAMA_WHEELS).tmp $(LLAMA_WHEELS)
	touch $@

# The wheel goes in first, in place of whatever build the venv held (pip would keep any 0.3.36 it finds).
$(STAMP): pyproject.toml CMakeLists.txt $(wildcard native/*) $(LLAMA_WHEEL_STAMP) | $(PY)
	$(INSTALL_LLAMA_WHEEL)
	$(WITH_LLAMA_WHEEL) $(PIP_INSTALL) -e .
	$(CHECK_RPC)
	touch $@

$(TEST_STAMP): pyproject.toml CMakeLists.txt $(wildcard native/*) $(LLAMA_WHEEL_STAMP) | $(PY)
	$(INSTALL_LLAMA_WHEEL)
	$(WITH_LLAMA_WHEEL) $(PIP_INSTALL) -e ".[test]"
	$(CHECK_RPC)
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
