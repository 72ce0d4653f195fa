"""The typed values of hub/models.py and the pure parts around them: parsing search and whoami answers and model
cards, and where a token may be sent."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from app.hub.auth import _account
from app.hub.detail import strip_front_matter
from app.hub.models import Account, Quant, QuantKind, RepoDetail, RepoFile, SearchResult, SortKey
from app.hub.remote import _same_origin
from app.hub.search import SearchPage, parse_datetime, parse_result


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("downloads", SortKey.DOWNLOADS),
        (" Likes ", SortKey.LIKES),
        ("trending", SortKey.TRENDING),
        ("trendingScore", SortKey.TRENDING),
        ("recent", SortKey.UPDATED),
        ("updated", SortKey.UPDATED),
        ("lastModified", SortKey.UPDATED),
    ],
)
def test_sort_key_accepts_names_aliases_and_hub_values(text: str, key: SortKey) -> None:
    assert SortKey.parse(text) is key


def test_sort_key_refuses_anything_else() -> None:
    with pytest.raises(ValueError, match="stars"):
        SortKey.parse("stars")


def _file(path: str, size: int) -> RepoFile:
    return RepoFile(path=path, size=size, sha256="a" * 64)


def test_quant_of_a_split_set() -> None:
    parts = (_file("Q8_0/M-Q8_0-00001-of-00002.gguf", 60), _file("Q8_0/M-Q8_0-00002-of-00002.gguf", 40))
    quant = Quant("Q8_0", parts)
    assert (quant.size, quant.is_split, quant.first.name, quant.kind) == (100, True, "M-Q8_0-00001-of-00002.gguf",
                                                                         QuantKind.MODEL)
    assert quant.paths == ("Q8_0/M-Q8_0-00001-of-00002.gguf", "Q8_0/M-Q8_0-00002-of-00002.gguf")
    assert quant.bits_per_weight(200) == 4.0
    assert quant.bits_per_weight(None) is None and quant.bits_per_weight(0) is None
    assert not Quant("Q4_K_M", parts[:1]).is_split


def test_repo_detail_finds_a_quant_whatever_the_case() -> None:
    q4 = Quant("Q4_K_M", (_file("M-Q4_K_M.gguf", 10),))
    detail = RepoDetail(
        repo_id="org/M-GGUF", author="org", sha=None, card_markdown="", gated=False, downloads=0, likes=0,
        last_modified=None, n_params=None, architecture=None, context_length=None, quants=(q4,), mmproj=(),
        imatrix=(), other_files=(),
    )
    assert detail.quant("q4_k_m") is q4
    with pytest.raises(KeyError):
        detail.quant("Q8_0")


def test_search_result_from_a_full_answer() -> None:
    result = parse_result({
        "id": "org/Model-GGUF",
        "author": "org",
        "downloads": 1200,
        "likes": 34,
        "lastModified": "2025-03-01T12:30:00.000Z",
        "gguf": {"total": 268_098_176, "architecture": "gemma3", "context_length": 32768},
        "gated": "manual",
    })
    assert result == SearchResult(
        repo_id="org/Model-GGUF", author="org", downloads=1200, likes=34,
        last_modified=datetime(2025, 3, 1, 12, 30, tzinfo=timezone.utc), n_params=268_098_176,
        architecture="gemma3", gated=True,
    )
    assert result.name == "Model-GGUF"


def test_search_result_from_a_sparse_or_odd_answer() -> None:
    result = parse_result({
        "id": "someone/thing", "downloads": True, "likes": "many", "gguf": ["not", "a", "dict"], "gated": False,
    })
    assert (result.author, result.downloads, result.likes) == ("someone", 0, 0)
    assert (result.n_params, result.architecture, result.last_modified, result.gated) == (None, None, None, False)
    no_size = parse_result({"id": "solo", "gguf": {"total": 0, "architecture": 7}})
    assert (no_size.author, no_size.name, no_size.n_params, no_size.architecture) == ("", "solo", None, None)


def test_parse_datetime() -> None:
    assert parse_datetime("2024-01-02T03:04:05+02:00") == datetime(2024, 1, 2, 3, 4, 5,
                                                                   tzinfo=timezone(timedelta(hours=2)))
    assert parse_datetime("2024-01-02T03:04:05Z") == datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    for value in ("", "yesterday", None, 1700000000):
        assert parse_datetime(value) is None


def test_the_last_search_page_has_no_next() -> None:
    page = SearchPage("gemma", SortKey.LIKES, (), None)
    assert not page.has_more
    with pytest.raises(ValueError, match="no more results"):
        page.next()
    assert SearchPage("gemma", SortKey.LIKES, (), "http://127.0.0.1:9/api/models?cursor=x").has_more


def test_model_card_front_matter_is_removed() -> None:
    card = "---\nlicense: apache-2.0\ntags:\n- gguf\n---\n\n# Model\n\nText.\n"
    assert strip_front_matter(card) == "# Model\n\nText.\n"
    assert strip_front_matter("# No metadata\n---\nA rule above.") == "# No metadata\n---\nA rule above."
    assert strip_front_matter("---\nnever closed") == "---\nnever closed"


def test_the_token_goes_only_to_the_same_origin() -> None:
    assert _same_origin("https://huggingface.co/org/m/resolve/main/x.gguf", "https://huggingface.co")
    assert _same_origin("http://127.0.0.1:8123/a", "http://127.0.0.1:8123")
    assert not _same_origin("https://cdn-lfs.hf.co/repos/x", "https://huggingface.co")
    assert not _same_origin("http://huggingface.co/a", "https://huggingface.co")  # scheme
    assert not _same_origin("http://127.0.0.1:8124/a", "http://127.0.0.1:8123")  # port


def test_account_from_a_whoami_answer() -> None:
    answer = {"name": "ada", "fullname": "Ada L.", "auth": {"accessToken": {"displayName": "laptop", "role": "read"}}}
    assert _account(answer) == Account(name="ada", fullname="Ada L.", token_name="laptop", role="read")
    assert _account({"name": "ada", "auth": "odd"}) == Account(name="ada", fullname="ada", token_name="oauth-ada",
                                                                role="")
