"""Entry point of a quantize job process (see app.quantize.pipeline.run_quantize)."""

from __future__ import annotations

from app.process.channel import Channel
from app.quantize.pipeline import QuantizeSpec, run_quantize
from app.quantize.runner import serve


def main(channel: Channel, spec: QuantizeSpec) -> None:
    serve(channel, lambda emit: tuple(run_quantize(spec, emit)))
