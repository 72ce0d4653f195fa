"""`gguf-studio chat MODEL`: one answer with --prompt, an interactive terminal chat otherwise."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chat", help="chat with a GGUF model in the terminal (or answer one --prompt)")
    p.add_argument("model", nargs="?", help="path of a .gguf file (not with --remote)")
    p.add_argument("--remote", metavar="NAME", help="chat with a remote endpoint (see 'gguf-studio remote')")
    p.add_argument("--model", dest="remote_model", metavar="ID", help="with --remote: the endpoint's model id")
    p.add_argument("--prompt", help="answer this one message and exit")
    p.add_argument("--system", default="", help="system prompt")
    p.add_argument("--ctx", type=int, default=4096, help="context length in tokens (default 4096)")
    p.add_argument("--ngl", type=int, default=None,
                   help="layers to offload to the GPU and RPC workers (default 0; all of them with --rpc)")
    p.add_argument("--rpc", metavar="HOST:PORT,...", default="",
                   help="llama.cpp RPC workers (gguf-studio rpc-worker) that take layers, split by free memory")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (default: physical cores)")
    p.add_argument("--max-tokens", type=int, default=512, help="longest reply in tokens (default 512)")
    p.add_argument("--temp", type=float, default=0.8, help="temperature; 0 is greedy (default 0.8)")
    p.add_argument("--seed", type=int, default=None, help="sampling seed")
    p.add_argument("--template", default="auto",
                   help="chat template: auto (the model's own), chatml, llama3, gemma, mistral, or raw")
    p.add_argument("--json", action="store_true", help="with --prompt: print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.chat import protocol as p
    from app.chat.client import EngineClient
    from app.chat.templates import AUTO, BUILTIN_TEMPLATES, RAW
    from app.core.errors import TemplateError

    if args.template not in (AUTO, RAW, *BUILTIN_TEMPLATES):
        raise TemplateError(f"Unknown template {args.template!r}",
                            hint=f"use auto, raw or one of {', '.join(BUILTIN_TEMPLATES)}")
    sampling = p.Sampling(temperature=args.temp, seed=args.seed, max_tokens=args.max_tokens)
    if args.remote is not None or args.model is None:
        return _remote(args, sampling)
    from app.remote.rpc_probe import parse_endpoints

    workers = tuple(parse_endpoints(args.rpc))
    _check_model(args.model, args.ctx)
    ngl = args.ngl if args.ngl is not None else (999 if workers else 0)
    settings = p.EngineSettings(n_ctx=args.ctx, n_gpu_layers=ngl, n_threads=args.threads, rpc_workers=workers)
    with EngineClient() as client:
        info = client.load(args.model, settings)
        if args.template == AUTO and not info.chat_template:
            raise TemplateError(
                f"{info.description} has no chat template",
                hint=f"pass --template raw for completion, or --template {'|'.join(BUILTIN_TEMPLATES)}",
            )
        if args.prompt is not None:
            return _one_shot(client, args, sampling)
        return _interactive(client, args, sampling)


def _check_model(path: str, n_ctx: int) -> None:
    """A file that is no GGUF model is said so before llama.cpp tries it; a context past the trained one is
    allowed, with a warning."""
    from pathlib import Path

    from app.commands.inspect import read_local
    from app.core.errors import EngineError

    if not Path(path).is_file():
        raise EngineError(f"Model file not found: {path}", hint="give the path of a .gguf file")
    model = read_local(path)
    trained = model.metadata.get(f"{model.architecture}.context_length")
    if isinstance(trained, int) and 0 < trained < n_ctx:
        print(f"warning: a context of {n_ctx:,} tokens is longer than the {trained:,} this model was trained on; "
              "replies past that length are likely to degrade", file=sys.stderr)


def _remote(args: argparse.Namespace, sampling: Any) -> int:
    from app.core.errors import ConfigError
    from app.remote.endpoints import find_endpoint
    from app.remote.session import RemoteChat

    if args.remote is None or args.model is not None or not args.remote_model:
        raise ConfigError("Give either a .gguf file, or --remote NAME with --model ID",
                          hint="list an endpoint's models with: gguf-studio remote test NAME")
    with RemoteChat(find_endpoint(args.remote), args.remote_model) as chat:
        if args.prompt is not None:
            return _one_shot(chat, args, sampling)
        return _interactive(chat, args, sampling)


def _messages(system: str, turns: list[Any]) -> list[Any]:
    from app.chat.protocol import ChatMessage

    return ([ChatMessage("system", system)] if system else []) + turns


def _one_shot(client: Any, args: argparse.Namespace, sampling: Any) -> int:
    from app.chat import protocol as p

    messages = _messages(args.system, [p.ChatMessage("user", args.prompt)])
    done: p.Done | None = None
    for event in client.stream(messages, template=args.template, sampling=sampling):
        if isinstance(event, p.Token):
            if not args.json:
                sys.stdout.write(event.text)
                sys.stdout.flush()
        else:
            done = event
    assert done is not None
    if args.json:
        stats = done.stats
        print(json.dumps({
            "text": done.text,
            "tokens": stats.generated_tokens,
            "tokens_per_second": round(stats.tokens_per_second, 2),
            "ttft_ms": round(stats.ttft_seconds * 1000, 1),
            "prompt_tokens": stats.prompt_tokens,
            "finish_reason": done.finish_reason,
        }, ensure_ascii=False))
    else:
        print()
    return 0


def _interactive(client: Any, args: argparse.Namespace, sampling: Any) -> int:
    from app.chat import protocol as p

    print("Type a message; /reset starts over, /exit (or Ctrl-D) quits, Ctrl-C stops a reply.",
          file=sys.stderr)
    turns: list[p.ChatMessage] = []
    while True:
        try:
            line = input("> ")
        except (EOFError, KeyboardInterrupt):
            print(file=sys.stderr)
            return 0
        if line.strip() in ("/exit", "/quit"):
            return 0
        if line.strip() == "/reset":
            turns.clear()
            continue
        if not line.strip():
            continue
        turns.append(p.ChatMessage("user", line))
        reply = ""
        stream = client.stream(_messages(args.system, turns), template=args.template,
                               sampling=sampling, context_policy="drop_oldest")
        while True:
            try:
                event = next(stream)
            except StopIteration:
                break
            except KeyboardInterrupt:
                client.stop()  # the engine answers with Done(stopped); keep reading until then
                continue
            if isinstance(event, p.Token):
                reply += event.text
                sys.stdout.write(event.text)
                sys.stdout.flush()
            else:
                s = event.stats
                n = s.generated_tokens
                speed = f", {s.tokens_per_second:.1f} tok/s" if n > 1 and s.tokens_per_second > 0 else ""
                print(f"\n[{n} token{'' if n == 1 else 's'}{speed}, "
                      f"context {s.context_used}/{s.context_size}]", file=sys.stderr)
        turns.append(p.ChatMessage("assistant", reply))
