"""Images and audio in API requests: OpenAI `image_url` / `input_audio` content parts and Anthropic image
blocks, parsed into the engine's MediaParts. Anything malformed is a 400 naming the field.

Images come as data URLs or base64. A remote URL is refused unless the server was started to fetch them
(ServerConfig.fetch_remote_images): the server would make requests to wherever a caller points it, the user's
LAN included. Parsing leaves a remote image as a placeholder part; app.server.remote_images fetches or
refuses it.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any

from app.chat.media import IMAGE_FORMATS, compose, sniff
from app.chat.projector import projectors_beside
from app.chat.protocol import MediaPart
from app.server.errors import bad_request

_IMAGE_MIMES = frozenset(IMAGE_FORMATS.values()) | {"image/jpg"}
_AUDIO_FORMATS = {"wav": "audio/wav", "mp3": "audio/mpeg", "flac": "audio/flac"}
REMOTE_HINT = ("remote image URLs are not fetched; send the image inline as a data URL (data:image/png;base64,...) "
                "or start the server with --fetch-remote-images")
REMOTE_MIME = "text/uri-list"  # a placeholder part: `name` is the URL to fetch, `data` is empty


def _decoded(text: str, where: str) -> bytes:
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise bad_request(f"{where}: the data is not valid base64", where) from exc
    if not data:
        raise bad_request(f"{where}: the data is empty", where)
    return data


def image_from_url(url: Any, where: str) -> MediaPart:
    """An image from an OpenAI `image_url.url`: a data URL only."""
    if not isinstance(url, str) or not url:
        raise bad_request(f"{where} must be a data URL", where)
    if not url.startswith("data:"):
        if url.startswith(("http://", "https://")):
            return MediaPart("image", b"", REMOTE_MIME, url)
        if url.startswith(("file:", "ftp:")):
            raise bad_request(f"{where}: only data URLs and http(s) URLs are accepted", where)
        raise bad_request(f"{where} must be a data URL (data:image/png;base64,...)", where)
    header, sep, payload = url[5:].partition(",")
    mime, *params = header.split(";")
    if not sep or "base64" not in params:
        raise bad_request(f"{where}: only base64 data URLs are accepted (data:image/png;base64,...)", where)
    mime = mime.strip().lower()
    if mime and mime not in _IMAGE_MIMES:
        raise bad_request(f"{where}: {mime} is not a supported image type (PNG, JPEG, WebP, GIF, BMP)", where)
    data = _decoded(payload, where)
    if sniff(data) != "image":
        raise bad_request(f"{where}: the data is not a PNG, JPEG, WebP, GIF or BMP image", where)
    return MediaPart("image", data, mime or "image/png")


def openai_part(part: Any, where: str) -> str | MediaPart:
    """One content part of an OpenAI user message: text, an image or an audio clip."""
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text" and isinstance(part.get("text"), str):
        return str(part["text"])
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        return image_from_url(url, f"{where}.image_url.url")
    if kind == "input_audio":
        audio = part.get("input_audio")
        if not isinstance(audio, dict) or not isinstance(audio.get("data"), str):
            raise bad_request(f"{where}.input_audio must be {{data: base64, format: wav|mp3}}", f"{where}.input_audio")
        fmt = str(audio.get("format", "wav")).lower()
        if fmt not in _AUDIO_FORMATS:
            raise bad_request(f"{where}.input_audio.format must be wav, mp3 or flac", f"{where}.input_audio.format")
        data = _decoded(audio["data"], f"{where}.input_audio.data")
        return MediaPart("audio", data, _AUDIO_FORMATS[fmt])
    name = kind if kind is not None else type(part).__name__
    raise bad_request(f"{where}: content parts may be text, image_url or input_audio, not {name!r}", where)


def openai_content(content: list[Any], where: str) -> tuple[str, tuple[MediaPart, ...]]:
    """A user message's content list as the engine's text (with media markers) and media."""
    return compose(openai_part(part, f"{where}[{i}]") for i, part in enumerate(content))


def anthropic_image(block: dict[str, Any], where: str) -> MediaPart:
    """An Anthropic image block: `source` of type base64 (a url source is refused, as remote URLs are)."""
    source = block.get("source")
    if not isinstance(source, dict):
        raise bad_request(f"{where}.source must be {{type: base64, media_type, data}}")
    if source.get("type") == "url":
        return image_from_url(source.get("url"), f"{where}.source.url")
    if source.get("type") != "base64" or not isinstance(source.get("data"), str):
        raise bad_request(f"{where}.source must be {{type: base64, media_type, data}}")
    mime = str(source.get("media_type", "")).lower()
    if mime not in _IMAGE_MIMES:
        raise bad_request(f"{where}.source.media_type must be image/png, image/jpeg, image/webp or image/gif")
    data = _decoded(source["data"], f"{where}.source.data")
    if sniff(data) != "image":
        raise bad_request(f"{where}.source.data is not a PNG, JPEG, WebP or GIF image")
    return MediaPart("image", data, mime)


def capabilities(model_path: Path) -> list[str]:
    """What a library model takes besides text ("vision", "audio"): its projector's, when one is beside it."""
    found = projectors_beside(model_path)
    if not found:
        return []
    best = found[0]
    return [name for name, has in (("vision", best.vision), ("audio", best.audio)) if has]


__all__ = [
    "REMOTE_HINT",
    "REMOTE_MIME",
    "anthropic_image",
    "capabilities",
    "image_from_url",
    "openai_content",
    "openai_part",
]
