#!/usr/bin/env bash
# macOS: a signed-ready "GGUF Studio.app" with the Metal backend, and a .dmg. Needs Xcode command line tools.
# Sign afterwards with: codesign --deep --force --options runtime --sign "Developer ID Application: …" "dist/GGUF Studio.app"
set -euo pipefail
cd "$(dirname "$0")/../.."
export CMAKE_ARGS=${CMAKE_ARGS:--DGGML_METAL=on -DGGML_NATIVE=OFF -DGGML_RPC=on}
export LLAMA_BACKEND=${LLAMA_BACKEND:-metal}
VERSION=$(python3 -c "import tomllib;print(tomllib.load(open('pyproject.toml','rb'))['project']['version'])")
python3 -m venv build/package-venv
PY=build/package-venv/bin/python
$PY -m pip install --upgrade pip
$PY -m pip install --no-cache-dir --no-binary llama-cpp-python "llama-cpp-python==0.3.36"
$PY -m pip install ".[package]"
mkdir -p build/package build/icon.iconset
$PY - "$VERSION" > build/package/build_info.json <<'PY'
import datetime, json, os, sys
print(json.dumps({"version": sys.argv[1], "llama_backend": os.environ["LLAMA_BACKEND"],
                  "cmake_args": os.environ["CMAKE_ARGS"],
                  "built": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}))
PY
for size in 16 32 128 256 512; do
  $PY -c "import sys; from PySide6.QtGui import QGuiApplication, QIcon; a=QGuiApplication(sys.argv); \
QIcon('resources/icons/gguf-studio.svg').pixmap($size,$size).save('build/icon.iconset/icon_${size}x${size}.png')"
done
iconutil -c icns build/icon.iconset -o packaging/macos/gguf-studio.icns
# From build/: PyInstaller must take the installed app (with app._native), not the checkout.
(cd build && "../$PY" -m PyInstaller --noconfirm --distpath ../dist --workpath pyinstaller ../packaging/gguf-studio.spec)
"dist/GGUF Studio.app/Contents/MacOS/gguf-studio" --self-test
hdiutil create -volname "GGUF Studio" -srcfolder "dist/GGUF Studio.app" -ov -format UDZO "dist/GGUF-Studio-$VERSION.dmg"
