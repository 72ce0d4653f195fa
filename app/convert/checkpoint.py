"""A Hugging Face model folder: config.json, safetensors shards and tokenizer files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.convert.safetensors_file import TensorRef, read_header
from app.core.errors import ConvertError

PICKLE_SUFFIXES = (".bin", ".pth", ".pt", ".ckpt", ".pkl")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    folder: Path
    config: dict[str, Any]
    tensors: dict[str, TensorRef]

    @property
    def architecture(self) -> str:
        archs = self.config.get("architectures") or []
        return str(archs[0]) if archs else ""


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConvertError(f"{path.name} is missing from {path.parent}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConvertError(f"{path.name} in {path.parent} cannot be read: {exc}") from exc
    if not isinstance(data, dict):
        raise ConvertError(f"{path.name} in {path.parent} is not a JSON object")
    return data


def read_json_if_exists(path: Path) -> dict[str, Any]:
    return read_json(path) if path.is_file() else {}


def shard_files(folder: Path) -> list[Path]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        weight_map = read_json(index).get("weight_map") or {}
        names = sorted({str(v) for v in weight_map.values()})
        files = [folder / n for n in names]
        missing = [f.name for f in files if not f.is_file() or f.parent != folder]
        if missing:
            raise ConvertError(f"shards listed in the index are missing: {', '.join(missing[:5])}")
        return files
    files = sorted(folder.glob("*.safetensors"))
    if files:
        return files
    pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
    if pickles:
        raise ConvertError(
            f"{folder.name} holds only PyTorch pickle weights ({', '.join(pickles[:3])}); "
            "they are never loaded because a pickle can run code",
            hint="use a repository that publishes .safetensors weights",
        )
    raise ConvertError(f"no .safetensors weights found in {folder}")


def open_checkpoint(folder: Path) -> Checkpoint:
    if not folder.is_dir():
        raise ConvertError(f"{folder} is not a folder")
    config = read_json(folder / "config.json")
    tensors: dict[str, TensorRef] = {}
    for shard in shard_files(folder):
        # Each shard's tensors by name, as llama.cpp's converter visits them: tensor order in the GGUF follows.
        for ref in sorted(read_header(shard), key=lambda r: r.name):
            if ref.name in tensors:
                raise ConvertError(f"tensor {ref.name!r} appears in two shards")
            tensors[ref.name] = ref
    return Checkpoint(folder=folder, config=config, tensors=tensors)
