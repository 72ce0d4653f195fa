"""ggml's backend registry through ctypes (llama-cpp-python binds only llama.h): the devices llama.cpp
sees, registering RPC workers as devices, and running this machine as an RPC worker.

Everything here is reached through the "RPC" backend's registry entry (ggml_backend_reg_by_name and
ggml_backend_reg_get_proc_address), so it needs nothing but the libggml that llama.cpp already loaded.
Call `register_workers` only with endpoints that `rpc_probe.probe` accepted: ggml aborts the process when
a worker cannot be reached.
"""

from __future__ import annotations

import ctypes
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.core.errors import RpcError

log = logging.getLogger("app.remote")

DEVICE_TYPES = ("CPU", "GPU", "IGPU", "ACCEL", "META")
_ADD_SERVER = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_char_p)
_START_SERVER = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_size_t,
                                 ctypes.POINTER(ctypes.c_void_p))


@dataclass(frozen=True, slots=True)
class Device:
    name: str  # "CPU", "CUDA0", "RPC0"...
    description: str  # an RPC device's is its worker's host:port
    kind: str  # one of DEVICE_TYPES
    free: int
    total: int


def rpc_supported() -> bool:
    from app.process.llama_lib import low_level

    return bool(low_level().llama_supports_rpc())


@functools.cache
def _ggml() -> Any:
    from app.process.llama_lib import low_level

    low_level()  # llama.cpp (and with it libggml) loaded first, from the package's own folder
    from llama_cpp import _ctypes_extensions, llama_cpp

    lib = _ctypes_extensions.load_shared_library("ggml", llama_cpp._base_path)
    c_void_p, c_char_p, c_size_t = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t
    for name, restype, argtypes in (
        ("ggml_backend_reg_by_name", c_void_p, [c_char_p]),
        ("ggml_backend_reg_get_proc_address", c_void_p, [c_void_p, c_char_p]),
        ("ggml_backend_register", None, [c_void_p]),
        ("ggml_backend_dev_count", c_size_t, []),
        ("ggml_backend_dev_get", c_void_p, [c_size_t]),
        ("ggml_backend_dev_by_name", c_void_p, [c_char_p]),
        ("ggml_backend_dev_name", c_char_p, [c_void_p]),
        ("ggml_backend_dev_description", c_char_p, [c_void_p]),
        ("ggml_backend_dev_type", ctypes.c_int, [c_void_p]),
        ("ggml_backend_dev_memory", None, [c_void_p, ctypes.POINTER(c_size_t), ctypes.POINTER(c_size_t)]),
    ):
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes
    return lib


def _rpc_function(name: str, prototype: Any) -> Any:
    if not rpc_supported():
        raise RpcError("This build of llama.cpp has no RPC backend",
                       hint="install the app's llama.cpp built with GGML_RPC (make run / make test do)")
    lib = _ggml()
    reg = lib.ggml_backend_reg_by_name(b"RPC")
    address = lib.ggml_backend_reg_get_proc_address(reg, name.encode()) if reg else None
    if not address:
        raise RpcError(f"llama.cpp's RPC backend has no {name}", hint="the installed llama.cpp is incomplete")
    return prototype(address)


def devices() -> list[Device]:
    """Every device llama.cpp can use now, in its order (workers registered here included)."""
    lib = _ggml()
    out = []
    for i in range(lib.ggml_backend_dev_count()):
        dev = lib.ggml_backend_dev_get(i)
        free, total = ctypes.c_size_t(0), ctypes.c_size_t(0)
        lib.ggml_backend_dev_memory(dev, ctypes.byref(free), ctypes.byref(total))
        kind = lib.ggml_backend_dev_type(dev)
        out.append(Device(_text(lib.ggml_backend_dev_name(dev)), _text(lib.ggml_backend_dev_description(dev)),
                          DEVICE_TYPES[kind] if 0 <= kind < len(DEVICE_TYPES) else str(kind),
                          int(free.value), int(total.value)))
    return out


def device_handles() -> list[int]:
    """ggml's device pointers, in the order of `devices()` (valid for the life of the process)."""
    lib = _ggml()
    return [int(lib.ggml_backend_dev_get(i)) for i in range(lib.ggml_backend_dev_count())]


def register_workers(endpoints: Sequence[str]) -> None:
    """Adds each (probed) worker's devices to ggml's registry; llama.cpp then offloads to them."""
    add_server = _rpc_function("ggml_backend_rpc_add_server", _ADD_SERVER)
    lib = _ggml()
    known = {d.description for d in devices() if d.name.startswith("RPC")}
    for endpoint in endpoints:
        if endpoint in known:
            continue  # ggml keeps one registry entry per endpoint for the life of the process
        reg = add_server(endpoint.encode())
        if not reg:
            raise RpcError(f"llama.cpp could not add the RPC worker {endpoint}", hint="check the worker's output")
        lib.ggml_backend_register(reg)
        log.info("RPC worker %s registered", endpoint)


def serve(endpoint: str, device_names: Sequence[str], threads: int, cache_dir: str | None) -> None:
    """Runs ggml's RPC server on `endpoint` over the named devices; returns only if it cannot listen."""
    start = _rpc_function("ggml_backend_rpc_start_server", _START_SERVER)
    lib = _ggml()
    chosen = []
    for name in device_names:
        dev = lib.ggml_backend_dev_by_name(name.encode())
        if not dev:
            names = ", ".join(d.name for d in devices() if not d.name.startswith("RPC"))
            raise RpcError(f"There is no device {name!r} on this machine", hint=f"use one of: {names}")
        chosen.append(dev)
    array = (ctypes.c_void_p * len(chosen))(*chosen)
    start(endpoint.encode(), cache_dir.encode() if cache_dir else None, threads, len(chosen), array)


def default_worker_devices() -> list[str]:
    """What ggml's own rpc-server offers by default: every GPU, or the CPU when there is none."""
    local = [d for d in devices() if not d.name.startswith("RPC")]
    gpus = [d.name for d in local if d.kind in ("GPU", "IGPU")]
    return gpus or [d.name for d in local if d.kind == "CPU"][:1]


def _text(raw: bytes | None) -> str:
    return raw.decode("utf-8", errors="replace") if raw else ""
