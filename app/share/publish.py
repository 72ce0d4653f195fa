"""Publish quants to the Hub: the GGUF files, their importance matrix and a model card, in one commit.

Everything goes through huggingface_hub's own upload API on its LFS path (preupload, LFS batch with basic
or multipart transfers, commit). That path makes a publish resumable: the Hub's LFS batch gives no upload
action for an object it already holds, so a second run after a crash, a kill or a cancel sends only what
is missing, and nothing is committed until every file is there. Files over the Hub's per-file limit are
split first (llama.cpp's split format, app.share.split). Access is checked before any byte is sent: no
token, a read-only token, or a namespace the account cannot write to stop here with a sentence to act on.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.errors import (
    AppError,
    Cancelled,
    HubError,
    RateLimitedError,
    RepoConflictError,
    ShareError,
    UnauthorizedError,
)
from app.gguf.naming import is_imatrix, is_model_file
from app.share.card import MARKER

log = logging.getLogger("app.share")

HUB_FILE_LIMIT = 49_500_000_000  # the Hub takes files up to 50 GB; split under it with room for the header
README = "README.md"
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
RESUME_HINT = "run the same publish again: what the Hub already holds is not sent again"


@dataclass(frozen=True, slots=True)
class PublishRequest:
    files: tuple[Path, ...]  # quants of one source model (any part of a split set stands for the set)
    repo_id: str
    private: bool = False
    message: str | None = None
    overwrite: bool = False  # publish into a repository that holds other content
    imatrix: Path | None = None  # None: the one importance-matrix file beside the quants, if there is one
    base_model: str | None = None  # the Hub id of the source model, for the card's base_model
    card: str | None = None  # the README to publish as is (an edited preview); None: generated
    split_limit: int = HUB_FILE_LIMIT
    staging: Path | None = None  # folder for split parts (default: the app's cache)


@dataclass(frozen=True, slots=True)
class UploadItem:
    local: Path
    path_in_repo: str
    size: int


@dataclass(frozen=True, slots=True)
class PublishProgress:
    stage: str  # "check", "split", "hash", "upload", "commit", "done"
    done: int  # bytes
    total: int
    file: str = ""


@dataclass(frozen=True, slots=True)
class PublishResult:
    repo_id: str
    url: str
    commit: str
    files: tuple[str, ...]  # paths in the repository, README included
    sent_bytes: int  # bytes actually sent in upload bodies by this run
    total_bytes: int


@dataclass(frozen=True, slots=True)
class Access:
    user: str
    namespaces: tuple[str, ...]  # the user and the organisations the token can write to
    role: str


Progress = Callable[[PublishProgress], None]


# --- checks before any upload ---------------------------------------------------------------------------------


def check_repo_id(repo_id: str) -> str:
    if not _REPO_ID.match(repo_id) or ".." in repo_id or repo_id.endswith((".git", ".")):
        raise ShareError(f"{repo_id!r} is not a repository name", hint="write it as USER/NAME, e.g. alice/Model-GGUF")
    return repo_id


def check_access(repo_id: str, token: str | None = None) -> Access:
    """Who the token belongs to and whether it may write to `repo_id`'s namespace; raises before any upload."""
    from huggingface_hub import get_token

    from app.hub import client
    from app.hub.errors import hub_call

    token = token if token is not None else get_token()
    if not token:
        raise UnauthorizedError("You are not signed in to the Hub", hint="add a token with write access in Settings")
    with hub_call(repo_id):
        info = client.api(token).whoami(token=token)
    user = str(info.get("name") or "")
    auth = _mapping(info.get("auth"))
    access = _mapping(auth.get("accessToken"))
    role = str(access.get("role") or "")
    orgs = [o for o in info.get("orgs") or [] if isinstance(o, dict)]
    namespaces = [user]
    if role == "fineGrained":
        namespaces += _fine_grained_namespaces(access, user)
    else:
        writable = ("admin", "write", "contributor")
        namespaces += [str(o.get("name")) for o in orgs if o.get("roleInOrg", "write") in writable]
    if role == "read":
        raise UnauthorizedError(
            "Your Hub token is read-only: it cannot create repositories or upload",
            hint="create a token with the Write role at huggingface.co/settings/tokens and sign in with it",
        )
    namespace = repo_id.split("/", 1)[0]
    if role != "fineGrained" and namespace not in namespaces:
        raise UnauthorizedError(
            f"Your account ({user}) cannot write to {namespace}",
            hint=f"publish under {user}/… or an organisation you can write to",
        )
    return Access(user, tuple(dict.fromkeys(namespaces)), role)


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _fine_grained_namespaces(access: dict[str, Any], user: str) -> list[str]:
    scoped = ((access.get("fineGrained") or {}).get("scoped") or []) if isinstance(access, dict) else []
    names = []
    for scope in scoped:
        entity = scope.get("entity") or {}
        if "repo.write" in (scope.get("permissions") or []) and entity.get("type") in ("user", "org"):
            names.append(str(entity.get("name") or user))
    return names


@dataclass(frozen=True, slots=True)
class Existing:
    files: tuple[str, ...]
    ours: bool  # its README was written by this app
    private: bool


def existing_repo(repo_id: str, token: str | None = None) -> Existing | None:
    """What `repo_id` holds now, or None when there is no such repository (or none this token can see)."""
    from app.core.errors import NotFoundError
    from app.hub import client
    from app.hub.errors import hub_call

    api = client.api(token)
    try:
        with hub_call(repo_id):
            info = api.model_info(repo_id)
    except NotFoundError:
        return None
    files = tuple(s.rfilename for s in info.siblings or ())
    ours = False
    if README in files:
        with hub_call(repo_id):
            readme = client.get(f"{api.endpoint}/{repo_id}/resolve/main/{README}", token=token).text
        ours = MARKER in readme
    return Existing(files, ours, bool(info.private))


def other_content(existing: Existing, paths: set[str]) -> list[str]:
    """Files of an existing repository a publish would not account for (none for one this app published)."""
    if existing.ours:
        return []
    return sorted(f for f in existing.files if f not in paths and f not in (".gitattributes", README)) or (
        [README] if README in existing.files else []
    )


# --- preparing: splits, imatrix, card ---------------------------------------------------------------------------


def find_imatrix(files: tuple[Path, ...]) -> Path | None:
    """The importance matrix beside the quants, when exactly one is there (quantize writes `NAME.imatrix.gguf`)."""
    folders = {f.resolve().parent for f in files}
    found = sorted(p for d in folders for p in d.iterdir() if is_imatrix(p.name) and p.name.endswith(".gguf"))
    return found[0] if len(found) == 1 else None


def _model_files(files: tuple[Path, ...]) -> list[Path]:
    """Each model once: a split set by its first part; checks they are quants of one model."""
    from app.gguf.facts import model_facts
    from app.share.card import read_model_once

    firsts: dict[tuple[str, ...], Path] = {}
    names: set[str] = set()
    for f in files:
        if not f.is_file():
            raise ShareError(f"{f} does not exist")
        if not is_model_file(f.name):
            raise ShareError(f"{f.name} is not a GGUF model file", hint="give the quantized .gguf files to publish")
        model = read_model_once(f)
        firsts.setdefault(model.paths, Path(model.paths[0]))
        facts = model_facts(model)
        names.add(f"{facts.architecture}|{model.metadata.get('general.basename') or facts.name or ''}")
    if len(names) > 1:
        raise ShareError(
            "these files are quants of different models", hint="publish each model's quants to its own repository"
        )
    return list(firsts.values())


def plan_items(
    request: PublishRequest, progress: Progress | None = None, cancel: threading.Event | None = None
) -> tuple[list[UploadItem], list[tuple[Path, tuple[str, ...] | None]], Path | None]:
    """Files to upload (splitting those over the limit), the quants for the card, and the imatrix."""
    from app.core.paths import cache_dir
    from app.share.card import read_model_once
    from app.share.split import plan_split, split_gguf

    items: list[UploadItem] = []
    quants: list[tuple[Path, tuple[str, ...] | None]] = []
    for first in _model_files(request.files):
        model = read_model_once(first)
        if len(model.parts) == 1 and model.file_size > request.split_limit:
            staging = request.staging or cache_dir() / "publish" / request.repo_id.replace("/", "--")
            plan = plan_split(first, max_size=request.split_limit, out_dir=staging)
            if not all(p.path.is_file() and p.path.stat().st_size == p.size for p in plan.parts):
                plan = split_gguf(first, max_size=request.split_limit, out_dir=staging, overwrite=True,
                                  progress=_split_progress(progress, first.name), cancel=cancel)
            parts = [p.path for p in plan.parts]
            quants.append((first, tuple(p.name for p in parts)))
        else:
            parts = [Path(p) for p in model.paths]
            quants.append((first, None))
        for part in parts:
            if part.stat().st_size > request.split_limit:
                raise ShareError(f"{part.name} is larger than the Hub's per-file limit", hint="merge and publish again")
            items.append(UploadItem(part, part.name, part.stat().st_size))
    imatrix = request.imatrix if request.imatrix is not None else find_imatrix(request.files)
    if imatrix is not None:
        items.append(UploadItem(imatrix, imatrix.name, imatrix.stat().st_size))
    names = [i.path_in_repo for i in items]
    if len(set(names)) != len(names):
        raise ShareError("two files to publish have the same name", hint="rename one of them")
    return items, quants, imatrix


def _split_progress(progress: Progress | None, name: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(PublishProgress("split", done, total, name))


def draft_card(request: PublishRequest) -> str:
    """The README a publish would write (for a preview to edit): no upload, no split."""
    from app.share.card import collect, render_card

    quants: list[tuple[Path, tuple[str, ...] | None]] = [(f, None) for f in _model_files(request.files)]
    imatrix = request.imatrix if request.imatrix is not None else find_imatrix(request.files)
    return render_card(collect(request.repo_id, quants, imatrix=imatrix, base_model=request.base_model))


# --- the upload -----------------------------------------------------------------------------------------------


class _Reader(io.BufferedReader):
    """A file huggingface_hub reads to upload: reports how far it got and stops when cancelled."""

    def __init__(self, path: Path, on_position: Callable[[int], None]) -> None:
        super().__init__(io.FileIO(path, "rb"))  # reads of 64 KiB (httpx) go straight to the file
        self._on_position = on_position
        self._position = 0

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int:
        self._position = super().seek(offset, whence)
        return self._position

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        self._position += len(data)
        self._on_position(self._position)
        return data

    def read1(self, size: int = -1, /) -> bytes:
        data = super().read1(size)
        self._position += len(data)
        self._on_position(self._position)
        return data

    def readinto(self, buffer: Any, /) -> int:
        n = super().readinto(buffer)
        self._position += n
        self._on_position(self._position)
        return n


@contextlib.contextmanager
def _lfs_transfers() -> Iterator[None]:
    """huggingface_hub's plain LFS path instead of Xet (its documented switch, HF_HUB_DISABLE_XET): the
    path whose LFS batch skips what the Hub already holds, so a publish resumes without re-sending."""
    from huggingface_hub import constants

    before = constants.HF_HUB_DISABLE_XET
    constants.HF_HUB_DISABLE_XET = True
    try:
        yield
    finally:
        constants.HF_HUB_DISABLE_XET = before


@dataclass
class _Counter:
    total: int
    progress: Progress | None
    cancel: threading.Event | None
    done: int = 0  # bytes of files finished
    sent: int = 0  # bytes read for upload bodies
    file: str = ""
    _position: int = field(default=0)

    def at(self, position: int) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("publish cancelled", hint=RESUME_HINT)
        if position > self._position:
            self.sent += position - self._position
            self._position = position
        if self.progress is not None:
            self.progress(PublishProgress("upload", self.done + self._position, self.total, self.file))

    def start(self, name: str) -> None:
        self.file, self._position = name, 0

    def finish(self, size: int) -> None:
        self.done += size
        self._position = 0
        if self.progress is not None:
            self.progress(PublishProgress("upload", self.done, self.total, self.file))


def publish(
    request: PublishRequest,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    token: str | None = None,
) -> PublishResult:
    """Check access, split what is too large, upload every file and commit them with the card."""
    from huggingface_hub import CommitOperationAdd

    from app.hub import client
    from app.hub.errors import check_online

    repo_id = check_repo_id(request.repo_id)
    if not request.files:
        raise ShareError("no files to publish")
    check_online()
    if progress is not None:
        progress(PublishProgress("check", 0, 0))
    check_access(repo_id, token)
    items, quants, imatrix = plan_items(request, progress, cancel)
    total = sum(i.size for i in items)
    # Hashing reads every byte in C without the interpreter lock: it runs beside the repository check and the
    # card (Python work and small requests), which then cost no time of their own.
    halt = threading.Event()  # the user's cancel, or this thread's error: the hashing stops at its next block
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="publish-hash") as pool:
        hashing = pool.submit(_hash_all, items, total, progress, cancel, halt)
        try:
            existing = existing_repo(repo_id, token)
            if existing is not None and not request.overwrite:
                others = other_content(existing, {i.path_in_repo for i in items})
                if others:
                    shown = ", ".join(others[:5]) + (" …" if len(others) > 5 else "")
                    raise RepoConflictError(
                        f"{repo_id} already exists and holds other content ({shown})",
                        hint="choose another name, or allow publishing into it (--overwrite) to add these files "
                        "and replace its README",
                    )
            card = request.card
            if card is None:
                from app.share.card import collect, render_card

                card = render_card(collect(repo_id, quants, imatrix=imatrix, base_model=request.base_model))
            check_card(card)
        except BaseException:
            halt.set()
            raise
        digests = hashing.result()
    counter = _Counter(total, progress, cancel)
    api = client.api(token)
    operations: list[CommitOperationAdd] = []
    with _lfs_transfers(), _upload_errors(repo_id):
        api.create_repo(repo_id, private=request.private, exist_ok=True)
        for item, digest in zip(items, digests, strict=True):
            op = CommitOperationAdd(path_in_repo=item.path_in_repo, path_or_fileobj=str(item.local))
            op.upload_info.sha256 = bytes.fromhex(digest)
            counter.start(item.path_in_repo)
            reader = _Reader(item.local, counter.at)
            try:
                op.path_or_fileobj = reader
                api.preupload_lfs_files(repo_id, [op])
            finally:
                reader.close()
            op.path_or_fileobj = str(item.local)  # small files are committed inline: read again from the path
            counter.finish(item.size)
            operations.append(op)
        if cancel is not None and cancel.is_set():
            raise Cancelled("publish cancelled", hint=RESUME_HINT)
        if progress is not None:
            progress(PublishProgress("commit", total, total))
        operations.append(CommitOperationAdd(path_in_repo=README, path_or_fileobj=card.encode("utf-8")))
        message = request.message or _default_message(items)
        info = api.create_commit(repo_id, operations=operations, commit_message=message)
    if progress is not None:
        progress(PublishProgress("done", total, total))
    log.info("published %d files to %s (%d bytes sent)", len(items), repo_id, counter.sent)
    return PublishResult(
        repo_id=repo_id,
        url=f"{api.endpoint}/{repo_id}",
        commit=str(info.oid),
        files=(*(i.path_in_repo for i in items), README),
        sent_bytes=counter.sent,
        total_bytes=total,
    )


def _hash_all(
    items: list[UploadItem],
    total: int,
    progress: Progress | None,
    cancel: threading.Event | None,
    halt: threading.Event,
) -> list[str]:
    from app.share.digest import sha256_of

    digests: list[str] = []
    hashed = 0
    for item in items:
        def on_hash(n: int, base: int = hashed, name: str = item.path_in_repo) -> None:
            if cancel is not None and cancel.is_set():
                halt.set()
            if progress is not None:
                progress(PublishProgress("hash", base + n, total, name))

        try:
            digests.append(sha256_of(item.local, on_hash, halt))
        except Cancelled:
            raise Cancelled("publish cancelled", hint=RESUME_HINT) from None
        hashed += item.size
    if cancel is not None and cancel.is_set():
        raise Cancelled("publish cancelled", hint=RESUME_HINT)
    return digests


def check_card(text: str) -> None:
    """Refuse a card whose front matter the Hub cannot read, before any upload (an edited card can break it)."""
    from huggingface_hub import ModelCard

    try:
        ModelCard(text, ignore_metadata_errors=False)
    except Exception as exc:  # the YAML parser's or huggingface_hub's own validation errors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ShareError(f"The model card's front matter is not valid YAML: {first}",
                         hint="fix the block between the --- lines at the top of the card") from exc


def _default_message(items: list[UploadItem]) -> str:
    names = [i.path_in_repo for i in items if i.path_in_repo.endswith(".gguf")]
    return f"Add {', '.join(names[:3])}{' …' if len(names) > 3 else ''} with a model card (GGUF Studio)"


@contextlib.contextmanager
def _upload_errors(repo_id: str) -> Iterator[None]:
    """huggingface_hub's failures (wrapped by its upload threads) as errors a user can act on."""
    try:
        yield
    except AppError:
        raise
    except Exception as exc:
        raise upload_error(exc, repo_id) from exc


def upload_error(exc: BaseException, repo_id: str) -> AppError:
    from huggingface_hub import errors as hf_errors

    from app.hub.errors import translate

    cause: BaseException | None = exc
    while cause is not None:  # the upload threads wrap the failure in a RuntimeError
        if isinstance(cause, AppError):
            return cause
        if isinstance(cause, hf_errors.HfHubHTTPError):
            break
        cause = cause.__cause__ or cause.__context__
    if not isinstance(cause, hf_errors.HfHubHTTPError):
        if isinstance(exc, ValueError) and "Invalid metadata in README.md" in str(exc):
            return ShareError(f"The Hub refused the model card: {str(exc).strip()}",
                              hint=f"edit the card's front matter; then {RESUME_HINT}")
        err = translate(exc, repo_id)
        return _resumable(err)
    response = cause.response
    status = response.status_code if response is not None else 0
    text = str(cause)
    if status == 413:
        return HubError(
            "The Hub refused an upload as too large (413)",
            hint="files over 50 GB must be split (publish splits them at 49.5 GB); " + RESUME_HINT,
        )
    if status in (402, 403) and "quota" in text.lower():
        return HubError(
            "Your storage quota on the Hub is full: the upload was refused",
            hint="free space in your repositories or upgrade your plan, then " + RESUME_HINT,
        )
    err = translate(cause, repo_id)
    if isinstance(err, RateLimitedError):
        return RateLimitedError(
            "The Hub is rate limiting uploads", retry_after=err.retry_after, hint=f"wait a minute, then {RESUME_HINT}"
        )
    return _resumable(err)


def _resumable(err: AppError) -> AppError:
    if RESUME_HINT in err.hint or isinstance(err, UnauthorizedError):
        return err
    hint = f"{err.hint}; {RESUME_HINT}" if err.hint else RESUME_HINT
    err.hint = hint
    return err
