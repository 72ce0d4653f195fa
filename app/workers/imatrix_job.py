"""Entry point of an importance-matrix job process."""

from __future__ import annotations

from multiprocessing.connection import Connection

from app.quantize.pipeline import ImatrixSpec, run_imatrix
from app.quantize.runner import serve


def main(conn: Connection, spec: ImatrixSpec) -> None:
    serve(conn, lambda emit: (run_imatrix(spec, emit),))
