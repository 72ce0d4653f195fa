"""A repository in detail: its model card and its GGUF files grouped into quants."""

from __future__ import annotations

import dataclasses
import json
import logging

from huggingface_hub import hf_hub_url
from huggingface_hub.errors import EntryNotFoundError

from app.core.errors import AppError, HubError
from app.core.hubenv import hub_endpoint
from app.gguf.naming import quant_label
from app.gguf.types import file_type_labels
from app.hub import client
from app.hub.errors import hub_call
from app.hub.grouping import group_files
from app.hub.models import Quant, RepoDetail, RepoFile
from app.hub.remote import remote_header

log = logging.getLogger("app.hub")

MAX_CARD_BYTES = 512 * 1024
MAX_CONFIG_BYTES = 4 * 1024 * 1024


def strip_front_matter(text: str) -> str:
    """The model card without its YAML metadata block."""
    if text.startswith("---"):
        end = text.find("\n---", 3)
        if end != -1:
            return text[end + 4 :].lstrip("\n")
    return text


def model_card(repo_id: str, revision: str = "main", token: str | None = None) -> str:
    """README.md as markdown ("" when the repository has none)."""
    url = hf_hub_url(repo_id, "README.md", revision=revision, endpoint=hub_endpoint())
    with hub_call(repo_id):
        try:
            response = client.get(url, token=token)
        except EntryNotFoundError:
            return ""
        data = response.content[:MAX_CARD_BYTES]
    return strip_front_matter(data.decode("utf-8", errors="replace"))


def model_config(repo_id: str, revision: str = "main", token: str | None = None) -> dict[str, object]:
    """config.json of a Transformers repository, alone: what a conversion can be judged by before any weight."""
    url = hf_hub_url(repo_id, "config.json", revision=revision, endpoint=hub_endpoint())
    with hub_call(repo_id):
        response = client.get(url, token=token)
    try:
        data = json.loads(response.content[:MAX_CONFIG_BYTES])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HubError(f"config.json of {repo_id} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise HubError(f"config.json of {repo_id} is not a JSON object")
    return data


def label_from_headers(repo_id: str, quants: tuple[Quant, ...], revision: str, token: str | None) -> tuple[Quant, ...]:
    """Quants whose file name carries no quant label get it from their header's general.file_type (a few range
    requests each; rare on the Hub). A header that cannot be read leaves the file name as the label."""
    out = []
    for q in quants:
        if quant_label(q.first.path) is None:
            try:
                file_type = remote_header(repo_id, q.first.path, revision, token).metadata.get("general.file_type")
            except AppError as exc:
                log.info("no header label for %s: %s", q.first.path, exc)
            else:
                label = file_type_labels().get(file_type) if isinstance(file_type, int) else None
                if label:
                    q = dataclasses.replace(q, label=label)
        out.append(q)
    return tuple(out)


def repo_detail(repo_id: str, revision: str | None = None, token: str | None = None) -> RepoDetail:
    """Metadata, files (with sizes and sha256) and model card of one repository: two requests (more only for
    GGUF files whose names carry no quant label)."""
    with hub_call(repo_id):
        info = client.api(token).model_info(repo_id, revision=revision, files_metadata=True, timeout=client.TIMEOUT_S)
    files = [
        RepoFile(path=s.rfilename, size=s.size or 0, sha256=s.lfs.sha256 if s.lfs else None, blob_id=s.blob_id)
        for s in info.siblings or []
    ]
    quants, mmproj, imatrix, other = group_files(files)
    quants = label_from_headers(repo_id, quants, info.sha or revision or "main", token)
    summary = info.gguf if isinstance(info.gguf, dict) else {}
    total, arch, ctx = summary.get("total"), summary.get("architecture"), summary.get("context_length")
    card = model_card(repo_id, info.sha or revision or "main", token) if "README.md" in {f.path for f in files} else ""
    return RepoDetail(
        repo_id=info.id,
        author=info.author or (repo_id.split("/")[0] if "/" in repo_id else ""),
        sha=info.sha,
        card_markdown=card,
        gated=info.gated if isinstance(info.gated, str) else bool(info.gated),
        downloads=info.downloads or 0,
        likes=info.likes or 0,
        last_modified=info.last_modified,
        n_params=total if isinstance(total, int) and total > 0 else None,
        architecture=arch if isinstance(arch, str) else None,
        context_length=ctx if isinstance(ctx, int) and ctx > 0 else None,
        quants=quants,
        mmproj=mmproj,
        imatrix=imatrix,
        other_files=other,
    )
