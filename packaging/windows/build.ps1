# Windows: bundle with PyInstaller, then the Inno Setup installer. Run from a Developer PowerShell with
# Python 3.11, CMake, Visual Studio Build Tools and Inno Setup 6 (iscc on PATH).
# GPU build: $env:CMAKE_ARGS = "-DGGML_CUDA=on"; $env:LLAMA_BACKEND = "cuda"
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..\..")
if (-not $env:CMAKE_ARGS) { $env:CMAKE_ARGS = "-DGGML_NATIVE=OFF -DGGML_RPC=on" }
if (-not $env:LLAMA_BACKEND) { $env:LLAMA_BACKEND = "cpu" }
$version = python -c "import tomllib;print(tomllib.load(open('pyproject.toml','rb'))['project']['version'])"
python -m venv build\package-venv
$py = "build\package-venv\Scripts\python.exe"
& $py -m pip install --upgrade pip
& $py -m pip install --no-cache-dir --no-binary llama-cpp-python "llama-cpp-python==0.3.36"
& $py -m pip install ".[package]"
New-Item -ItemType Directory -Force build\package | Out-Null
& $py -c "import datetime,json,os;print(json.dumps({'version':'$version','llama_backend':os.environ['LLAMA_BACKEND'],'cmake_args':os.environ['CMAKE_ARGS'],'built':datetime.datetime.utcnow().strftime('%Y-%m-%dT%H:%M:%SZ')}))" | Out-File -Encoding ascii build\package\build_info.json
Push-Location build  # PyInstaller must take the installed app (with app._native), not the checkout
& "..\$py" -m PyInstaller --noconfirm --distpath ..\dist --workpath pyinstaller ..\packaging\gguf-studio.spec
Pop-Location
& dist\gguf-studio\gguf-studio.exe --self-test
if ($LASTEXITCODE -ne 0) { throw "self-test failed" }
& $py -c "from PySide6.QtGui import QGuiApplication, QIcon; import sys; a=QGuiApplication(sys.argv); QIcon('resources/icons/gguf-studio.svg').pixmap(256,256).save('packaging/windows/gguf-studio.ico')"
iscc /DAppVersion=$version packaging\windows\gguf-studio.iss
