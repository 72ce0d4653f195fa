"""Reading checkpoints: safetensors headers parsed by us, hostile inputs refused, pickles never opened."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from app.convert.architectures import find_architecture
from app.convert.checkpoint import open_checkpoint
from app.convert.safetensors_file import MappedFiles, bf16_to_f32, read_header
from app.core.errors import ConvertError


def write_safetensors(path: Path, tensors: dict[str, tuple[str, tuple[int, ...], bytes]]) -> None:
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    blob = b""
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + blob)


def test_reads_f32_f16_and_bf16(tmp_path: Path) -> None:
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([1.5, -2.0], dtype=np.float16)
    c = (np.array([1.0, -3.5], dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16)
    path = tmp_path / "model.safetensors"
    write_safetensors(
        path, {"a": ("F32", (2, 3), a.tobytes()), "b": ("F16", (2,), b.tobytes()), "c": ("BF16", (2,), c.tobytes())}
    )
    refs = {r.name: r for r in read_header(path)}
    files = MappedFiles()
    assert np.array_equal(files.raw(refs["a"]), a)
    assert np.array_equal(files.raw(refs["b"]), b)
    assert list(bf16_to_f32(files.raw(refs["c"]))) == [1.0, -3.5]
    files.close()


@pytest.mark.parametrize(
    "payload",
    [
        b"\x01\x00",  # too short
        struct.pack("<Q", 1 << 40) + b"{}",  # header length beyond the file
        struct.pack("<Q", 5) + b"nope!",  # not JSON
        struct.pack("<Q", 2) + b"[]",  # not an object
    ],
)
def test_corrupt_headers_are_refused(tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "x.safetensors"
    path.write_bytes(payload)
    with pytest.raises(ConvertError):
        read_header(path)


def test_tensor_outside_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.safetensors"
    write_safetensors(path, {"a": ("F32", (4,), b"\x00" * 16)})
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(ConvertError, match="outside the file"):
        read_header(path)


def test_pickle_only_checkpoint_is_refused_without_opening(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04 this would be a pickle")
    with pytest.raises(ConvertError, match="pickle"):
        open_checkpoint(tmp_path)


def test_unsupported_architecture_names_the_supported_ones() -> None:
    with pytest.raises(ConvertError) as err:
        find_architecture("FalconForCausalLM")
    text = str(err.value)
    assert "FalconForCausalLM" in text and "Qwen3" in text and "Gemma 3" in text and "Phi-3" in text


def test_missing_config_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConvertError, match=r"config\.json is missing"):
        open_checkpoint(tmp_path)
