"""Repositories held by the fake Hub: files, metadata, gating, and the JSON the real Hub would return for them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from tests.fakehub.content import BytesContent, Content, PathContent

LFS_THRESHOLD = 10 * 1024 * 1024
GatedMode = Literal[False, "auto", "manual"]
UNGATED_FILES = frozenset({"README.md", ".gitattributes"})  # readable on the real Hub even when gated


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class FakeFile:
    path: str
    content: Content
    lfs: bool

    @property
    def size(self) -> int:
        return self.content.size

    def lfs_pointer(self) -> bytes:
        return (
            f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.content.sha256}\nsize {self.size}\n"
        ).encode()

    def blob_id(self) -> str:
        if self.lfs:
            pointer = self.lfs_pointer()
            return hashlib.sha1(f"blob {len(pointer)}\0".encode() + pointer).hexdigest()
        return self.content.git_blob_sha1()

    def lfs_json(self, sha_key: str) -> dict[str, Any] | None:
        if not self.lfs:
            return None
        return {sha_key: self.content.sha256, "size": self.size, "pointerSize": len(self.lfs_pointer())}


@dataclass
class FakeRepo:
    """One model repository. `files` maps a path in the repo to its FakeFile (use `add_file`)."""

    repo_id: str
    files: dict[str, FakeFile] = field(default_factory=dict)
    downloads: int = 0
    likes: int = 0
    trending_score: int = 0
    gated: GatedMode = False
    private: bool = False
    granted: set[str] = field(default_factory=set)  # user names with access to a gated/private repo
    tags: list[str] = field(default_factory=list)
    pipeline_tag: str | None = "text-generation"
    library_name: str | None = None
    card_data: dict[str, Any] | None = None
    gguf: dict[str, Any] | None = None  # the Hub's GGUF summary: total, architecture, context_length, ...
    last_modified: datetime = field(default_factory=lambda: datetime(2025, 6, 1, tzinfo=timezone.utc))
    created_at: datetime = field(default_factory=lambda: datetime(2025, 1, 1, tzinfo=timezone.utc))
    sha: str = ""

    def __post_init__(self) -> None:
        if not self.sha:
            self.sha = hashlib.sha1(f"commit:{self.repo_id}".encode()).hexdigest()
        if not any(f.endswith(".gitattributes") for f in self.files):
            self.add_file(".gitattributes", b"*.gguf filter=lfs diff=lfs merge=lfs -text\n")

    @property
    def author(self) -> str:
        return self.repo_id.split("/")[0] if "/" in self.repo_id else ""

    def add_file(self, path: str, data: bytes | Path | Content, *, lfs: bool | None = None) -> FakeFile:
        if isinstance(data, Content):
            content = data
        elif isinstance(data, Path):
            content = PathContent(data)
        else:
            content = BytesContent(data)
        if lfs is None:
            lfs = path.endswith((".gguf", ".safetensors", ".bin")) or content.size >= LFS_THRESHOLD
        f = FakeFile(path=path, content=content, lfs=lfs)
        self.files[path] = f
        return f

    def set_card(self, markdown: str) -> None:
        self.add_file("README.md", markdown.encode())

    def all_tags(self) -> list[str]:
        tags = list(self.tags)
        if any(p.endswith(".gguf") for p in self.files) and "gguf" not in tags:
            tags.insert(0, "gguf")
        return tags

    def resolves(self, revision: str) -> bool:
        return revision in ("main", self.sha)

    # --- JSON as the Hub shapes it -------------------------------------------------------------------------

    def _sibling(self, f: FakeFile, blobs: bool) -> dict[str, Any]:
        item: dict[str, Any] = {"rfilename": f.path}
        if blobs:
            item["blobId"] = f.blob_id()
            item["size"] = f.size
            lfs = f.lfs_json("sha256")
            if lfs is not None:
                item["lfs"] = lfs
        return item

    def fields(self, *, blobs: bool = False) -> dict[str, Any]:
        """Every property the Hub can return for this model (list/info endpoints pick from it)."""
        return {
            "_id": hashlib.md5(self.repo_id.encode()).hexdigest()[:24],
            "id": self.repo_id,
            "modelId": self.repo_id,
            "author": self.author,
            "sha": self.sha,
            "lastModified": _iso(self.last_modified),
            "createdAt": _iso(self.created_at),
            "private": self.private,
            "gated": self.gated,
            "disabled": False,
            "downloads": self.downloads,
            "likes": self.likes,
            "trendingScore": self.trending_score,
            "library_name": self.library_name,
            "tags": self.all_tags(),
            "pipeline_tag": self.pipeline_tag,
            "cardData": self.card_data,
            "gguf": self.gguf,
            "siblings": [self._sibling(f, blobs) for f in sorted(self.files.values(), key=lambda f: f.path)],
            "spaces": [],
            "usedStorage": sum(f.size for f in self.files.values()),
        }

    def tree_entries(self, prefix: str, recursive: bool, expand: bool) -> list[dict[str, Any]]:
        """Entries of /api/models/{repo}/tree/{rev}/{prefix}: files and folders, folders first like the Hub."""
        base = prefix.strip("/")
        folders: dict[str, None] = {}
        files: list[FakeFile] = []
        for path in sorted(self.files):
            if base and not path.startswith(base + "/"):
                continue
            rest = path[len(base) + 1 :] if base else path
            parts = rest.split("/")
            for depth in range(1, len(parts)):
                if depth > 1 and not recursive:
                    break
                folders["/".join(([base] if base else []) + parts[:depth])] = None
            if recursive or len(parts) == 1:
                files.append(self.files[path])
        out: list[dict[str, Any]] = []
        for folder in folders:
            oid = hashlib.sha1(f"tree:{self.repo_id}:{folder}".encode()).hexdigest()
            out.append({"type": "directory", "oid": oid, "size": 0, "path": folder})
        for f in files:
            out.append(self.file_entry(f, expand))
        return out

    def file_entry(self, f: FakeFile, expand: bool) -> dict[str, Any]:
        item: dict[str, Any] = {"type": "file", "oid": f.blob_id(), "size": f.size, "path": f.path}
        lfs = f.lfs_json("oid")
        if lfs is not None:
            item["lfs"] = lfs
        if expand:
            item["lastCommit"] = {"id": self.sha, "title": "Upload folder", "date": _iso(self.last_modified)}
        return item
