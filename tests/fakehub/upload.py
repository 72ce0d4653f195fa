"""The Hub's upload side for the fake Hub: what huggingface_hub 2.4 calls for create_repo, upload_file,
upload_folder and create_commit on the plain LFS path (HF_HUB_DISABLE_XET=1; the Xet protocol is not faked).

Routes (see huggingface_hub's hf_api.py create_repo / create_commit / _validate_yaml, _commit_api.py
_fetch_upload_modes / _send_commit, lfs.py post_lfs_batch_info / lfs_upload):
    POST /api/repos/create            {name, organization, visibility|private, type}; 401 without a token,
                                      403 for a read-only token or another user's namespace, 409 if it exists
    POST /api/validate-yaml           {content, repoType}: 400 + errors when the front matter is not YAML
    POST /api/models/{repo}/preupload/{rev}   {files: [{path, sample, size}]} -> uploadMode lfs|regular,
                                      shouldIgnore, oid (of the file at that path now: sha256 for LFS, git sha1)
    POST /{repo}.git/info/lfs/objects/batch   objects the store already holds get no actions (that is how a
                                      second run skips what it sent); others an upload action on the "CDN"
                                      origin: basic (one PUT) or, from `multipart_threshold` bytes on, multipart
                                      (header chunk_size + "00001".. part URLs, completion POST to href); verify
    PUT  {cdn}/lfs-upload/{oid}[/{part}]     streamed to disk, sha256 checked; parts answer an ETag
    POST {cdn}/lfs-upload/{oid}/complete     {oid, parts: [{partNumber, etag}]}: joins the parts
    POST /{repo}.git/info/lfs/objects/verify {oid, size}
    POST /api/models/{repo}/commit/{rev}     NDJSON: header (summary, description, parentCommit -> 412 when
                                      stale), file (base64), lfsFile (oid must be stored, else 422), deletedFile

State: `uploads(hub)` -> UploadState: `records` (one UploadRecord per object or part body received, with its
byte count: the log a resume test reads), `commits` (CommitRecord per commit), `objects` (oid -> stored path),
`progress` (oid -> bytes of the body being received), `multipart_threshold` / `chunk_size` to choose
the transfer, `read_rate` (bytes/s: a slow upload a test can kill part-way), `quota` (bytes; an LFS
batch beyond it gets 403 with the Hub's storage-quota message). Faults: the server's
`fail_next(status=..., match=...)` applies to every route here too (401/403/413/429 by path), and
`drop_after(..., match="/lfs-upload/")` cuts an upload body.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import tempfile
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import yaml

from tests.fakehub.content import PathContent
from tests.fakehub.repo import LFS_THRESHOLD, FakeRepo

if TYPE_CHECKING:
    from tests.fakehub.server import FakeHub, User, _Handler

LFS_EXTENSIONS = (".gguf", ".safetensors", ".bin", ".dat", ".imatrix")
QUOTA_MESSAGE = "You have exceeded your storage quota. Upgrade to a paid plan or free up space in your repositories."
_READ = 1 << 20


@dataclass
class UploadRecord:
    oid: str
    part: int  # 0: a basic (single PUT) upload; 1..n: a multipart part
    size: int  # bytes received
    complete: bool  # the body arrived whole


@dataclass
class CommitRecord:
    repo_id: str
    summary: str
    oid: str
    files: list[str]  # paths added or changed
    lfs_files: list[str]
    deleted: list[str]


@dataclass
class UploadState:
    root: Path
    multipart_threshold: int = 64 * 1024 * 1024
    chunk_size: int = 16 * 1024 * 1024
    quota: int | None = None
    read_rate: float = 0.0  # bytes/s an upload body is read at (0: as fast as it comes), to kill a client mid-way
    records: list[UploadRecord] = field(default_factory=list)
    commits: list[CommitRecord] = field(default_factory=list)
    objects: dict[str, Path] = field(default_factory=dict)
    progress: dict[str, int] = field(default_factory=dict)  # oid -> bytes of its body received so far
    lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self, oid: str | None = None) -> int:
        """Bytes of upload bodies received (for one object, or all)."""
        with self.lock:
            return sum(r.size for r in self.records if oid is None or r.oid == oid)

    def stored_bytes(self) -> int:
        with self.lock:
            return sum(p.stat().st_size for p in self.objects.values())


_states: weakref.WeakKeyDictionary[FakeHub, UploadState] = weakref.WeakKeyDictionary()
_states_lock = threading.Lock()


def uploads(hub: FakeHub) -> UploadState:
    """The hub's upload state (created on first use, with a storage folder removed when the process exits)."""
    with _states_lock:
        state = _states.get(hub)
        if state is None:
            root = Path(tempfile.mkdtemp(prefix="fakehub-lfs-"))
            weakref.finalize(hub, shutil.rmtree, root, True)
            state = _states[hub] = UploadState(root)
        return state


def route(handler: _Handler, method: str, path: str, body: bytes, user: User | None) -> bool:
    """Answer an upload request; False when the path is not one of the upload routes."""
    from tests.fakehub.server import _Reply

    hub = handler.hub
    if handler.kind == "cdn":
        if not path.startswith("/lfs-upload/"):
            return False
        rest = path[len("/lfs-upload/") :].split("/")
        if method == "PUT" and len(rest) in (1, 2):
            _put(handler, rest[0], int(rest[1]) if len(rest) == 2 else 0)
            return True
        if method == "POST" and len(rest) == 2 and rest[1] == "complete":
            _complete(handler, rest[0], json.loads(body or b"{}"))
            return True
        raise _Reply(404, "Not found")
    if method != "POST":
        return False
    if path == "/api/repos/create":
        _create_repo(handler, json.loads(body or b"{}"), user)
        return True
    if path == "/api/validate-yaml":
        _validate_yaml(handler, json.loads(body or b"{}"))
        return True
    if path.endswith(".git/info/lfs/objects/batch"):
        _batch(handler, path[1 : -len(".git/info/lfs/objects/batch")], json.loads(body or b"{}"), user)
        return True
    if path.endswith(".git/info/lfs/objects/verify"):
        oid = json.loads(body or b"{}").get("oid", "")
        if oid not in uploads(hub).objects:
            raise _Reply(404, f"Object {oid} not found")
        handler._json("POST", {"success": True})
        return True
    if path.startswith("/api/models/") and ("/preupload/" in path or "/commit/" in path):
        kind = "preupload" if "/preupload/" in path else "commit"
        repo_id, _, revision = path[len("/api/models/") :].partition(f"/{kind}/")
        repo = _writable_repo(hub, repo_id, user)
        if unquote(revision) not in ("main", repo.sha):
            raise _Reply(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        if kind == "preupload":
            _preupload(handler, repo, json.loads(body or b"{}"))
        else:
            _commit(handler, repo, body)
        return True
    return False


# --- repositories ---------------------------------------------------------------------------------------------


def _can_write(user: User | None, namespace: str) -> None:
    from tests.fakehub.server import INVALID_CREDENTIALS, _Reply

    if user is None:
        raise _Reply(401, INVALID_CREDENTIALS)
    if user.role not in ("write", "admin"):
        raise _Reply(403, "You don't have the rights to write to this namespace: your token is read-only")
    if namespace != user.name:
        raise _Reply(403, f"You don't have the rights to create a model under the namespace \"{namespace}\"")


def _writable_repo(hub: FakeHub, repo_id: str, user: User | None) -> FakeRepo:
    from tests.fakehub.server import _Reply

    repo = hub.repos.get(repo_id)
    if repo is None or (repo.private and (user is None or user.name not in repo.granted)):
        raise _Reply(401 if user is None else 404, "Repository not found", "RepoNotFound")
    _can_write(user, repo.author)
    return repo


def _create_repo(handler: _Handler, payload: dict[str, Any], user: User | None) -> None:

    name = str(payload.get("name") or "")
    namespace = payload.get("organization") or (user.name if user else "")
    _can_write(user, namespace)
    assert user is not None
    repo_id = f"{namespace}/{name}"
    url = f"{handler.hub.url}/{repo_id}"
    if repo_id in handler.hub.repos:  # the Hub's 409 carries the url: create_repo(exist_ok=True) returns it
        message = "You already created this model repo"
        body = json.dumps({"error": message, "url": url}).encode()
        handler._send(409, {"Content-Type": "application/json", "X-Error-Message": message}, body, "POST")
        return
    private = payload.get("visibility") == "private" or bool(payload.get("private"))
    repo = FakeRepo(repo_id, private=private, pipeline_tag=None)  # holds only .gitattributes, as on the Hub
    repo.granted.add(user.name)
    handler.hub.add_repo(repo)
    handler._json("POST", {"url": url, "name": repo_id, "id": hashlib.md5(repo_id.encode()).hexdigest()[:24]})


def _validate_yaml(handler: _Handler, payload: dict[str, Any]) -> None:
    from tests.fakehub.server import _Reply

    content = str(payload.get("content", ""))
    if content.startswith("---"):
        block = content[3:].split("\n---", 1)[0]
        try:
            data = yaml.safe_load(block)
        except yaml.YAMLError as exc:
            handler._send(400, {"Content-Type": "application/json"},
                          json.dumps({"errors": [{"message": f"Invalid YAML: {exc}"}]}).encode(), "POST")
            return
        if data is not None and not isinstance(data, dict):
            raise _Reply(400, "YAML metadata must be a mapping")
    handler._json("POST", {"errors": [], "warnings": []})


# --- preupload, LFS batch, object bodies -------------------------------------------------------------------------


def _is_lfs(path: str, sample: bytes, size: int) -> bool:
    return path.endswith(LFS_EXTENSIONS) or size >= LFS_THRESHOLD or b"\0" in sample


def _preupload(handler: _Handler, repo: FakeRepo, payload: dict[str, Any]) -> None:
    out = []
    for item in payload.get("files", []):
        path = str(item["path"])
        sample = base64.b64decode(item.get("sample", ""))
        mode = "lfs" if _is_lfs(path, sample, int(item.get("size", 0))) else "regular"
        existing = repo.files.get(path)
        oid = None
        if existing is not None:
            oid = existing.content.sha256 if existing.lfs else existing.content.git_blob_sha1()
        out.append({"path": path, "uploadMode": mode, "shouldIgnore": False, "oid": oid})
    handler._json("POST", {"files": out, "commitOid": repo.sha})


def _batch(handler: _Handler, repo_id: str, payload: dict[str, Any], user: User | None) -> None:
    from tests.fakehub.server import _Reply

    hub = handler.hub
    _writable_repo(hub, repo_id, user)
    state = uploads(hub)
    if payload.get("operation") != "upload":
        raise _Reply(422, "Only uploads are supported")
    objects = []
    wanted = 0
    for obj in payload.get("objects", []):
        oid, size = str(obj["oid"]), int(obj["size"])
        if oid in state.objects:
            objects.append({"oid": oid, "size": size})  # already held: no actions, nothing to send
            continue
        wanted += size
        upload_href = f"{hub.cdn_url}/lfs-upload/{oid}"
        verify = {"href": f"{hub.url}/{repo_id}.git/info/lfs/objects/verify", "header": {}}
        if size >= state.multipart_threshold:
            n_parts = -(-size // state.chunk_size)
            header: dict[str, str] = {"chunk_size": str(state.chunk_size)}
            header.update({f"{i:05d}": f"{upload_href}/{i}" for i in range(1, n_parts + 1)})
            upload = {"href": f"{upload_href}/complete", "header": header}
        else:
            upload = {"href": upload_href, "header": {}}
        objects.append({"oid": oid, "size": size, "authenticated": True,
                        "actions": {"upload": upload, "verify": verify}})
    if state.quota is not None and state.stored_bytes() + wanted > state.quota:
        raise _Reply(403, QUOTA_MESSAGE)
    handler._json("POST", {"transfer": "basic", "objects": objects, "hash_algo": "sha256"})


def _put(handler: _Handler, oid: str, part: int) -> None:
    """Stream the request body to disk, as S3 would: never the whole body in memory."""
    from tests.fakehub.server import _Reply

    state = uploads(handler.hub)
    length = int(handler.headers.get("Content-Length") or 0)
    target = state.root / (f"{oid}.part{part:05d}" if part else f"{oid}.incoming")
    digest = hashlib.sha256()
    received = 0
    rule = handler.hub._take(("drop",), handler._rec.path)
    try:
        with open(target, "wb") as out:
            while received < length:
                if rule is not None and received >= rule.at_byte:
                    break
                want = min(_READ, length - received)
                if rule is not None:
                    want = min(want, rule.at_byte - received) or 1
                chunk = handler.rfile.read(want)
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                with state.lock:
                    state.progress[oid] = received
                if state.read_rate > 0:
                    handler.hub._sleep(len(chunk) / state.read_rate)
    finally:
        with state.lock:
            state.records.append(UploadRecord(oid, part, received, received == length))
    if received < length:  # the client went away (or a drop fault cut it): nothing is kept
        target.unlink(missing_ok=True)
        handler._abort()
        return
    if part:
        etag = hashlib.md5(f"{oid}:{part}:{digest.hexdigest()}".encode()).hexdigest()
        handler._send(200, {"ETag": f'"{etag}"'}, b"", "PUT")
        return
    if digest.hexdigest() != oid:
        target.unlink(missing_ok=True)
        raise _Reply(400, f"sha256 of the uploaded body does not match {oid}")
    _store(state, oid, target)
    handler._send(200, {}, b"", "PUT")


def _complete(handler: _Handler, oid: str, payload: dict[str, Any]) -> None:
    from tests.fakehub.server import _Reply

    state = uploads(handler.hub)
    parts = sorted(payload.get("parts", []), key=lambda p: int(p["partNumber"]))
    target = state.root / f"{oid}.incoming"
    digest = hashlib.sha256()
    with open(target, "wb") as out:
        for p in parts:
            piece = state.root / f"{oid}.part{int(p['partNumber']):05d}"
            if not piece.is_file():
                raise _Reply(400, f"part {p['partNumber']} of {oid} was never uploaded")
            with open(piece, "rb") as src:
                while chunk := src.read(_READ):
                    out.write(chunk)
                    digest.update(chunk)
    if digest.hexdigest() != oid:
        target.unlink(missing_ok=True)
        raise _Reply(400, f"sha256 of the joined parts does not match {oid}")
    for p in parts:
        (state.root / f"{oid}.part{int(p['partNumber']):05d}").unlink(missing_ok=True)
    _store(state, oid, target)
    handler._json("POST", {"success": True})


def _store(state: UploadState, oid: str, incoming: Path) -> None:
    final = state.root / oid
    os.replace(incoming, final)
    with state.lock:
        state.objects[oid] = final


# --- commits ------------------------------------------------------------------------------------------------------


def _commit(handler: _Handler, repo: FakeRepo, body: bytes) -> None:
    from tests.fakehub.server import _Reply

    state = uploads(handler.hub)
    lines = [json.loads(line) for line in body.splitlines() if line.strip()]
    if not lines or lines[0].get("key") != "header":
        raise _Reply(400, "The commit payload must start with a header")
    header = lines[0]["value"]
    parent = header.get("parentCommit")
    if parent is not None and parent != repo.sha:
        raise _Reply(412, "A commit has happened since. Please refresh and try again.")
    changes: list[tuple[str, Any]] = []
    for item in lines[1:]:
        key, value = item.get("key"), item.get("value", {})
        if key == "lfsFile":
            oid = value["oid"]
            if oid not in state.objects:
                raise _Reply(422, f"Your push was rejected because an LFS pointer pointed to a file that does not "
                                  f"exist. For instance: {value['path']} (oid {oid})")
            changes.append(("lfs", value))
        elif key == "file":
            changes.append(("file", value))
        elif key in ("deletedFile", "deletedFolder"):
            changes.append(("delete", value))
        else:
            raise _Reply(400, f"Unknown commit operation {key!r}")
    files, lfs_files, deleted = [], [], []
    for kind, value in changes:  # applied only once every line was checked: a commit is all or nothing
        path = value["path"]
        if kind == "lfs":
            content = PathContent(state.objects[value["oid"]])
            content._sha256 = value["oid"]  # checked as it arrived
            repo.add_file(path, content, lfs=True)
            lfs_files.append(path)
        elif kind == "file":
            repo.add_file(path, base64.b64decode(value["content"]), lfs=False)
        else:
            for name in [p for p in repo.files if p == path or p.startswith(path.rstrip("/") + "/")]:
                del repo.files[name]
            deleted.append(path)
        if kind != "delete":
            files.append(path)
    repo.sha = hashlib.sha1(f"{repo.sha}:{len(state.commits)}:{body[:4096]!r}".encode()).hexdigest()
    with state.lock:
        state.commits.append(CommitRecord(repo.repo_id, header.get("summary", ""), repo.sha, files, lfs_files, deleted))
    url = f"{handler.hub.url}/{repo.repo_id}/commit/{repo.sha}"
    handler._json("POST", {"success": True, "commitOid": repo.sha, "commitUrl": url, "pullRequestUrl": None})
