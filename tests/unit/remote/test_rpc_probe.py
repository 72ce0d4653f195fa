"""The RPC pre-flight probe against small socket servers on 127.0.0.1 that speak (or break) ggml-rpc's
wire format; the real worker is in tests/integration/remote."""

from __future__ import annotations

import socket
import threading

import pytest

from app.core.errors import RpcError
from app.remote import rpc_probe
from app.remote.rpc_probe import RpcDevice, parse_endpoint, parse_endpoints, probe
from tests.support.fake_rpc import fake_server, reply, request, worker

GiB = 1024**3


def test_a_worker_reports_version_and_each_device() -> None:
    memory = [(3 * GiB, 4 * GiB), (1 * GiB, 2 * GiB)]
    with fake_server(worker((rpc_probe.PROTOCOL_MAJOR, 0, 0), memory)) as endpoint:
        found = probe(endpoint)
    assert found.endpoint == endpoint
    assert found.version == (rpc_probe.PROTOCOL_MAJOR, 0, 0)
    assert found.devices == (RpcDevice(0, 3 * GiB, 4 * GiB), RpcDevice(1, 1 * GiB, 2 * GiB))


@pytest.mark.parametrize("version", [(rpc_probe.PROTOCOL_MAJOR - 1, 0, 0), (rpc_probe.PROTOCOL_MAJOR + 1, 0, 0),
                                     (rpc_probe.PROTOCOL_MAJOR, rpc_probe.PROTOCOL_MINOR + 1, 0)])
def test_another_protocol_version_is_refused(version: tuple[int, int, int]) -> None:
    with fake_server(worker(version, [(GiB, GiB)])) as endpoint, \
            pytest.raises(RpcError, match=r"speaks protocol \d+\.\d+\.\d+"):
        probe(endpoint)


def test_an_older_worker_that_hangs_up_on_the_hello() -> None:
    with fake_server(lambda conn: None) as endpoint, pytest.raises(RpcError, match="closed the connection"):
        probe(endpoint)


def test_a_wrong_reply_size_is_refused() -> None:
    def serve(conn: socket.socket) -> None:
        request(conn)
        reply(conn, b"\x07\x00\x00\x00")  # a HELLO reply without the capabilities of protocol 7

    with fake_server(serve) as endpoint, pytest.raises(RpcError, match="with 4 bytes"):
        probe(endpoint)


def test_a_busy_worker_accepts_but_never_answers() -> None:
    hold = threading.Event()

    def serve(conn: socket.socket) -> None:
        hold.wait(10)

    with fake_server(serve) as endpoint:
        try:
            with pytest.raises(RpcError, match="did not answer") as caught:
                probe(endpoint, reply_timeout=0.5)
        finally:
            hold.set()
    assert "another client" in caught.value.hint


def test_nothing_listening() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    with pytest.raises(RpcError, match="Cannot reach"):
        probe(f"127.0.0.1:{port}")


def test_zero_devices_is_refused() -> None:
    with fake_server(worker((rpc_probe.PROTOCOL_MAJOR, 0, 0), [])) as endpoint, \
            pytest.raises(RpcError, match="0 devices"):
        probe(endpoint)


def test_endpoint_parsing() -> None:
    assert parse_endpoint("10.0.0.2:50052") == ("10.0.0.2", 50052)
    assert parse_endpoint("box") == ("box", rpc_probe.DEFAULT_PORT)
    assert parse_endpoint("[::1]:7") == ("::1", 7)
    assert parse_endpoints("a:1, b:2,") == ["a:1", "b:2"]
    for bad in ("a:x", "a:0", ":5", "a:70000"):
        with pytest.raises(RpcError):
            parse_endpoint(bad)
    with pytest.raises(RpcError, match="twice"):
        parse_endpoints("a:1,a:1")


def test_layers_are_split_by_free_memory() -> None:
    from app.remote.pool import plan_split

    assert plan_split([4 * GiB, 4 * GiB]) == (0.5, 0.5)
    assert plan_split([3 * GiB, 1 * GiB, 0]) == (0.75, 0.25, 0.0)
    assert plan_split([0, 0]) == (0.5, 0.5)
    assert plan_split([]) == ()
