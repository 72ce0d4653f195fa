"""`gguf-studio remote add|list|remove|test`: OpenAI-compatible servers used as chat backends.

Keys live only in the endpoints file (mode 0600); they are read from a file here, never from the command
line (a process list shows arguments), and never printed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("remote", help="add, list, test or remove remote OpenAI-compatible endpoints")
    verbs = p.add_subparsers(dest="remote_command", metavar="ACTION", required=True)
    add = verbs.add_parser("add", help="add an endpoint (llama-server, vLLM, Ollama, LM Studio, GGUF Studio...)")
    add.add_argument("name", help="a short name for it, e.g. gpu-box")
    add.add_argument("url", help="its base URL, e.g. http://192.168.1.20:8080 (a trailing /v1 is fine)")
    add.add_argument("--api-key-file", help="file holding the key the server wants (stored in the endpoints file)")
    add.add_argument("--replace", action="store_true", help="replace an endpoint of the same name")
    add.add_argument("--no-test", action="store_true", help="save it without contacting it first")
    verbs.add_parser("list", help="list the endpoints")
    remove = verbs.add_parser("remove", help="forget an endpoint (and its key)")
    remove.add_argument("name")
    test = verbs.add_parser("test", help="contact an endpoint: its models and what it reports")
    test.add_argument("name")
    for verb in (test, verbs.choices["list"]):
        verb.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.remote import endpoints as store

    action = args.remote_command
    if action == "add":
        return _add(args)
    if action == "remove":
        store.remove_endpoint(args.name)
        print(f"Removed {args.name}")
        return 0
    if action == "list":
        return _list(args)
    return _test(args)


def _add(args: argparse.Namespace) -> int:
    from app.commands.serve import read_key
    from app.remote import endpoints as store

    store.check_name(args.name)
    key = read_key(argparse.Namespace(api_key=None, api_key_file=args.api_key_file))
    endpoint = store.Endpoint(args.name, store.normalize_url(args.url), key)
    if not args.replace and any(e.name == endpoint.name for e in store.load_endpoints()):
        store.add_endpoint(endpoint)  # raises: exists already
    if not args.no_test:
        report = _report(endpoint)
        print(f"{endpoint.name}: {report.kind} at {endpoint.url}, {len(report.models)} model(s)")
    store.add_endpoint(endpoint, replace=args.replace)
    print(f"Saved {endpoint.name}" + (" (with its key)" if key else ""))
    return 0


def _list(args: argparse.Namespace) -> int:
    from app.commands import print_report
    from app.remote import endpoints as store

    items = [{"name": e.name, "url": e.url, "key": e.api_key is not None} for e in store.load_endpoints()]

    def text(report: dict[str, Any]) -> str:
        if not report["endpoints"]:
            return "No remote endpoints; add one with: gguf-studio remote add NAME URL\n"
        width = max(len(e["name"]) for e in report["endpoints"])
        return "".join(f"{e['name']:<{width}}  {e['url']}{'  (key)' if e['key'] else ''}\n"
                       for e in report["endpoints"])

    print_report({"endpoints": items}, as_json=args.json, format_text=text)
    return 0


def _report(endpoint: Any) -> Any:
    from app.remote.client import RemoteClient

    with RemoteClient(endpoint) as client:
        return client.report()


def _test(args: argparse.Namespace) -> int:
    from app.commands import print_report
    from app.core.units import format_bytes
    from app.remote import endpoints as store

    endpoint = store.find_endpoint(args.name)
    report = _report(endpoint)
    data = {
        "name": endpoint.name, "url": endpoint.url, "kind": report.kind,
        "models": [{"id": m.id, "context": m.context, "size_bytes": m.size_bytes, "n_params": m.n_params}
                   for m in report.models],
        "details": dict(report.details),
    }

    def text(r: dict[str, Any]) -> str:
        lines = [f"{r['name']}: {r['kind']} at {r['url']}"]
        lines += [f"  {label}: {value}" for label, value in r["details"].items()]
        lines.append(f"  models ({len(r['models'])}):")
        for m in r["models"]:
            extra = [f"context {m['context']}" if m["context"] else "",
                     format_bytes(m["size_bytes"]) if m["size_bytes"] else ""]
            shown = ", ".join(e for e in extra if e)
            lines.append(f"    {m['id']}" + (f" ({shown})" if shown else ""))
        return "\n".join(lines) + "\n"

    print_report(data, as_json=args.json, format_text=text)
    if not report.models:
        print("warning: the endpoint lists no models", file=sys.stderr)
    return 0
