"""Hosts that answer a Range request with the whole file, remembered for a while (a small JSON in the data dir).

Such a server cannot serve segments: the first file from it costs a ranged try on each starting connection,
each answered with the whole file (closed unread), before one stream takes over. Remembering the host lets
the next file start as one stream at once. The memory expires, so a server that learns Range gets another
chance; a file that cannot be read or written only costs that ranged try again.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from app.core.atomic import write_text_atomic
from app.core.errors import BusyError
from app.core.locking import locked

log = logging.getLogger("app.downloads")

FORMAT_VERSION = 1
REMEMBER_FOR = 7 * 24 * 3600.0  # seconds


def default_path() -> Path:
    from app.core.paths import data_dir

    return data_dir() / "range-ignoring-hosts.json"


def host_of(url: str) -> str:
    return urlsplit(url).netloc.lower()


class RangeHosts:
    def __init__(self, path: Path | None = None, clock: Callable[[], float] = time.time) -> None:
        self._path = path
        self._clock = clock

    @property
    def path(self) -> Path:
        return self._path or default_path()  # found on first use: a one-stream download never touches it

    def ignores(self, url: str) -> bool:
        """Whether the host of `url` answered a Range request with the whole file, not long ago."""
        return self._read().get(host_of(url), 0.0) > self._clock()

    def remember(self, url: str) -> None:
        host = host_of(url)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with locked(self.path):
                now = self._clock()
                hosts = {h: t for h, t in self._read().items() if t > now}  # expired ones are dropped
                hosts[host] = now + REMEMBER_FOR
                write_text_atomic(self.path, json.dumps({"version": FORMAT_VERSION, "hosts": hosts}, indent=1))
        except (OSError, BusyError) as exc:
            log.warning("could not remember that %s ignores Range: %s", host, exc)

    def _read(self) -> dict[str, float]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return {str(h): float(t) for h, t in data["hosts"].items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("%s is unreadable (%s); ignoring it", self.path.name, exc)
            return {}
