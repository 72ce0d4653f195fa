"""Typed values for what the Hub tells us: search results, repositories, their files and quants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum


class SortKey(str, Enum):
    """How search results are ordered (always best first). Values are the Hub's `sort` parameter."""

    DOWNLOADS = "downloads"
    LIKES = "likes"
    TRENDING = "trendingScore"
    UPDATED = "lastModified"

    @classmethod
    def parse(cls, text: str) -> SortKey:
        aliases = {
            "downloads": cls.DOWNLOADS,
            "likes": cls.LIKES,
            "trending": cls.TRENDING,
            "updated": cls.UPDATED,
            "recent": cls.UPDATED,
        }
        key = text.strip().lower()
        if key in aliases:
            return aliases[key]
        return cls(text)


@dataclass(frozen=True, slots=True)
class SearchResult:
    repo_id: str
    author: str
    downloads: int
    likes: int
    last_modified: datetime | None
    n_params: int | None  # from the Hub's GGUF summary
    architecture: str | None
    gated: bool

    @property
    def name(self) -> str:
        return self.repo_id.split("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class RepoFile:
    path: str
    size: int
    sha256: str | None  # LFS files only: the Hub publishes the sha256 of their content
    blob_id: str | None = None

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


class QuantKind(str, Enum):
    MODEL = "model"
    MMPROJ = "mmproj"
    IMATRIX = "imatrix"


@dataclass(frozen=True, slots=True)
class Quant:
    """One downloadable unit: a single GGUF, or all parts of a split set together (`files` in part order)."""

    label: str  # "Q4_K_M"; the file name when no label can be read from it
    files: tuple[RepoFile, ...]
    kind: QuantKind = QuantKind.MODEL

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def is_split(self) -> bool:
        return len(self.files) > 1

    @property
    def first(self) -> RepoFile:
        return self.files[0]

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.files)

    def bits_per_weight(self, n_params: int | None) -> float | None:
        """File bits per parameter (metadata included, a close upper bound)."""
        return self.size * 8 / n_params if n_params else None


@dataclass(frozen=True, slots=True)
class RepoDetail:
    repo_id: str
    author: str
    sha: str | None
    card_markdown: str
    gated: bool | str  # False, "auto" or "manual"
    downloads: int
    likes: int
    last_modified: datetime | None
    n_params: int | None
    architecture: str | None
    context_length: int | None
    quants: tuple[Quant, ...]  # language-model files, smallest first
    mmproj: tuple[Quant, ...]
    imatrix: tuple[RepoFile, ...]
    other_files: tuple[RepoFile, ...]

    def quant(self, label: str) -> Quant:
        for q in self.quants:
            if q.label.upper() == label.upper():
                return q
        raise KeyError(label)


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    fullname: str
    token_name: str
    role: str  # read | write | fineGrained | ""
