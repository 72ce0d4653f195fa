from __future__ import annotations

import logging
import os
import stat

import pytest

from app.core.errors import ConfigError
from app.remote import endpoints as store


@pytest.mark.parametrize(("given", "expected"), [
    ("localhost:8080", "http://localhost:8080"),
    ("http://10.0.0.2:8080/", "http://10.0.0.2:8080"),
    ("https://box.lan/v1", "https://box.lan"),
    ("http://box.lan/api/v1/", "http://box.lan/api"),
])
def test_urls_are_normalized(given: str, expected: str) -> None:
    assert store.normalize_url(given) == expected


@pytest.mark.parametrize("bad", ["ftp://x", "http://", "http://user:pw@host", "http://h/?q=1"])
def test_bad_urls_are_refused(bad: str) -> None:
    with pytest.raises(ConfigError):
        store.normalize_url(bad)


def test_add_list_remove_and_the_key_stays_private(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "sk-very-secret-123"
    store.add_endpoint(store.Endpoint("gpu-box", "http://10.0.0.2:8080", secret))
    store.add_endpoint(store.Endpoint("other", "http://10.0.0.3:8080"))
    assert [e.name for e in store.load_endpoints()] == ["gpu-box", "other"]
    assert store.find_endpoint("gpu-box").api_key == secret
    assert secret not in repr(store.find_endpoint("gpu-box"))
    assert secret not in caplog.text
    if os.name == "posix":
        assert stat.S_IMODE(store.endpoints_file().stat().st_mode) == 0o600
    with pytest.raises(ConfigError, match="exists already"):
        store.add_endpoint(store.Endpoint("gpu-box", "http://x:1"))
    store.remove_endpoint("gpu-box")
    assert [e.name for e in store.load_endpoints()] == ["other"]
    assert secret not in store.endpoints_file().read_text()
    with pytest.raises(ConfigError, match="known: other"):
        store.remove_endpoint("gpu-box")


def test_names_are_checked() -> None:
    with pytest.raises(ConfigError):
        store.add_endpoint(store.Endpoint("no spaces", "http://x:1"))


def test_an_unreadable_file_is_a_clear_error() -> None:
    store.endpoints_file().write_text("{not json")
    with pytest.raises(ConfigError, match="cannot be read"):
        store.load_endpoints()
