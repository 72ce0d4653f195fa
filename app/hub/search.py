"""Search the Hub for GGUF repositories, one page at a time (the next page is fetched only when asked for)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.core.hubenv import hub_endpoint
from app.hub import client
from app.hub.errors import hub_call
from app.hub.models import SearchResult, SortKey

log = logging.getLogger("app.hub")

PAGE_SIZE = 30
_EXPAND = ("author", "downloads", "likes", "lastModified", "gguf", "gated")


@dataclass(frozen=True, slots=True)
class SearchPage:
    query: str
    sort: SortKey
    results: tuple[SearchResult, ...]
    next_url: str | None  # the Hub's Link rel="next", None on the last page

    @property
    def has_more(self) -> bool:
        return self.next_url is not None

    def next(self, token: str | None = None) -> SearchPage:
        """The following page (one request). Raises ValueError on the last page."""
        if self.next_url is None:
            raise ValueError("no more results")
        return _fetch(self.next_url, None, self.query, self.sort, token)


def parse_datetime(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def parse_result(item: dict[str, Any]) -> SearchResult:
    repo_id = str(item["id"])
    raw = item.get("gguf")
    summary: dict[str, Any] = raw if isinstance(raw, dict) else {}
    total = summary.get("total")
    arch = summary.get("architecture")
    return SearchResult(
        repo_id=repo_id,
        author=str(item.get("author") or (repo_id.split("/")[0] if "/" in repo_id else "")),
        downloads=_int(item.get("downloads")),
        likes=_int(item.get("likes")),
        last_modified=parse_datetime(item.get("lastModified")),
        n_params=total if isinstance(total, int) and total > 0 else None,
        architecture=arch if isinstance(arch, str) else None,
        gated=bool(item.get("gated")),
    )


def _fetch(url: str, params: list[tuple[str, str]] | None, query: str, sort: SortKey, token: str | None) -> SearchPage:
    with hub_call():
        response = client.get(url, params=params, token=token)
        items = response.json()
        next_url = response.links.get("next", {}).get("url")
    if not isinstance(items, list):
        raise ValueError("search answer is not a list")
    results = tuple(parse_result(i) for i in items if isinstance(i, dict) and "id" in i)
    log.debug("search %r: %d results, more=%s", query, len(results), next_url is not None)
    return SearchPage(query, sort, results, next_url)


def search(
    query: str, sort: SortKey = SortKey.DOWNLOADS, page_size: int = PAGE_SIZE, token: str | None = None
) -> SearchPage:
    """First page of GGUF repositories matching `query` (all of them for an empty query), best first."""
    params = [("filter", "gguf"), ("sort", sort.value), ("direction", "-1"), ("limit", str(page_size))]
    if query.strip():
        params.insert(0, ("search", query.strip()))
    params += [("expand[]", key) for key in _EXPAND]
    return _fetch(f"{hub_endpoint()}/api/models", params, query, sort, token)


def iter_search(
    query: str, sort: SortKey = SortKey.DOWNLOADS, limit: int = PAGE_SIZE, token: str | None = None
) -> Iterator[SearchResult]:
    """Up to `limit` results, fetching pages as they are consumed."""
    page = search(query, sort, min(limit, 100), token)
    count = 0
    while True:
        for result in page.results:
            if count >= limit:
                return
            yield result
            count += 1
        if not page.has_more or count >= limit:
            return
        page = page.next(token)
