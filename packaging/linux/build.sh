#!/usr/bin/env bash
# Build the Linux bundle (PyInstaller onedir), a portable tar.gz and a .deb, into dist/.
# llama.cpp is compiled once for packaging without -march=native (GGML_NATIVE=OFF) so the bundle runs on
# other x86-64 machines, and with its RPC backend (GGML_RPC) for worker pools; that wheel is cached outside the
# checkout, in a folder named after the flags. Set CMAKE_ARGS for a GPU backend, e.g.
# CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_RPC=on -DGGML_CUDA=on" (LLAMA_BACKEND names it in the bundle: cuda).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
VERSION=$("$PYTHON" -c "import tomllib;print(tomllib.load(open('pyproject.toml','rb'))['project']['version'])")
LLAMA_VERSION=$(grep -o 'llama-cpp-python==[0-9.]*' pyproject.toml | head -1 | cut -d= -f3)
export CMAKE_ARGS=${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_RPC=on}
LLAMA_BACKEND=${LLAMA_BACKEND:-cpu}
WHEEL_CACHE=${GGUF_STUDIO_WHEEL_CACHE:-$HOME/.cache/gguf-studio/wheels}/$LLAMA_BACKEND-$(echo "$CMAKE_ARGS" | md5sum | cut -c1-8)
VENV=build/package-venv
DIST=dist
BUNDLE=$DIST/gguf-studio

step() { printf '\n== %s\n' "$*"; }

step "packaging venv"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --disable-pip-version-check -q --upgrade pip

step "llama-cpp-python $LLAMA_VERSION for packaging ($CMAKE_ARGS)"
mkdir -p "$WHEEL_CACHE"
if ! ls "$WHEEL_CACHE"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
    # --no-cache-dir: pip's wheel cache ignores CMAKE_ARGS, so it could hand back a -march=native build.
    "$VENV/bin/python" -m pip wheel --disable-pip-version-check --no-cache-dir --no-deps \
        --no-binary llama-cpp-python "llama-cpp-python==$LLAMA_VERSION" -w "$WHEEL_CACHE"
fi
"$VENV/bin/python" -m pip install --disable-pip-version-check -q --force-reinstall --no-deps \
    "$WHEEL_CACHE"/llama_cpp_python-"$LLAMA_VERSION"-*.whl
"$VENV/bin/python" -m pip install --disable-pip-version-check -q ".[package]"

step "build info"
mkdir -p build/package
"$VENV/bin/python" - "$LLAMA_BACKEND" "$CMAKE_ARGS" "$VERSION" > build/package/build_info.json <<'PY'
import datetime, json, sys
backend, cmake_args, version = sys.argv[1:4]
print(json.dumps({"version": version, "llama_backend": backend, "cmake_args": cmake_args,
                  "built": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}))
PY

step "PyInstaller bundle"
rm -rf "$BUNDLE"
(cd build && "$ROOT/$VENV/bin/pyinstaller" --noconfirm --log-level WARN --distpath "$ROOT/$DIST" \
    --workpath "$ROOT/build/pyinstaller" "$ROOT/packaging/gguf-studio.spec")
du -sh "$BUNDLE"

step "portable tar.gz"
TARBALL=$DIST/gguf-studio-$VERSION-linux-x86_64.tar.gz
tar -C "$DIST" -czf "$TARBALL" gguf-studio
ls -lh "$TARBALL"

step ".deb"
bash packaging/linux/make_deb.sh "$BUNDLE" "$VERSION" "$DIST"
