"""Entry point of a quantize job process (see app.quantize.pipeline.run_quantize)."""

from __future__ import annotations

from multiprocessing.connection import Connection

from app.quantize.pipeline import QuantizeSpec, run_quantize
from app.quantize.runner import serve


def main(conn: Connection, spec: QuantizeSpec) -> None:
    serve(conn, lambda emit: tuple(run_quantize(spec, emit)))
