"""What every page is given: settings, hardware, navigation and the services later work adds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.core.settings import Settings
from app.ui.hardware_watch import HardwareWatch
from app.ui.messages import MessageBridge


@dataclass
class AppContext:
    settings: Settings
    hardware: HardwareWatch
    messages: MessageBridge
    navigate: Callable[..., None] = lambda _name, **_kwargs: None
    services: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        # Services registered by later features (ctx.downloads, ctx.library …) read like attributes.
        services = self.__dict__.get("services", {})
        if name in services:
            return services[name]
        raise AttributeError(name)
