"""`gguf-studio serve`: the library as a local OpenAI- and Anthropic-compatible API."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("serve", help="serve the library over an OpenAI- and Anthropic-compatible HTTP API")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; any other address requires a key)")
    p.add_argument("--port", type=int, default=None, help="port (default 8765)")
    key = p.add_mutually_exclusive_group()
    key.add_argument("--api-key", help="key clients must send (Authorization: Bearer KEY or x-api-key)")
    key.add_argument("--api-key-file", help="read the key from this file (keeps it out of the process list)")
    p.add_argument("--models-ttl", type=float, default=None, metavar="SECONDS",
                   help="unload a model idle this long (default 300; 0 keeps models loaded)")
    p.add_argument("--memory-limit", default=None, metavar="SIZE",
                   help="RAM the loaded models may share, e.g. 12G (default: the RAM free at start)")
    p.add_argument("--ctx", type=int, default=None, help="context length per model (default: the Settings page's)")
    p.add_argument("--gpu-layers", type=int, default=None, metavar="N",
                   help="layers offloaded to the GPU and RPC workers (-1: all; default 0, or all with --rpc)")
    p.add_argument("--rpc", default=None, metavar="HOST:PORT,...",
                   help="llama.cpp RPC workers whose devices join every model's pool (probed first; their free "
                        "memory joins the budget)")
    p.add_argument("--parallel", type=int, default=1, metavar="N",
                   help="requests one model answers at once, each on its own sequence with the full context "
                        "(default 1; the memory estimate counts N caches)")
    p.add_argument("--chat-template", default=None, metavar="NAME|FILE",
                   help="template for models whose GGUF has none: chatml, llama3, gemma, mistral, or a Jinja "
                        "file (e.g. a Qwen-style template, to give a base model tool calls)")
    p.add_argument("--fetch-remote-images", action="store_true",
                   help="fetch images given by http(s) URL (off: callers could make the server request any address "
                   "it reaches, your LAN included; data URLs always work)")
    p.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                   help="let web pages from ORIGIN call the API (repeatable; CORS is off by default)")
    p.set_defaults(func=run)


def read_key(args: argparse.Namespace) -> str | None:
    from pathlib import Path

    from app.core.errors import ConfigError

    if args.api_key_file is None:
        key: str | None = args.api_key
        return key
    try:
        text = Path(args.api_key_file).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"Cannot read the API key file {args.api_key_file}: {exc.strerror or exc}") from exc
    if not text:
        raise ConfigError(f"The API key file {args.api_key_file} is empty", hint="write the key into it")
    return text


def run(args: argparse.Namespace) -> int:
    import contextlib
    import dataclasses

    from app.chat.templates import BUILTIN_TEMPLATES, is_source
    from app.core.errors import ConfigError
    from app.core.units import format_bytes
    from app.estimate.engine import engine_settings, stored_preferences
    from app.estimate.hardware import probe_spec
    from app.server.config import DEFAULT_PORT, DEFAULT_TTL_S, ServerConfig, parse_size
    from app.server.runner import make_state, uvicorn_server

    template = args.chat_template
    if template is not None and template not in BUILTIN_TEMPLATES:
        from pathlib import Path

        try:
            template = Path(template).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"Unknown chat template {args.chat_template!r} (not a readable file: {exc})",
                              hint=f"use one of {', '.join(BUILTIN_TEMPLATES)} or a Jinja file") from exc
        if not is_source(template):
            raise ConfigError(f"{args.chat_template} holds no Jinja chat template")
    engine = engine_settings(stored_preferences())
    if args.ctx is not None:
        engine = dataclasses.replace(engine, n_ctx=args.ctx)
    engine = dataclasses.replace(engine, n_parallel=args.parallel)
    if args.rpc:
        from app.remote.rpc_probe import parse_endpoints

        engine = dataclasses.replace(engine, rpc_workers=tuple(parse_endpoints(args.rpc)), n_gpu_layers=-1)
    if args.gpu_layers is not None:
        engine = dataclasses.replace(engine, n_gpu_layers=args.gpu_layers)
    config = ServerConfig(
        host=args.host,
        port=DEFAULT_PORT if args.port is None else args.port,
        api_key=read_key(args),
        models_ttl=DEFAULT_TTL_S if args.models_ttl is None else args.models_ttl,
        memory_limit=parse_size(args.memory_limit) if args.memory_limit else None,
        cors_origins=tuple(args.cors_origin),
        engine=engine,
        fallback_template=template,
        fetch_remote_images=getattr(args, "fetch_remote_images", False),
    )
    state = make_state(config, probe_spec())
    budget = state.scheduler.budget
    print(f"Serving the library at http://{config.host}:{config.port}/v1 "
          f"({'key required' if config.api_key else 'no key'}; models may use {format_bytes(budget.ram)} of RAM; "
          f"{engine.n_parallel} request{'s' if engine.n_parallel != 1 else ''} at once per model)",
          flush=True)
    # uvicorn re-raises Ctrl-C once it has shut down (engines closed): a normal stop
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn_server(state).run()
    return 0
