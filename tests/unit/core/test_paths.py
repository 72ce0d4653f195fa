from __future__ import annotations

from pathlib import Path

from app.core import paths


def test_every_path_lives_under_the_test_home(isolated_home: Path) -> None:
    for directory in (paths.config_dir(), paths.data_dir(), paths.cache_dir(), paths.log_dir()):
        assert directory.is_dir()
        assert directory.is_relative_to(isolated_home)
    assert paths.default_models_dir().is_relative_to(isolated_home)
    assert paths.settings_file().parent == paths.config_dir()
    assert paths.log_file().parent == paths.log_dir()


def test_without_override_paths_come_from_platformdirs(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv(paths.HOME_OVERRIDE_ENV)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    assert paths.config_dir() == tmp_path / "xdg-config" / paths.APP_NAME
    assert paths.cache_dir() == tmp_path / "xdg-cache" / paths.APP_NAME
