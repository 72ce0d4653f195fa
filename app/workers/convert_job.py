"""Entry point of a conversion job process (Hugging Face folder -> GGUF)."""

from __future__ import annotations

from app.process.channel import Channel
from app.quantize.pipeline import ConvertSpec, run_convert
from app.quantize.runner import serve


def main(channel: Channel, spec: ConvertSpec) -> None:
    serve(channel, lambda emit: (run_convert(spec, emit),))
