"""Skipping GGUF string arrays (a vocabulary of 262k strings) without a Python step per string.

A GGUF string is a u64 length then its bytes. Nearly every vocabulary string is shorter than 256 bytes,
so its length field is one byte L followed by seven zero bytes. Two scanners use that, and both are
exact: anything they cannot prove is left to the caller's one-by-one loop.

* `numpy_run`: marks every offset whose u64 is below 256 as a candidate start, computes where
  each candidate's string would end, and accepts the leading candidates that form an unbroken chain
  from the current offset (each one ending exactly where the next begins). A chain that starts at a
  true string start and links every step is, by induction, the real sequence of strings. Runs of
  strings of one length (empty ones make every offset a candidate) are proven by a strided check.
* `regex_run(n)`: one match of n consecutive strings in the C regex engine, one branch per length.
"""

from __future__ import annotations

import re
import sys
from functools import cache
from typing import Any

_UNIFORM_PROBE = 16  # strings of one length in a row before the strided check is tried
_UNIFORM_ENOUGH = 1024  # a shorter uniform run leaves the block to the chain


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
    uniform = _uniform_run(words, most)
    if uniform is not None and uniform[0] >= min(_UNIFORM_ENOUGH, most):
        n, stride = uniform
        return n, pos + n * stride
    starts = np.flatnonzero(words < 256)
    if len(starts) == 0 or starts[0] != 0:
        return 0, pos
    ends = starts + 8 + block[starts]
    breaks = np.flatnonzero(ends[:-1] != starts[1:])
    n = int(breaks[0]) + 1 if len(breaks) else len(starts)
    n = min(n, most)
    return n, pos + int(ends[n - 1])


def _uniform_run(words: Any, most: int) -> tuple[int, int] | None:
    """Strings of one length in a row, proven by a strided check: (how many, stride), or None when fewer
    than _UNIFORM_PROBE. Such runs defeat the chain above when the strings hold zero bytes (empty strings
    make every offset a candidate); real vocabularies rarely repeat a length that often, so this costs
    them a few scalar reads."""
    length = int(words[0])
    stride = 8 + length
    if length >= 256 or len(words) <= stride * _UNIFORM_PROBE:
        return None
    if any(int(words[i * stride]) != length for i in range(1, _UNIFORM_PROBE)):
        return None
    same = words[::stride] == length
    n = len(same) if bool(same.all()) else int(same.argmin())
    return min(n, most), stride


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
