"""Entry point of a conversion job process (Hugging Face folder -> GGUF)."""

from __future__ import annotations

from multiprocessing.connection import Connection

from app.quantize.pipeline import ConvertSpec, run_convert
from app.quantize.runner import serve


def main(conn: Connection, spec: ConvertSpec) -> None:
    serve(conn, lambda emit: (run_convert(spec, emit),))
