"""Remote images of a parsed request (placeholder parts made by app.server.media_parts): fetched when the server
allows it (ServerConfig.fetch_remote_images), else a 400 that says how to send the image instead."""

from __future__ import annotations

from dataclasses import replace

from app.chat.media import MAX_BYTES, sniff
from app.chat.protocol import MediaPart
from app.server.errors import bad_request
from app.server.media_parts import REMOTE_HINT, REMOTE_MIME
from app.server.schemas import GenerationRequest

FETCH_TIMEOUT_S = 15.0


def _remote(request: GenerationRequest) -> list[str]:
    return [part.name for m in request.messages for part in m.media if part.mime == REMOTE_MIME]


def fetch_image(url: str) -> bytes:
    """One remote image: http(s) only, a timeout, at most MAX_BYTES, and it must be an image."""
    import httpx2

    try:
        with httpx2.stream("GET", url, timeout=FETCH_TIMEOUT_S, follow_redirects=True) as response:
            if response.status_code != 200:
                raise bad_request(f"the image at {url} could not be fetched (HTTP {response.status_code})")
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > MAX_BYTES:
                    raise bad_request(f"the image at {url} is larger than {MAX_BYTES // 2**20} MiB")
    except httpx2.HTTPError as exc:
        raise bad_request(f"the image at {url} could not be fetched: {exc}") from exc
    if sniff(bytes(data[:16])) != "image":
        raise bad_request(f"{url} is not a PNG, JPEG, WebP, GIF or BMP image")
    return bytes(data)


async def resolve_remote(request: GenerationRequest, allowed: bool) -> GenerationRequest:
    """The request with its remote images fetched (off the event loop), or a 400 when fetching is off."""
    urls = _remote(request)
    if not urls:
        return request
    if not allowed:
        raise bad_request(f"{urls[0]}: {REMOTE_HINT}")
    import anyio.to_thread

    fetched = {url: await anyio.to_thread.run_sync(fetch_image, url) for url in dict.fromkeys(urls)}

    def filled(part: MediaPart) -> MediaPart:
        return replace(part, data=fetched[part.name], mime="") if part.mime == REMOTE_MIME else part

    messages = tuple(replace(m, media=tuple(filled(p) for p in m.media)) if m.media else m
                     for m in request.messages)
    return replace(request, messages=messages)


__all__ = ["fetch_image", "resolve_remote"]
