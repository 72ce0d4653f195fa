from __future__ import annotations

import pytest

from app.server.auth import authorize, offered_key
from app.server.errors import ApiError


def test_the_key_is_read_from_either_header() -> None:
    assert offered_key({"authorization": "Bearer abc"}) == "abc"
    assert offered_key({"x-api-key": "abc"}) == "abc"
    assert offered_key({"authorization": "Basic abc"}) is None
    assert offered_key({}) is None


def test_authorize() -> None:
    authorize({}, None)  # no key configured: open
    authorize({"authorization": "Bearer right"}, "right")
    for headers in ({}, {"authorization": "Bearer wrong"}, {"x-api-key": "righ"}):
        with pytest.raises(ApiError) as caught:
            authorize(headers, "right")
        assert caught.value.status == 401 and "right" not in caught.value.message
