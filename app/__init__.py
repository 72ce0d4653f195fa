"""GGUF Studio: discover, download, quantize and chat with GGUF models."""

__version__ = "0.1.0"
