"""Media parts in messages: markers, and images made ready for mtmd (Pillow, no llama.cpp)."""

from __future__ import annotations

import pickle

import pytest

from app.chat import media
from app.chat.media import MEDIA_MARKER, compose, placed, prepare_image, sniff
from app.chat.protocol import ChatMessage, MediaPart
from app.core.errors import MediaError
from tests.support.tiny_vision import image_bytes

RED = MediaPart("image", image_bytes(), "image/png")
BLUE = MediaPart("image", image_bytes(color=(0, 0, 255)), "image/png")


def test_compose_places_a_marker_per_part_and_breaks_typed_ones() -> None:
    content, parts = compose(["look at ", RED, f" and {MEDIA_MARKER} ", BLUE])
    assert parts == (RED, BLUE)
    assert content.count(MEDIA_MARKER) == 2
    assert content.startswith("look at " + MEDIA_MARKER)
    assert content.endswith(MEDIA_MARKER)


@pytest.mark.parametrize(("content", "n", "expected"), [
    ("what is this?", 1, f"{MEDIA_MARKER}\nwhat is this?"),
    ("", 2, MEDIA_MARKER * 2),
    (f"a {MEDIA_MARKER} b", 1, f"a {MEDIA_MARKER} b"),
])
def test_placed_gives_exactly_one_marker_per_part(content: str, n: int, expected: str) -> None:
    message = ChatMessage("user", content, media=(RED,) * n)
    assert placed(message).content == expected


def test_surplus_markers_are_broken_not_dropped() -> None:
    message = placed(ChatMessage("user", f"x {MEDIA_MARKER} y {MEDIA_MARKER} z", media=(RED,)))
    assert message.content.count(MEDIA_MARKER) == 1
    assert message.content.startswith(f"x {MEDIA_MARKER} y ")
    assert placed(ChatMessage("assistant", f"typed {MEDIA_MARKER}")).content.count(MEDIA_MARKER) == 0


def test_a_message_with_media_crosses_the_pipe() -> None:
    message = ChatMessage("user", MEDIA_MARKER, media=(RED,))
    assert pickle.loads(pickle.dumps(message)) == message


def test_prepare_image_gives_rgb_pixels_of_every_format() -> None:
    for fmt in ("PNG", "JPEG", "WEBP", "GIF", "BMP"):
        image = prepare_image(image_bytes(30, 20, fmt=fmt))
        assert (image.width, image.height, image.format) == (30, 20, fmt)
        assert len(image.rgb) == 30 * 20 * 3 and not image.downscaled


def test_a_large_photo_is_scaled_down_keeping_its_shape() -> None:
    image = prepare_image(image_bytes(4096, 1024, fmt="JPEG"), max_side=512)
    assert image.downscaled and image.original_size == (4096, 1024)
    assert (image.width, image.height) == (512, 128)
    assert len(image.rgb) == 512 * 128 * 3


@pytest.mark.parametrize("data", [b"", b"not an image", image_bytes()[:50], b"\x89PNG\r\n\x1a\n" + b"\0" * 30])
def test_damaged_data_is_a_media_error_with_a_hint(data: bytes) -> None:
    with pytest.raises(MediaError) as caught:
        prepare_image(data)
    assert caught.value.hint


def test_an_unsupported_format_is_named() -> None:
    with pytest.raises(MediaError, match="TIFF images are not supported"):
        prepare_image(image_bytes(fmt="TIFF"))


def test_sniff_tells_images_from_audio() -> None:
    assert sniff(image_bytes()) == "image" and sniff(image_bytes(fmt="WEBP")) == "image"
    assert sniff(b"RIFF\0\0\0\0WAVEfmt ") == "audio" and sniff(b"ID3\x04") == "audio"
    assert sniff(b"hello") is None
    assert media.digest(RED) != media.digest(BLUE)
