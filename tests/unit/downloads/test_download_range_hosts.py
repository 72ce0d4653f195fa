"""The memory of hosts that ignore Range: per host, expiring, and harmless when its file is broken."""

from __future__ import annotations

from pathlib import Path

from app.downloads.range_hosts import REMEMBER_FOR, RangeHosts


def test_a_host_is_remembered_per_host_until_it_expires(tmp_path: Path) -> None:
    now = [1000.0]
    hosts = RangeHosts(tmp_path / "hosts.json", clock=lambda: now[0])
    assert not hosts.ignores("http://mirror.example:8080/a/resolve/main/x.gguf")
    hosts.remember("http://Mirror.example:8080/a/resolve/main/x.gguf")
    again = RangeHosts(tmp_path / "hosts.json", clock=lambda: now[0])  # another process, later
    assert again.ignores("http://mirror.example:8080/b/resolve/main/y.gguf")  # any file of that host
    assert not again.ignores("http://mirror.example:9090/a/resolve/main/x.gguf")  # not another host
    assert not again.ignores("https://huggingface.co/a/resolve/main/x.gguf")
    now[0] += REMEMBER_FOR + 1
    assert not again.ignores("http://mirror.example:8080/b/resolve/main/y.gguf")  # a second chance


def test_expired_hosts_are_dropped_when_another_is_remembered(tmp_path: Path) -> None:
    now = [0.0]
    hosts = RangeHosts(tmp_path / "hosts.json", clock=lambda: now[0])
    hosts.remember("http://old.example/x")
    now[0] = REMEMBER_FOR + 5
    hosts.remember("http://new.example/x")
    text = (tmp_path / "hosts.json").read_text()
    assert "new.example" in text and "old.example" not in text


def test_an_unreadable_memory_forgets_instead_of_failing(tmp_path: Path) -> None:
    path = tmp_path / "hosts.json"
    path.write_text("{not json")
    hosts = RangeHosts(path)
    assert not hosts.ignores("http://mirror.example/x")
    hosts.remember("http://mirror.example/x")  # written over
    assert hosts.ignores("http://mirror.example/y")
    blocked = RangeHosts(tmp_path / "file" / "hosts.json")
    (tmp_path / "file").write_text("a file where the folder should be")
    blocked.remember("http://mirror.example/x")  # logged, not raised
    assert not blocked.ignores("http://mirror.example/x")
