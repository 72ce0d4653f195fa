"""What every page is given: the app's services, each a named field, all created before the first page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.core.settings import Settings
from app.ui.hardware_watch import HardwareWatch
from app.ui.local_server import LocalServer
from app.ui.messages import MessageBridge, message_bridge
from app.ui.models.download_service import DownloadService


def _stay(_name: str, **_kwargs: Any) -> None:
    """Navigation for a page shown on its own (tests): nowhere to go."""


@dataclass(frozen=True, slots=True)
class AppContext:
    settings: Settings
    hardware: HardwareWatch  # the hardware probe: `info`, and `ready` when it is known
    messages: MessageBridge  # the one way a message reaches the user
    downloads: DownloadService  # the download queue; `completed` when a model arrived
    navigate: Callable[..., None] = _stay  # navigate("chat", model=path) opens a page with arguments
    local_server: LocalServer = field(default_factory=LocalServer)  # the app's API server, while it serves

    @classmethod
    def create(
        cls,
        settings: Settings,
        *,
        hardware: HardwareWatch | None = None,
        downloads: DownloadService | None = None,
        navigate: Callable[..., None] = _stay,
    ) -> AppContext:
        """Every service, created now. Each is light to create: the heavy parts (the hardware probe, the
        download queue) start later, after the first paint or on first use."""
        return cls(
            settings=settings,
            hardware=hardware or HardwareWatch(),
            messages=message_bridge(),
            downloads=downloads or DownloadService(settings),
            navigate=navigate,
        )

    def shutdown(self) -> None:
        """Stop the services' threads and transfers (the window calls this when it closes)."""
        self.downloads.shutdown()
