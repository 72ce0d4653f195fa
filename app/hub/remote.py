"""Read the exact GGUF header of a file on the Hub with a few HTTP range requests, before any download."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from huggingface_hub import get_hf_file_metadata, hf_hub_url

from app.core.errors import HubError
from app.core.hubenv import hub_endpoint
from app.gguf.reader import GGUFHeader, read_header_ranged
from app.gguf.split import GGUFModel, merge_parts
from app.gguf.window import Fetch
from app.hub import client
from app.hub.errors import hub_call
from app.hub.models import Quant

log = logging.getLogger("app.hub")


def _same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)


def _range_fetcher(url: str, token: str | None) -> Fetch:
    # The token goes to the Hub only, never to the CDN a file redirects to.
    send_token = token if _same_origin(url, hub_endpoint()) else False

    def fetch(start: int, end: int) -> bytes:
        response = client.get(url, token=send_token, extra_headers={"Range": f"bytes={start}-{end - 1}"})
        if response.status_code != 206:
            raise HubError(f"The server ignored a range request for {url} (status {response.status_code})")
        return response.content

    return fetch


def remote_header(repo_id: str, path: str, revision: str = "main", token: str | None = None) -> GGUFHeader:
    """The header of one GGUF file in a repository (metadata and tensor infos; no tensor data)."""
    url = hf_hub_url(repo_id, path, revision=revision, endpoint=hub_endpoint())
    with hub_call(repo_id):
        meta = get_hf_file_metadata(url, token=token, timeout=client.TIMEOUT_S, endpoint=hub_endpoint())
        if meta.size is None:
            raise HubError(f"The Hub did not give the size of {path}")
        log.debug("reading remote header of %s/%s (%d bytes)", repo_id, path, meta.size)
        return read_header_ranged(_range_fetcher(meta.location, token), meta.size, source=f"{repo_id}/{path}")


def remote_model(repo_id: str, quant: Quant, revision: str = "main", token: str | None = None) -> GGUFModel:
    """All parts' headers of a quant, merged (a split set reads as one model)."""
    headers = [remote_header(repo_id, f.path, revision, token) for f in quant.files]
    return merge_parts(headers)
