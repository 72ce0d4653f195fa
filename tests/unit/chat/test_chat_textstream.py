from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.chat.textstream import StopMatcher, Utf8Stream


def test_utf8_split_across_pieces() -> None:
    data = "héllo 🙂 世界".encode()
    stream = Utf8Stream()
    out = "".join(stream.feed(data[i : i + 1]) for i in range(len(data))) + stream.flush()
    assert out == "héllo 🙂 世界"


def test_utf8_incomplete_tail_is_replaced_at_flush() -> None:
    stream = Utf8Stream()
    assert stream.feed("🙂".encode()[:2]) == ""
    assert stream.flush() == "\ufffd"


@given(st.text(), st.lists(st.integers(min_value=1, max_value=5), max_size=50))
def test_utf8_any_split(text: str, sizes: list[int]) -> None:
    data = text.encode()
    stream = Utf8Stream()
    out, pos = [], 0
    for size in sizes:
        out.append(stream.feed(data[pos : pos + size]))
        pos += size
    out.append(stream.feed(data[pos:]))
    out.append(stream.flush())
    assert "".join(out) == text


def test_stop_string_is_held_back_then_cut() -> None:
    matcher = StopMatcher(["<|im_end|>"])
    shown = [matcher.feed(piece) for piece in ["Hello", " there<|", "im_", "end|>", "ignored"]]
    assert shown[0] == "Hello"
    assert shown[1] == " there"  # "<|" could start the stop string
    assert shown[2] == ""
    assert shown[3] == ""
    assert matcher.hit == "<|im_end|>"


def test_false_alarm_is_released() -> None:
    matcher = StopMatcher(["\n\nUser:"])
    assert matcher.feed("a\n") == "a"
    assert matcher.feed("\nb") == "\n\nb"
    assert matcher.hit is None
    assert matcher.feed("\n") == ""
    assert matcher.flush() == "\n"


def test_earliest_of_several_stops_wins() -> None:
    matcher = StopMatcher(["END", "STOP"])
    assert matcher.feed("one STOP two END") == "one "
    assert matcher.hit == "STOP"


@pytest.mark.parametrize("pieces", [["abcXY", "Zdef"], ["abc", "X", "Y", "Z"], ["abcXYZ"]])
def test_stop_across_any_split(pieces: list[str]) -> None:
    matcher = StopMatcher(["XYZ"])
    shown = "".join(matcher.feed(p) for p in pieces)
    assert shown == "abc"
    assert matcher.hit == "XYZ"


@given(st.text(alphabet="abX", max_size=30), st.lists(st.integers(1, 4), max_size=10))
def test_stream_equals_one_shot(text: str, sizes: list[int]) -> None:
    stop = "aXb"
    matcher = StopMatcher([stop])
    pieces, pos = [], 0
    for size in sizes:
        pieces.append(text[pos : pos + size])
        pos += size
    pieces.append(text[pos:])
    shown = ""
    for piece in pieces:
        shown += matcher.feed(piece)
        if matcher.hit:
            break
    if not matcher.hit:
        shown += matcher.flush()
    expected = text.split(stop)[0]
    assert shown == expected
    assert (matcher.hit is not None) == (stop in text)
