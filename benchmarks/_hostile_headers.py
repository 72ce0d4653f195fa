"""The hostile GGUF headers of the fault-injection pass (#15 item 6), written into a folder for benchmarks."""

from __future__ import annotations

import struct
from pathlib import Path


def _s(raw: bytes) -> bytes:
    return struct.pack("<Q", len(raw)) + raw


def _gemma_with(gemma: Path, edits: list[tuple[int, bytes]]) -> bytes:
    data = bytearray(gemma.read_bytes())
    for offset, raw in edits:
        data[offset : offset + len(raw)] = raw
    return bytes(data)


def write_hostile_headers(folder: Path, gemma: Path) -> dict[str, Path]:
    """name → file; each one a header that used to stall a reader (or would, without the work limits)."""
    from app.gguf.reader import _MIN_KV_BYTES, _MIN_TENSOR_BYTES, read_header
    from app.gguf.values import ArrayRef

    folder.mkdir(parents=True, exist_ok=True)
    header = read_header(gemma)
    keys = list(header.metadata)
    tokens, scores = header.metadata["tokenizer.ggml.tokens"], header.metadata["tokenizer.ggml.scores"]
    assert isinstance(tokens, ArrayRef) and isinstance(scores, ArrayRef)
    size = header.file_size
    raw = gemma.read_bytes()
    arch_length_at = raw.index(b"general.architecture") + len(b"general.architecture") + 4
    after_tokens = tokens.offset + tokens.n_bytes  # the next key's length field
    scores_room = size - scores.offset
    need = (len(keys) - keys.index("tokenizer.ggml.scores") - 1) * _MIN_KV_BYTES + len(header.tensors) * (
        _MIN_TENSOR_BYTES
    )
    key = b"tokenizer.ggml.tokens"
    empty_strings = _s(key) + struct.pack("<IIQ", 9, 8, 5_000_000) + bytes(8 * 5_000_000)
    entry = _s(b"k") + struct.pack("<IB", 7, 1)
    files = {
        "5M empty strings (40 MB)": (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + empty_strings),
        "1M metadata entries": b"GGUF" + struct.pack("<IQQ", 3, 0, 1_000_000) + entry * 1_000_000,
        "Gemma, 2 flipped bytes in a key length": _gemma_with(
            gemma, [(after_tokens + 3, b"\x05"), (after_tokens + 1, b"\x01")]
        ),
        "Gemma, 1 flipped byte in a string length": _gemma_with(gemma, [(arch_length_at + 3, b"\x05")]),
        "Gemma, scores count runs to the file end": _gemma_with(
            gemma, [(scores.offset - 8, struct.pack("<Q", (scores_room - 1000) // 4))]
        ),
        "Gemma, scores count leaves just the room": _gemma_with(
            gemma, [(scores.offset - 8, struct.pack("<Q", (scores_room - need) // 4))]
        ),
    }
    out: dict[str, Path] = {}
    for index, (name, data) in enumerate(files.items()):
        path = folder / f"hostile-{index + 1}.gguf"
        path.write_bytes(data)
        out[name] = path
    return out
