"""Hugging Face Hub access (no Qt): search, repository detail, remote GGUF headers, sign-in.

Every call reads HF_ENDPOINT / HF_HUB_OFFLINE / the token at call time and raises only app.core.errors
HubError subclasses (OfflineError, NotFoundError, GatedRepoError, UnauthorizedError, RateLimitedError,
ServerError).

The search function is `app.hub.search.search` (a package attribute of that name is the submodule). Names are
imported on first use: huggingface_hub takes most of a second to import, and the GUI's start-up
(the Discover page is the first page) must not pay for it before the first paint.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.hub.auth import sign_in, sign_out, stored_token, whoami
    from app.hub.detail import model_card, repo_detail
    from app.hub.models import Account, Quant, QuantKind, RepoDetail, RepoFile, SearchResult, SortKey
    from app.hub.remote import remote_header, remote_model
    from app.hub.search import SearchPage, iter_search

_WHERE = {
    "sign_in": "auth",
    "sign_out": "auth",
    "stored_token": "auth",
    "whoami": "auth",
    "model_card": "detail",
    "repo_detail": "detail",
    "Account": "models",
    "Quant": "models",
    "QuantKind": "models",
    "RepoDetail": "models",
    "RepoFile": "models",
    "SearchResult": "models",
    "SortKey": "models",
    "remote_header": "remote",
    "remote_model": "remote",
    "SearchPage": "search",
    "iter_search": "search",
}

__all__ = [
    "Account",
    "Quant",
    "QuantKind",
    "RepoDetail",
    "RepoFile",
    "SearchPage",
    "SearchResult",
    "SortKey",
    "iter_search",
    "model_card",
    "remote_header",
    "remote_model",
    "repo_detail",
    "sign_in",
    "sign_out",
    "stored_token",
    "whoami",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'app.hub' has no attribute {name!r}")
    return getattr(importlib.import_module(f"app.hub.{module}"), name)
