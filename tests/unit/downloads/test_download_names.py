"""Hub file names refused before anything is written: spoofing characters and names too long to save."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.errors import DownloadError
from app.downloads.layout import MAX_PART_BYTES, safe_relative_name, target_path
from app.downloads.manager import DownloadManager
from app.downloads.store import QueueStore


@pytest.mark.parametrize(
    "name", ["model\u202efgg.exe.gguf", "x/\u2067evil.gguf", "mo\u200bdel.gguf", "a\u2028b.gguf", "a\x7f.gguf"]
)
def test_names_with_invisible_characters_are_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(DownloadError) as caught:
        target_path(tmp_path, "org/model", name)
    message = str(caught.value)
    assert "invisible or text-reordering" in message
    assert "\\u" in message and not any(c in message for c in "\u202e\u2067\u200b\u2028")


def test_a_300_byte_name_is_refused_up_front_with_a_clear_message(tmp_path: Path) -> None:
    name = "a" * 295 + ".gguf"
    manager = DownloadManager(lambda: tmp_path / "models", store=QueueStore(tmp_path / "q.json"))
    try:
        with pytest.raises(DownloadError) as caught:
            manager.enqueue("org/model", [name])
    finally:
        manager.shutdown()
    assert "300 bytes long" in str(caught.value) and f"allow {MAX_PART_BYTES}" in str(caught.value)
    assert manager.items() == []


def test_the_longest_allowed_name_can_be_saved_with_its_part_suffix(tmp_path: Path) -> None:
    name = "é" * ((MAX_PART_BYTES - 5) // 2) + ".gguf"  # multi-byte: the limit is in bytes
    assert len(name.encode()) <= MAX_PART_BYTES
    path = target_path(tmp_path, "org/model", name)
    path.parent.mkdir(parents=True)
    path.with_name(path.name + ".part").write_bytes(b"x")
    with pytest.raises(DownloadError):
        safe_relative_name("é" * 128 + ".gguf")
