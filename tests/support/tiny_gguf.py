"""Tiny loadable GGUF models for tests and benchmarks.

The generator lives in `app.gguf.synthetic` because the installed app's self-test uses it too.
"""

from app.gguf.synthetic import LARGE_VOCAB, TinySpec, vocabulary, write_tiny_gguf

__all__ = ["LARGE_VOCAB", "TinySpec", "vocabulary", "write_tiny_gguf"]
