from __future__ import annotations

import pytest

from app.core.errors import ConfigError
from app.server.config import ServerConfig, is_loopback, parse_size


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_hosts_need_no_key(host: str) -> None:
    assert is_loopback(host)
    assert ServerConfig(host=host).api_key is None


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::", "myhost.lan"])
def test_any_other_host_requires_a_key(host: str) -> None:
    with pytest.raises(ConfigError, match="needs a key"):
        ServerConfig(host=host)
    assert ServerConfig(host=host, api_key="k").host == host


def test_the_key_never_shows_in_a_repr() -> None:
    assert "s3cret" not in repr(ServerConfig(api_key="s3cret"))


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(ConfigError):
        ServerConfig(api_key="  ")


@pytest.mark.parametrize(("text", "size"), [("512", 512), ("8G", 8 << 30), ("8GiB", 8 << 30), ("1.5GB", 1_500_000_000),
                                            ("256m", 256 << 20)])
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "8 parsecs", "-1G"])
def test_bad_sizes(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_size(text)


def test_the_budget_advice_names_only_flags_serve_has() -> None:
    import re

    from app.cli import build_parser
    from app.server.config import BudgetAdvice

    serve = build_parser("serve").parse_args(["serve"])
    advice = BudgetAdvice()
    for text in (advice.ram, advice.gpu):
        flags = re.findall(r"--([a-z-]+)", text)
        assert flags, text
        for flag in flags:
            assert hasattr(serve, flag.replace("-", "_")), flag
