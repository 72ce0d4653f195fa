"""Entry point of an importance-matrix job process."""

from __future__ import annotations

from app.process.channel import Channel
from app.quantize.pipeline import ImatrixSpec, run_imatrix
from app.quantize.runner import serve


def main(channel: Channel, spec: ImatrixSpec) -> None:
    serve(channel, lambda emit: (run_imatrix(spec, emit),))
