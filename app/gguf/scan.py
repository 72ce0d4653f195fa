"""Skipping GGUF string arrays (a vocabulary of 262k strings) without a Python step per string.

A GGUF string is a u64 length then its bytes. Nearly every vocabulary string is shorter than 256 bytes,
so its length field is one byte L followed by seven zero bytes. Two scanners use that, and both are
exact: anything they cannot prove is left to the caller's one-by-one loop.

* `numpy_run`: marks every offset whose u64 is below 256 as a candidate start, computes where
  each candidate's string would end, and accepts the leading candidates that form an unbroken chain
  from the current offset (each one ending exactly where the next begins). A chain that starts at a
  true string start and links every step is, by induction, the real sequence of strings.
* `regex_run(n)`: one match of n consecutive strings in the C regex engine, one branch per length.
"""

from __future__ import annotations

import re
import sys
from functools import cache
from typing import Any


def numpy_run(data: Any, pos: int, limit: int, most: int) -> tuple[int, int]:
    """Strings proven to start at `pos`, looking at bytes [pos, limit): (how many, where the last ends).

    At most `most` strings. The end may lie past `limit` (the last string's bytes are not needed).
    """
    if limit - pos <= 8 or most <= 0:
        return 0, pos
    import numpy as np

    block = np.frombuffer(data, dtype=np.uint8, count=limit - pos, offset=pos)
    # the u64 at every byte offset (overlapping, unaligned): below 256 means seven zero bytes follow
    words = np.ndarray((limit - pos - 7,), dtype="<u8", buffer=data, offset=pos, strides=(1,))
    starts = np.flatnonzero(words < 256)
    if len(starts) == 0 or starts[0] != 0:
        return 0, pos
    ends = starts + 8 + block[starts]
    breaks = np.flatnonzero(ends[:-1] != starts[1:])
    n = int(breaks[0]) + 1 if len(breaks) else len(starts)
    n = min(n, most)
    return n, pos + int(ends[n - 1])


@cache
def regex_run(n: int) -> re.Pattern[bytes]:
    """Matches `n` consecutive GGUF strings shorter than 256 bytes, in one call into the C regex engine.

    Each branch handles one length L: the length's low byte is L, its other seven bytes zero, then
    exactly L bytes. Only one branch can start at a given byte, so the match is exact. Each string is an
    atomic group where the engine has them (Python 3.11+), so a failing run is not retried branch by
    branch.
    """
    zeros = b"\x00" * 7
    branches = b"|".join(re.escape(bytes([length]) + zeros) + b".{%d}" % length for length in range(256))
    group = b"(?>" if sys.version_info >= (3, 11) else b"(?:"
    return re.compile(b"(?s)(?:" + group + branches + b")){%d}" % n)
