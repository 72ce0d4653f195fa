"""Images and audio in messages (no llama.cpp here): where they go in the text, and images made ready for mtmd.

A message's media parts are placed in its text by MEDIA_MARKER, one per part, in order; parts without a marker
go in front of the text (as vision models are mostly trained: the image, then the question). Text a user typed
never holds a marker: `compose` breaks any it finds, so text cannot pull an image into another place.

Images are decoded here with Pillow, not by mtmd's stb_image: WebP works, a 50-megapixel photo is scaled down
before it costs hundreds of megabytes, and a decompression bomb is refused from its header alone.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from app.chat.protocol import ChatMessage, MediaKind, MediaPart
from app.core.errors import MediaError

MEDIA_MARKER = "<__media__>"  # mtmd's default marker, given to mtmd_init_from_file explicitly
_BROKEN_MARKER = "<_\u200b_media__>"  # what a typed marker becomes: the same look, no longer a marker

IMAGE_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif",
                 "BMP": "image/bmp"}
AUDIO_MIME = {"wav": "audio/wav", "mp3": "audio/mpeg", "flac": "audio/flac"}
MAX_SIDE = 2048  # longer sides are scaled down: every projector resizes far below this anyway
MAX_PIXELS = 89_478_485  # refused from the header alone (Pillow's own bomb limit): no camera takes these
MAX_BYTES = 64 * 1024 * 1024  # a single part's file size


@dataclass(frozen=True, slots=True)
class PreparedImage:
    """RGB pixels ready for mtmd_bitmap_init, and what was done to them."""

    width: int
    height: int
    rgb: bytes
    original_size: tuple[int, int]
    format: str

    @property
    def downscaled(self) -> bool:
        return (self.width, self.height) != self.original_size


def compose(parts: Iterable[str | MediaPart]) -> tuple[str, tuple[MediaPart, ...]]:
    """Content and media of a message from its parts in order (OpenAI content parts, the Chat page's input)."""
    text: list[str] = []
    media: list[MediaPart] = []
    for part in parts:
        if isinstance(part, MediaPart):
            media.append(part)
            text.append(MEDIA_MARKER)
        else:
            text.append(safe_text(part))
    return "".join(text), tuple(media)


def safe_text(text: str) -> str:
    """`text` with any literal media marker broken, so only real parts are markers."""
    return text.replace(MEDIA_MARKER, _BROKEN_MARKER)


def placed(message: ChatMessage) -> ChatMessage:
    """The message with exactly one marker per media part: surplus markers broken, missing ones in front."""
    count = message.content.count(MEDIA_MARKER)
    n = len(message.media)
    if count == n:
        return message
    if count > n:
        head, *rest = message.content.split(MEDIA_MARKER)
        kept = [head]
        for i, piece in enumerate(rest):
            kept.append((MEDIA_MARKER if i < n else _BROKEN_MARKER) + piece)
        return replace(message, content="".join(kept))
    missing = n - count
    return replace(message, content=MEDIA_MARKER * missing + ("\n" if message.content else "") + message.content)


def media_of(messages: Sequence[ChatMessage]) -> list[MediaPart]:
    return [part for message in messages for part in message.media]


def has_media(messages: Sequence[ChatMessage]) -> bool:
    return any(message.media for message in messages)


def digest(part: MediaPart) -> bytes:
    """What identifies a part's content (the engine keeps an evaluated image in its cache by this)."""
    return hashlib.sha256(part.kind.encode() + b"\0" + part.data).digest()


def sniff(data: bytes) -> MediaKind | None:
    """Image or audio from the first bytes; None when neither."""
    if data.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM")) or data[8:12] == b"WEBP":
        return "image"
    wav = data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    if wav or data.startswith((b"ID3", b"fLaC", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")):
        return "audio"
    return None


def prepare_image(data: bytes, *, max_side: int = MAX_SIDE, max_pixels: int = MAX_PIXELS) -> PreparedImage:
    """Decoded RGB pixels of a PNG, JPEG, WebP, GIF (first frame) or BMP, scaled down to `max_side`.
    MediaError for anything that is not such an image, is damaged, or is absurdly large."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise MediaError("The image is empty", hint="attach the image file again")
    if len(data) > MAX_BYTES:
        raise MediaError(f"The image is {len(data) / 2**20:.0f} MiB, more than {MAX_BYTES // 2**20} MiB",
                         hint="attach a smaller image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:  # reads the header only
                fmt = probe.format or ""
                width, height = probe.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaError("The image is too large to decode safely (its header claims more than "
                         f"{max_pixels // 1_000_000} megapixels)", hint="scale it down first") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise MediaError("The image cannot be read: it is damaged or not an image",
                         hint="attach a PNG, JPEG or WebP file") from exc
    if fmt not in IMAGE_FORMATS:
        raise MediaError(f"{fmt or 'This'} images are not supported", hint="attach a PNG, JPEG or WebP file")
    if width <= 0 or height <= 0 or width * height > max_pixels:
        raise MediaError(f"The image is {width}×{height} pixels, too large to decode safely",
                         hint=f"scale it below {max_pixels // 1_000_000} megapixels first")
    try:
        with Image.open(io.BytesIO(data)) as image:
            scale = min(1.0, max_side / max(width, height))
            target = (max(1, round(width * scale)), max(1, round(height * scale)))
            if scale < 1.0 and fmt == "JPEG":
                image.draft("RGB", target)  # JPEG decodes at a fraction of the size: a 50 MP photo stays cheap
            image.load()
            rgb = image.convert("RGB")
            if rgb.size != target:
                rgb = rgb.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
            pixels = rgb.tobytes()
    except (OSError, ValueError, SyntaxError) as exc:
        raise MediaError("The image cannot be read: it is damaged or truncated",
                         hint="attach the image file again") from exc
    return PreparedImage(target[0], target[1], pixels, (width, height), fmt)


__all__ = [
    "AUDIO_MIME",
    "IMAGE_FORMATS",
    "MEDIA_MARKER",
    "PreparedImage",
    "compose",
    "digest",
    "has_media",
    "media_of",
    "placed",
    "prepare_image",
    "safe_text",
    "sniff",
]
