"""GGUF files without Qt: header reader (local, bytes, ranged), ggml type table, model facts, names."""

from app.gguf.facts import ModelFacts, model_facts
from app.gguf.reader import GGUFHeader, TensorInfo, read_header, read_header_bytes, read_header_ranged
from app.gguf.remote import read_header_url
from app.gguf.split import GGUFModel, merge_parts, read_model
from app.gguf.values import ArrayRef, Value, ValueType, as_sequence

__all__ = [
    "ArrayRef",
    "GGUFHeader",
    "GGUFModel",
    "ModelFacts",
    "TensorInfo",
    "Value",
    "ValueType",
    "as_sequence",
    "merge_parts",
    "model_facts",
    "read_header",
    "read_header_bytes",
    "read_header_ranged",
    "read_header_url",
    "read_model",
]
