"""`gguf-studio rpc-worker`: lend this machine's devices to another machine's engine (llama.cpp RPC)."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("rpc-worker", help="run a llama.cpp RPC worker so another machine's engine can use "
                                          "this machine's GPU or CPU (no authentication: trusted networks only)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=50052, help="port (default 50052)")
    p.add_argument("--device", action="append", default=[], metavar="NAME",
                   help="device to offer, e.g. CUDA0 or CPU (repeatable; default: every GPU, else the CPU)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (default: physical cores)")
    p.add_argument("--cache", action="store_true",
                   help="keep received tensors in a local cache, so loading the same model again is faster")
    p.add_argument("--allow-lan", action="store_true",
                   help="allow an address other machines can reach (the worker has no password and no encryption)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.core import paths
    from app.core.errors import ConfigError
    from app.core.units import format_bytes
    from app.remote.worker import SECURITY_WARNING, WorkerProcess, check_host

    check_host(args.host, args.allow_lan)
    if not 0 < args.port < 65536:
        raise ConfigError(f"Port {args.port} is out of range", hint="use a port between 1 and 65535")
    print(SECURITY_WARNING, file=sys.stderr)
    cache = str(paths.cache_dir() / "rpc") if args.cache else None
    worker = WorkerProcess(args.host, args.port, tuple(args.device), args.threads, cache)
    try:
        found = worker.start()
        started = worker.started
        assert started is not None
        print(f"RPC worker listening on {found.endpoint} (protocol {'.'.join(map(str, found.version))})",
              flush=True)
        for device in started.devices:
            print(f"  {device.name}: {device.description} ({format_bytes(device.free)} free of "
                  f"{format_bytes(device.total)})", flush=True)
        print(f"Use it with: gguf-studio chat MODEL --rpc {found.endpoint}   (Ctrl-C stops the worker)", flush=True)
        outcome = worker.wait()
        if outcome is not None and not outcome.clean:
            print(f"error: {outcome.sentence}", file=sys.stderr)
            return 1
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        worker.stop()
