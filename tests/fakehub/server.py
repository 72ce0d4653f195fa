"""The fake Hub's HTTP server: the Hub's routes on one port, an LFS "CDN" on a second port (another origin,
so huggingface_hub stops at the redirect exactly as it does for the real CDN), fault injection and a request log."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from tests.fakehub import upload
from tests.fakehub.content import Content, PathContent
from tests.fakehub.repo import UNGATED_FILES, FakeFile, FakeRepo
from tests.fakehub.throttle import LinkPacer, Pacer

INVALID_CREDENTIALS = "Invalid credentials in Authorization header"
MAX_PAGE = 1000


@dataclass
class RequestRecord:
    method: str
    path: str  # unquoted path, no query
    query: str
    range: str | None
    authorized: bool  # an Authorization header was sent
    server: str  # "hub" or "cdn"
    status: int | None = None


@dataclass
class User:
    name: str
    fullname: str
    role: str
    token_name: str


@dataclass
class _Rule:
    kind: str  # status | drop | stall | truncate | corrupt | misplace
    times: int  # remaining; -1 = forever
    match: str | None
    status: int = 500
    retry_after: float | None = None
    error_code: str | None = None
    message: str | None = None
    at_byte: int = 0
    seconds: float = 0.0
    covering: int | None = None  # only a request whose byte range holds this file offset (body faults: there)


class _Reply(Exception):
    """An error answer: raised anywhere in a route, turned into the Hub's error format."""

    def __init__(
        self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers or {}


class FakeHub:
    """See tests/fakehub/__init__.py for the API."""

    def __init__(self) -> None:
        self.repos: dict[str, FakeRepo] = {}
        self.users: dict[str, User] = {}
        self.latency: float = 0.0
        self.latency_match: str | None = None
        self.rate_per_connection: float = 0.0  # bytes/s for each file body; 0: unthrottled (see throttle())
        self.rate_match: str | None = None
        self.link_pacer: LinkPacer | None = None  # throttle(shared=True): one pace for all connections
        self.ranges_supported = True  # False: file bodies ignore Range and answer 200 with the whole file
        self.page_size_default = MAX_PAGE
        self._rules: list[_Rule] = []
        self._records: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._servers: list[ThreadingHTTPServer] = []
        self.url = ""
        self.cdn_url = ""

    # --- lifecycle -------------------------------------------------------------------------------------------

    def start(self, port: int = 0) -> FakeHub:
        """Listen on 127.0.0.1: the Hub on `port` (0: any free port), the CDN on any free port."""
        for kind in ("hub", "cdn"):
            server = ThreadingHTTPServer(("127.0.0.1", port if kind == "hub" else 0), _Handler)
            server.daemon_threads = True
            server.hub = self  # type: ignore[attr-defined]
            server.kind = kind  # type: ignore[attr-defined]
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
            self._servers.append(server)
        self.url = f"http://127.0.0.1:{self._servers[0].server_address[1]}"
        self.cdn_url = f"http://127.0.0.1:{self._servers[1].server_address[1]}"
        return self

    def stop(self) -> None:
        self._stopping.set()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- content ---------------------------------------------------------------------------------------------

    def add_repo(self, repo: FakeRepo) -> FakeRepo:
        self.repos[repo.repo_id] = repo
        return repo

    def repo(self, repo_id: str) -> FakeRepo:
        return self.repos[repo_id]

    def add_token(self, token: str, user: str = "alice", *, role: str = "read", token_name: str = "studio") -> None:
        self.users[token] = User(name=user, fullname=user.title(), role=role, token_name=token_name)

    def grant(self, repo_id: str, user: str) -> None:
        self.repos[repo_id].granted.add(user)

    # --- faults ------------------------------------------------------------------------------------------------

    def _add(self, rule: _Rule) -> None:
        with self._lock:
            self._rules.append(rule)

    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        *,
        match: str | None = None,
        retry_after: float | None = None,
        error_code: str | None = None,
        message: str | None = None,
    ) -> None:
        self._add(
            _Rule("status", n, match, status=status, retry_after=retry_after, error_code=error_code, message=message)
        )

    def rate_limit(self, n: int = 1, retry_after: float = 1, *, match: str | None = None) -> None:
        self.fail_next(n, 429, match=match, retry_after=retry_after, message="Too Many Requests")

    def drop_after(self, n_bytes: int, *, times: int = 1, match: str | None = None) -> None:
        self._add(_Rule("drop", times, match, at_byte=n_bytes))

    def stall(self, at_byte: int, seconds: float, *, times: int = 1, match: str | None = None) -> None:
        self._add(_Rule("stall", times, match, at_byte=at_byte, seconds=seconds))

    def truncate(self, n_bytes: int, *, times: int = 1, match: str | None = None) -> None:
        self._add(_Rule("truncate", times, match, at_byte=n_bytes))

    def corrupt(self, *, times: int = 1, match: str | None = None) -> None:
        self._add(_Rule("corrupt", times, match))

    def throttle(self, bytes_per_second: float, *, match: str | None = None, shared: bool = False) -> None:
        """Send every file body at most this fast, per connection (0: no limit); `shared`: all connections
        together (a link limited as a whole)."""
        self.rate_per_connection, self.rate_match = float(bytes_per_second), match
        self.link_pacer = LinkPacer(float(bytes_per_second), self._stopping) if shared and bytes_per_second else None

    def drop_at(self, offset: int, *, times: int = 1, match: str | None = None) -> None:
        """Close the connection carrying file byte `offset`, just before it (one segment of a ranged download)."""
        self._add(_Rule("drop", times, match, covering=offset))

    def stall_at(self, offset: int, seconds: float, *, times: int = 1, match: str | None = None) -> None:
        self._add(_Rule("stall", times, match, seconds=seconds, covering=offset))

    def truncate_at(self, offset: int, *, times: int = 1, match: str | None = None) -> None:
        """End the response carrying file byte `offset` there, complete but short (Content-Range says so)."""
        self._add(_Rule("truncate", times, match, covering=offset))

    def misplace_at(self, offset: int, by: int, *, times: int = 1, match: str | None = None) -> None:
        """Answer the ranged request holding file byte `offset` from `by` bytes later than it asked (a wrong
        Content-Range start, with the body to match)."""
        self._add(_Rule("misplace", times, match, at_byte=by, covering=offset))

    def fail_covering(
        self, offset: int, n: int = 1, status: int = 500, *, match: str | None = None, retry_after: float | None = None
    ) -> None:
        """Answer `status` to requests whose Range holds file byte `offset` (a request without Range holds all)."""
        self._add(_Rule("status", n, match, status=status, retry_after=retry_after, covering=offset))

    def clear_faults(self) -> None:
        with self._lock:
            self._rules.clear()

    def _take(self, kinds: tuple[str, ...], path: str, span: tuple[int, float] | None = None) -> _Rule | None:
        with self._lock:
            for rule in self._rules:
                if rule.covering is not None and span is not None and not span[0] <= rule.covering < span[1]:
                    continue
                if rule.kind in kinds and (rule.match is None or rule.match in path):
                    if rule.times > 0:
                        rule.times -= 1
                        if rule.times == 0:
                            self._rules.remove(rule)
                    return rule
        return None

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    # --- request log -------------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def requests_for(self, match: str, method: str | None = None) -> list[RequestRecord]:
        return [r for r in self.requests if match in r.path and (method is None or r.method == method)]

    def clear_requests(self) -> None:
        with self._lock:
            self._records.clear()

    def _record(self, rec: RequestRecord) -> None:
        with self._lock:
            self._records.append(rec)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    server_version = "FakeHub/1.0"

    @property
    def hub(self) -> FakeHub:
        return self.server.hub  # type: ignore[attr-defined]

    @property
    def kind(self) -> str:
        return self.server.kind  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")  # LFS uploads (tests/fakehub/upload.py); the body is streamed there

    # --- plumbing ----------------------------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length and method != "PUT" else b""
        self._rec = RequestRecord(
            method,
            path,
            parts.query,
            self.headers.get("Range"),
            self.headers.get("Authorization") is not None,
            self.kind,
        )
        self.hub._record(self._rec)
        if self.hub.latency and (self.hub.latency_match is None or self.hub.latency_match in path):
            self.hub._sleep(self.hub.latency)
        try:
            rule = self.hub._take(("status",), path, _requested_span(self.headers.get("Range")))
            if rule is not None:
                headers = {"Retry-After": f"{rule.retry_after:g}"} if rule.retry_after is not None else {}
                raise _Reply(rule.status, rule.message or "Internal Error", rule.error_code, headers)
            user = self._user()
            if upload.route(self, method, path, body, user):
                pass
            elif self.kind == "cdn":
                self._cdn(method, parts.path)
            else:
                self._route(method, parts.path, path, parse_qs(parts.query, keep_blank_values=True), body, user)
        except _Reply as reply:
            self._error(method, reply)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _user(self) -> User | None:
        auth = self.headers.get("Authorization")
        if auth is None:
            return None
        token = auth.removeprefix("Bearer ").strip()
        user = self.hub.users.get(token)
        if user is None:
            raise _Reply(401, INVALID_CREDENTIALS)
        return user

    def _send(self, status: int, headers: dict[str, str], body: bytes, method: str) -> None:
        self._rec.status = status
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(body)

    def _json(self, method: str, data: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(data).encode()
        self._send(200, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}, body, method)

    def _error(self, method: str, reply: _Reply) -> None:
        headers = {"Content-Type": "application/json; charset=utf-8", "X-Error-Message": reply.message, **reply.headers}
        if reply.code:
            headers["X-Error-Code"] = reply.code
        self._send(reply.status, headers, json.dumps({"error": reply.message}).encode(), method)

    # --- routes ------------------------------------------------------------------------------------------------

    def _route(
        self, method: str, raw_path: str, path: str, query: dict[str, list[str]], body: bytes, user: User | None
    ) -> None:
        if path == "/api/whoami-v2" and method == "GET":
            return self._whoami(user)
        if path == "/api/models" and method == "GET":
            return self._list_models(query)
        if path.startswith("/api/models/"):
            return self._model_api(method, raw_path[len("/api/models/") :], query, body, user)
        if "/resolve/" in raw_path and method in ("GET", "HEAD"):
            return self._resolve(method, raw_path, user)
        raise _Reply(404, "Sorry, we can't find the page you are looking for.")

    def _whoami(self, user: User | None) -> None:
        if user is None:
            raise _Reply(401, INVALID_CREDENTIALS)
        self._json(
            "GET",
            {
                "type": "user",
                "id": f"u-{user.name}",
                "name": user.name,
                "fullname": user.fullname,
                "email": None,
                "emailVerified": False,
                "canPay": False,
                "isPro": False,
                "periodEnd": None,
                "avatarUrl": "",
                "orgs": [],
                "auth": {"type": "access_token", "accessToken": {"displayName": user.token_name, "role": user.role}},
            },
        )

    def _list_models(self, query: dict[str, list[str]]) -> None:
        def values(key: str) -> list[str]:
            return query.get(key, []) + query.get(f"{key}[]", [])

        repos = [r for r in self.hub.repos.values() if not r.private]
        for term in (" ".join(values("search"))).lower().split():
            repos = [r for r in repos if term in r.repo_id.lower()]
        for tag in values("filter"):
            repos = [r for r in repos if tag in r.all_tags() or tag == r.library_name]
        if author := values("author"):
            repos = [r for r in repos if r.author == author[0]]
        if gated := values("gated"):
            want = gated[0].lower() == "true"
            repos = [r for r in repos if bool(r.gated) == want]
        sort = (values("sort") or ["trendingScore"])[0]
        keys = {
            "downloads": "downloads",
            "likes": "likes",
            "trendingScore": "trendingScore",
            "lastModified": "lastModified",
            "createdAt": "createdAt",
        }
        if sort not in keys:
            raise _Reply(400, f"Invalid sort parameter: {sort}")
        descending = (values("direction") or ["-1"])[0] != "1"
        rows = [r.fields() for r in repos]
        rows.sort(key=lambda row: (row[keys[sort]], row["id"]), reverse=descending)
        limit = min(int((values("limit") or [str(self.hub.page_size_default)])[0]), MAX_PAGE)
        start = _cursor_offset(values("cursor"))
        page = rows[start : start + limit]
        expand = values("expand")
        full = (values("full") or ["false"])[0].lower() == "true"
        card = (values("cardData") or ["false"])[0].lower() == "true"
        out = [_pick_list_fields(row, expand, full, card) for row in page]
        headers = {}
        if start + limit < len(rows):
            next_query = [(k, v) for k, vs in query.items() if k != "cursor" for v in vs]
            next_query.append(("cursor", _cursor(start + limit)))
            qs = "&".join(f"{quote(k)}={quote(v)}" for k, v in next_query)
            headers["Link"] = f'<{self.hub.url}/api/models?{qs}>; rel="next"'
        self._json("GET", out, headers)

    def _find_repo(self, segments: list[str]) -> tuple[str, list[str]]:
        if len(segments) >= 2 and f"{segments[0]}/{segments[1]}" in self.hub.repos:
            return f"{segments[0]}/{segments[1]}", segments[2:]
        if segments and segments[0] in self.hub.repos:
            return segments[0], segments[1:]
        return "/".join(segments[:2]), segments[2:]

    def _repo(self, repo_id: str, user: User | None) -> FakeRepo:
        repo = self.hub.repos.get(repo_id)
        if repo is None or (repo.private and (user is None or user.name not in repo.granted)):
            raise _Reply(401 if user is None else 404, "Repository not found", "RepoNotFound")
        return repo

    def _revision(self, repo: FakeRepo, quoted_rev: str) -> None:
        rev = unquote(quoted_rev)
        if not repo.resolves(rev):
            raise _Reply(404, f"Invalid rev id: {rev}", "RevisionNotFound")

    def _model_api(
        self, method: str, raw_rest: str, query: dict[str, list[str]], body: bytes, user: User | None
    ) -> None:
        segments = [s for s in raw_rest.split("/") if s]
        repo_id, rest = self._find_repo([unquote(s) for s in segments[:2]] + segments[2:])
        repo = self._repo(repo_id, user)
        if method == "GET" and (not rest or (rest[0] == "revision" and len(rest) == 2)):
            if rest:
                self._revision(repo, rest[1])
            blobs = query.get("blobs", ["false"])[0].lower() == "true"
            row = repo.fields(blobs=blobs)
            expand = query.get("expand", []) + query.get("expand[]", [])
            if expand:
                row = {k: row[k] for k in ["_id", "id", *expand] if k in row}
            else:
                row.pop("trendingScore", None)
            return self._json(method, row)
        if method == "GET" and len(rest) >= 2 and rest[0] == "tree":
            self._revision(repo, rest[1])
            sub = unquote("/".join(rest[2:]))
            if sub and sub not in {p.rsplit("/", 1)[0] for p in repo.files if "/" in p} | set(repo.files):
                raise _Reply(404, f"Entry not found: {sub}", "EntryNotFound")
            recursive = query.get("recursive", ["false"])[0].lower() == "true"
            details = query.get("expand", ["false"])[0].lower() == "true"
            entries = repo.tree_entries(sub, recursive, details)
            size = 50 if details else MAX_PAGE
            start = _cursor_offset(query.get("cursor", []))
            headers = {}
            if start + size < len(entries):
                link_path = quote(f"/api/models/{repo_id}/tree/{unquote(rest[1])}", safe="/")
                headers["Link"] = (
                    f"<{self.hub.url}{link_path}?recursive={str(recursive).lower()}"
                    f'&expand={str(details).lower()}&cursor={_cursor(start + size)}>; rel="next"'
                )
            return self._json(method, entries[start : start + size], headers)
        if method == "POST" and len(rest) == 2 and rest[0] == "paths-info":
            self._revision(repo, rest[1])
            form = parse_qs(body.decode(), keep_blank_values=True)
            details = form.get("expand", ["False"])[0].lower() == "true"
            out = [repo.file_entry(repo.files[p], details) for p in form.get("paths", []) if p in repo.files]
            return self._json(method, out)
        raise _Reply(404, "Sorry, we can't find the page you are looking for.")

    def _resolve(self, method: str, raw_path: str, user: User | None) -> None:
        before, after = raw_path.split("/resolve/", 1)
        repo_id = unquote(before.strip("/"))
        rev, _, file_q = after.partition("/")
        repo = self._repo(repo_id, user)
        self._revision(repo, rev)
        filename = unquote(file_q)
        if repo.gated and filename not in UNGATED_FILES:
            if user is None:
                raise _Reply(
                    401,
                    f"Access to model {repo_id} is restricted. You must have access to it and be "
                    "authenticated to access it. Please log in.",
                    "GatedRepo",
                )
            if user.name not in repo.granted:
                raise _Reply(
                    403,
                    f"Access to model {repo_id} is restricted and you are not in the authorized "
                    f"list. Visit {self.hub.url}/{repo_id} to ask for access.",
                    "GatedRepo",
                )
        f = repo.files.get(filename)
        if f is None:
            raise _Reply(404, "Entry not found", "EntryNotFound")
        common = {"X-Repo-Commit": repo.sha, "Accept-Ranges": "bytes"}
        if f.lfs:
            location = f"{self.hub.cdn_url}/cdn-lfs/{quote(repo_id)}/{repo.sha}/{quote(filename)}"
            headers = {
                **common,
                "Location": location,
                "X-Linked-Size": str(f.size),
                "X-Linked-Etag": f'"{f.content.sha256}"',
                "ETag": f'"{f.blob_id()}"',
                "Content-Type": "text/plain; charset=utf-8",
            }
            return self._send(302, headers, f"Found. Redirecting to {location}".encode(), method)
        self._body(method, f.content, {**common, "ETag": f'"{f.blob_id()}"'}, raw_path)

    def _cdn(self, method: str, raw_path: str) -> None:
        parts = raw_path.split("/")
        if len(parts) < 6 or parts[1] != "cdn-lfs" or method not in ("GET", "HEAD"):
            raise _Reply(404, "Not found")
        repo = self.hub.repos.get(unquote(parts[2]) + "/" + unquote(parts[3]))
        filename = unquote("/".join(parts[5:]))
        f: FakeFile | None = repo.files.get(filename) if repo else None
        if f is None:
            raise _Reply(404, "NoSuchKey")
        name = filename.rsplit("/", 1)[-1]
        headers = {
            "ETag": f'"{f.content.sha256}"',
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(name)}; filename=\"{name}\";",
        }
        self._body(method, f.content, headers, raw_path)

    # --- bodies with ranges and faults -------------------------------------------------------------------------

    def _body(self, method: str, content: Content, headers: dict[str, str], path: str) -> None:
        size = content.size
        start, end, status = 0, size, 200
        rng = self.headers.get("Range") if self.hub.ranges_supported else None
        if rng:
            parsed = _parse_range(rng, size)
            if parsed is None:
                raise _Reply(416, "Requested Range Not Satisfiable", headers={"Content-Range": f"bytes */{size}"})
            start, end = parsed
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        kinds = ("drop", "stall", "truncate", "corrupt", "misplace")
        rule = self.hub._take(kinds, unquote(path), (start, end)) if method == "GET" else None
        if rule is not None and rule.kind == "misplace":
            start = min(end - 1, start + rule.at_byte)
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
            rule = None
        if rule is not None and rule.covering is not None:
            rule = dataclasses.replace(rule, at_byte=rule.covering - start)
        if rule is not None and rule.kind == "truncate":
            end = min(end, start + rule.at_byte)
            if status == 206:
                headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        self._rec.status = status
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(end - start))
        self.end_headers()
        if method == "HEAD":
            return
        pacer = self._pacer(path)
        if rule is None and isinstance(content, PathContent):
            self._send_file(content, start, end, pacer)
            return
        sent = 0
        for chunk in content.read(start, end):
            if rule is not None and rule.kind == "corrupt" and sent <= (end - start) // 2 < sent + len(chunk):
                i = (end - start) // 2 - sent
                chunk = chunk[:i] + bytes([chunk[i] ^ 0xFF]) + chunk[i + 1 :]
            if rule is not None and rule.kind in ("drop", "stall") and sent <= rule.at_byte < sent + len(chunk):
                cut = rule.at_byte - sent
                self._write(chunk[:cut], pacer)
                self.wfile.flush()
                if rule.kind == "drop":
                    self._abort()
                    return
                self.hub._sleep(rule.seconds)
                if self.hub._stopping.is_set():
                    self._abort()
                    return
                chunk = chunk[cut:]
                sent += cut
                rule = None
            self._write(chunk, pacer)
            sent += len(chunk)

    def _pacer(self, path: str) -> Pacer | None:
        hub = self.hub
        if hub.rate_per_connection <= 0 or (hub.rate_match is not None and hub.rate_match not in unquote(path)):
            return None
        return hub.link_pacer or Pacer(hub.rate_per_connection, hub._stopping)

    def _write(self, data: bytes, pacer: Pacer | None) -> None:
        if pacer is None:
            self.wfile.write(data)
        else:
            pacer.send(self.wfile.write, data)

    def _send_file(self, content: PathContent, start: int, end: int, pacer: Pacer | None = None) -> None:
        """Zero-copy, like a real CDN's static file server: the server's CPU stays out of client benchmarks."""
        with open(content.path, "rb") as handle:
            if pacer is None:
                self.connection.sendfile(handle, start, end - start)
            else:
                fd, out = handle.fileno(), self.connection.fileno()
                pacer.send_file(lambda at, count: os.sendfile(out, fd, at, count), start, end)

    def _abort(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def _requested_span(value: str | None) -> tuple[int, float] | None:
    """The file bytes a `Range: bytes=a-b` header asks for, as [a, b + 1); None without one (all of them)."""
    if not value:
        return None
    first, _, last = value.partition("=")[2].strip().partition("-")
    if not first.isdigit():
        return None
    return int(first), int(last) + 1 if last.isdigit() else float("inf")


def _parse_range(value: str, size: int) -> tuple[int, int] | None:
    """Single `bytes=` range -> [start, end) within size; None when unsatisfiable."""
    unit, _, spec = value.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        return (0, size)
    first, _, last = spec.strip().partition("-")
    if first == "":
        n = int(last)
        return (max(0, size - n), size) if n > 0 and size > 0 else None
    start = int(first)
    end = size if last == "" else min(int(last) + 1, size)
    if start >= size or end <= start:
        return None
    return (start, end)


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode().rstrip("=")


def _cursor_offset(values: list[str]) -> int:
    if not values:
        return 0
    raw = values[0] + "=" * (-len(values[0]) % 4)
    return int(json.loads(base64.urlsafe_b64decode(raw))["offset"])


_DEFAULT_LIST_FIELDS = (
    "_id",
    "id",
    "likes",
    "trendingScore",
    "private",
    "downloads",
    "tags",
    "pipeline_tag",
    "library_name",
    "createdAt",
    "modelId",
)
_FULL_EXTRA = ("author", "sha", "lastModified", "gated", "disabled", "siblings")


def _pick_list_fields(row: dict[str, Any], expand: list[str], full: bool, card: bool) -> dict[str, Any]:
    if expand:
        keys: tuple[str, ...] = ("_id", "id", *expand)
    else:
        keys = _DEFAULT_LIST_FIELDS + (_FULL_EXTRA if full else ()) + (("cardData",) if card else ())
    out = {k: row[k] for k in keys if k in row}
    if "siblings" in out:
        out["siblings"] = [{"rfilename": s["rfilename"]} for s in out["siblings"]]
    return out


def wait_until_listening(url: str, timeout: float = 5.0) -> None:
    host, port = url.removeprefix("http://").split(":")
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, int(port)), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)
