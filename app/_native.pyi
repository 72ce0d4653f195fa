# Types of the native extension built from native/ (module.cpp).
from typing import Any

def convert(
    src: Any,
    src_type: int,
    dst: Any,
    dst_type: int,
    n_cols: int,
    rows: Any | None = ...,
    shift: float = ...,
    n_threads: int = ...,
) -> None: ...
def row_bytes(type: int, n_cols: int, /) -> int: ...

class ImatrixCollector:
    def __init__(self, process_output: bool = ..., min_tokens: int = ...) -> None: ...
    def addresses(self) -> tuple[int, int]: ...
    def entries(self) -> dict[str, tuple[bytes, tuple[int, ...]]]: ...

# GGUF header walks (gguf_walk.cpp): each stops before the first item it cannot prove sound, never raises for data.
def gguf_skip_strings(data: Any, pos: int, count: int, limit: int, /) -> tuple[int, int]: ...
def gguf_tensor_infos(
    data: Any, pos: int, count: int, size: int, types: Any, /
) -> tuple[list[tuple[int, str, tuple[int, ...], int, int, int]], int]: ...
