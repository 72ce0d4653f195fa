"""Sign-in with a Hub access token, stored where huggingface_hub keeps it so other tools see it too.

The token is never logged; only the account name is.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from huggingface_hub import constants, get_token

from app.core.errors import UnauthorizedError
from app.hub import client
from app.hub.errors import hub_call
from app.hub.models import Account

log = logging.getLogger("app.hub")


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _account(info: dict[str, Any]) -> Account:
    access = _dict(_dict(info.get("auth")).get("accessToken"))
    name = str(info.get("name") or "")
    return Account(
        name=name,
        fullname=str(info.get("fullname") or name),
        token_name=str(access.get("displayName") or f"oauth-{name}"),
        role=str(access.get("role") or ""),
    )


def whoami(token: str | None = None) -> Account:
    """The account behind `token` (default: the stored one or HF_TOKEN). UnauthorizedError when invalid."""
    token = token if token is not None else get_token()
    if not token:
        raise UnauthorizedError("You are not signed in to the Hub", hint="add an access token in Settings")
    with hub_call():
        info = client.api().whoami(token=token)
    return _account(info)


def sign_in(token: str) -> Account:
    """Validate `token` with the Hub and store it as huggingface_hub's active token."""
    token = token.strip()
    if not token:
        raise UnauthorizedError("Enter an access token", hint="create one at huggingface.co/settings/tokens")
    account = whoami(token)
    # huggingface_hub's own storage (stored_tokens + token file): `hf auth` and other tools read the same files.
    from huggingface_hub._login import _save_token, _set_active_token

    _save_token(token=token, token_name=account.token_name)
    _set_active_token(token_name=account.token_name, add_to_git_credential=False)
    log.info("signed in to the Hub as %s", account.name)
    return account


def sign_out() -> None:
    """Forget every stored token (HF_TOKEN in the environment, if set, still applies)."""
    # The same two files huggingface_hub's logout() deletes (without its git-credential side trip).
    for path in (constants.HF_TOKEN_PATH, constants.HF_STORED_TOKENS_PATH):
        Path(path).unlink(missing_ok=True)
    log.info("signed out of the Hub")


def token_from_environment() -> bool:
    """True when HF_TOKEN (or its older name) is set: it wins over the stored token and survives sign-out."""
    return bool(os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN"))


def stored_token() -> str | None:
    """The token huggingface_hub would use now (environment first, then the stored one)."""
    return get_token()
