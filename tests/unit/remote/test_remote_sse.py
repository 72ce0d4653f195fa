from __future__ import annotations

from app.remote.sse import SseEvent, parse_events


def test_data_lines_comments_and_names() -> None:
    lines = [": keep-alive", "", "data: {\"a\":1}", "", "event: ping", "data: x", "data: y", "",
             ":", "data:[DONE]", ""]
    assert list(parse_events(lines)) == [SseEvent('{"a":1}'), SseEvent("x\ny", "ping"), SseEvent("[DONE]")]


def test_crlf_and_unknown_fields() -> None:
    assert list(parse_events(["id: 3\r\n", "retry: 10\r\n", "data: z\r\n", "\r\n"])) == [SseEvent("z")]


def test_an_event_cut_off_by_the_end_of_the_stream_is_dropped() -> None:
    assert list(parse_events(["data: {\"choices\": [", ])) == []
