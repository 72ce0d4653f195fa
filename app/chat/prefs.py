"""The chat page's remembered choices (last model, load settings per model, preset, template, context
policy), in config_dir()/chat.json, written atomically."""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from app.chat.protocol import EngineSettings, Sampling
from app.core import paths
from app.core.atomic import write_text_atomic
from app.core.errors import AppError

log = logging.getLogger("app.chat")

PRESETS: dict[str, Sampling] = {
    "Balanced": Sampling(temperature=0.7, top_k=40, top_p=0.95, min_p=0.05, repeat_penalty=1.0),
    "Precise": Sampling(temperature=0.2, top_k=20, top_p=0.9, min_p=0.05, repeat_penalty=1.05),
    "Creative": Sampling(temperature=1.0, top_k=64, top_p=0.98, min_p=0.02, repeat_penalty=1.0),
    "Greedy": Sampling(temperature=0.0, top_k=0, top_p=1.0, min_p=0.0),
}


@dataclass(frozen=True, slots=True)
class ChatPrefs:
    model_path: str = ""
    engine: EngineSettings = field(default_factory=EngineSettings)
    preset: str = "Balanced"
    max_tokens: int = 1024
    template: str = "auto"
    context_policy: str = "drop_oldest"
    seed: int | None = None  # None: a new random seed for every reply
    # The load settings each model was last loaded with (path -> settings), newest last.
    models: dict[str, EngineSettings] = field(default_factory=dict)


MODELS_KEPT = 64


def remembered_settings(prefs: ChatPrefs, path: str) -> EngineSettings | None:
    """The settings `path` was last loaded with (the last model's from before per-model memory)."""
    if path in prefs.models:
        return prefs.models[path]
    return prefs.engine if path and path == prefs.model_path else None


def remember(prefs: ChatPrefs, path: str, settings: EngineSettings) -> ChatPrefs:
    """`prefs` with `path` loaded last, with `settings`."""
    models = {k: v for k, v in prefs.models.items() if k != path}
    models[path] = settings
    kept = dict(list(models.items())[-MODELS_KEPT:])
    return dataclasses.replace(prefs, model_path=path, engine=settings, models=kept)


def _engine_settings(raw: Any) -> EngineSettings:
    engine_fields = {f.name for f in dataclasses.fields(EngineSettings)}
    stored: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v  # JSON has no tuples
                              for k, v in (raw if isinstance(raw, dict) else {}).items() if k in engine_fields}
    return EngineSettings(**stored)


def _file() -> Any:
    return paths.config_dir() / "chat.json"


def load_prefs() -> ChatPrefs:
    try:
        raw = json.loads(_file().read_text(encoding="utf-8"))
        engine = _engine_settings(raw.get("engine", {}))
        models_raw = raw.get("models", {})
        models = {str(path): _engine_settings(value)
                  for path, value in (models_raw.items() if isinstance(models_raw, dict) else ())}
        known = {f.name for f in dataclasses.fields(ChatPrefs)} - {"engine", "models"}
        return ChatPrefs(engine=engine, models=models, **{k: v for k, v in raw.items() if k in known})
    except FileNotFoundError:
        return ChatPrefs()
    except (OSError, ValueError, TypeError) as exc:
        log.warning("chat preferences unreadable, using defaults: %s", exc)
        return ChatPrefs()


def save_prefs(prefs: ChatPrefs) -> None:
    try:
        write_text_atomic(_file(), json.dumps(dataclasses.asdict(prefs), indent=2))
    except (OSError, AppError) as exc:
        log.warning("chat preferences not saved: %s", exc)


def sampling_for(preset: str, max_tokens: int, seed: int | None = None) -> Sampling:
    return dataclasses.replace(PRESETS.get(preset, PRESETS["Balanced"]), max_tokens=max_tokens, seed=seed)
