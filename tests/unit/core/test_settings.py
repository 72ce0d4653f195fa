from __future__ import annotations

import json

import pytest

from app.core import paths
from app.core.errors import ConfigError
from app.core.settings import Preferences, Settings


def test_defaults_when_no_file() -> None:
    settings = Settings()
    assert settings.values == Preferences()
    assert settings.models_path() == paths.default_models_dir()


def test_update_persists_atomically_and_notifies() -> None:
    settings = Settings()
    seen: list[tuple[Preferences, Preferences]] = []
    settings.subscribe(lambda old, new: seen.append((old, new)))
    settings.update(threads=6, theme="dark", library_folders=("/a", "/b"))
    assert [new.threads for _, new in seen] == [6]
    assert not list(paths.config_dir().glob("*.part"))
    reloaded = Settings()
    assert reloaded.values.threads == 6
    assert reloaded.values.theme == "dark"
    assert reloaded.values.library_folders == ("/a", "/b")


def test_unchanged_update_does_not_notify() -> None:
    settings = Settings()
    seen: list[object] = []
    settings.subscribe(lambda old, new: seen.append(new))
    settings.update(threads=0)
    assert seen == []


def test_unsubscribe() -> None:
    settings = Settings()
    seen: list[object] = []
    unsubscribe = settings.subscribe(lambda old, new: seen.append(new))
    unsubscribe()
    settings.update(threads=3)
    assert seen == []


@pytest.mark.parametrize(
    "change",
    [
        {"theme": "purple"},
        {"threads": -1},
        {"download_parallel": 0},
        {"download_segments": 0},
        {"download_segments": 17},
        {"default_context": 10},
    ],
)
def test_invalid_values_are_refused_and_nothing_is_saved(change: dict[str, object]) -> None:
    settings = Settings()
    with pytest.raises(ConfigError):
        settings.update(**change)
    assert settings.values == Preferences()
    assert not paths.settings_file().exists()


def test_corrupt_file_is_kept_aside_and_defaults_used() -> None:
    paths.settings_file().write_text("{not json")
    settings = Settings()
    assert settings.values == Preferences()
    assert paths.settings_file().with_name("settings.json.broken").read_text() == "{not json"


def test_unknown_and_mistyped_keys_are_ignored() -> None:
    paths.settings_file().write_text(json.dumps({"threads": "many", "theme": "light", "future_key": 1}))
    values = Settings().values
    assert values.threads == 0
    assert values.theme == "light"


def test_custom_models_dir_expands_user() -> None:
    settings = Settings()
    settings.update(models_dir="~/my-models")
    assert settings.models_path().name == "my-models"
    assert "~" not in str(settings.models_path())
