"""How the Chat page names a remote model where it names local ones by path (no imports: the GUI's first
paint reads this)."""

from __future__ import annotations

REF_PREFIX = "remote://"


def remote_ref(endpoint: str, model: str) -> str:
    """How the Chat page names a remote model where it names local ones by path."""
    return f"{REF_PREFIX}{endpoint}/{model}"


def parse_remote_ref(text: str) -> tuple[str, str] | None:
    """(endpoint name, model id) of a `remote://NAME/MODEL` reference; None for a local path."""
    if not text.startswith(REF_PREFIX):
        return None
    name, _, model = text[len(REF_PREFIX):].partition("/")
    return (name, model) if name and model else None
