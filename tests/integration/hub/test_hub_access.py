"""app.hub against the fake Hub through the real huggingface_hub client."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from app.core.errors import (
    GatedRepoError,
    NotFoundError,
    OfflineError,
    RateLimitedError,
    ServerError,
    UnauthorizedError,
)
from app.hub import QuantKind, SortKey, iter_search, remote_header, remote_model, repo_detail
from app.hub.auth import sign_in, sign_out, stored_token, whoami
from app.hub.search import search
from tests.fakehub import (
    GATED_REPO,
    GEMMA_REPO,
    LADDER_REPO,
    LADDER_TYPES,
    N_FILLER,
    SPLIT_REPO,
    TINY_REPO,
    FakeHub,
)


def test_search_finds_gguf_repos_only(fake_hub: FakeHub) -> None:
    page = search("fake", SortKey.DOWNLOADS)
    ids = [r.repo_id for r in page.results]
    assert ids == [LADDER_REPO, SPLIT_REPO, GATED_REPO]  # by downloads; the safetensors repo is not GGUF
    ladder = page.results[0]
    assert ladder.author == "fakeorg" and ladder.likes == 420 and ladder.n_params and ladder.n_params > 3e8
    assert ladder.last_modified is not None and page.results[2].gated
    assert not page.has_more


def test_search_sorts(fake_hub: FakeHub) -> None:
    by_likes = [r.repo_id for r in search("fake", SortKey.LIKES).results]
    assert by_likes == [GATED_REPO, LADDER_REPO, SPLIT_REPO]
    updated = search("", SortKey.UPDATED).results
    dates = [r.last_modified for r in updated]
    assert dates == sorted(dates, reverse=True)  # type: ignore[type-var]


def test_paging_is_lazy(fake_hub: FakeHub) -> None:
    page = search("", SortKey.DOWNLOADS, page_size=20)
    assert len(page.results) == 20 and page.has_more
    assert len(fake_hub.requests_for("/api/models")) == 1
    seen = list(page.results)
    while page.has_more:
        page = page.next()
        seen.extend(page.results)
    assert len({r.repo_id for r in seen}) == N_FILLER + 4
    assert len(fake_hub.requests_for("/api/models")) == 3
    assert len(list(iter_search("filler", limit=25))) == 25


def test_detail_groups_quants(fake_hub: FakeHub) -> None:
    detail = repo_detail(LADDER_REPO)
    repo = fake_hub.repo(LADDER_REPO)
    assert [q.label for q in detail.quants] == list(LADDER_TYPES)  # smallest first
    for q in detail.quants:
        f = repo.files[q.first.path]
        assert q.size == f.size and q.first.sha256 == f.content.sha256 and not q.is_split
    assert [q.kind for q in detail.mmproj] == [QuantKind.MMPROJ]
    assert [f.path for f in detail.imatrix] == ["Llama-Fake-1B.imatrix.gguf"]
    assert detail.card_markdown.startswith("# Llama Fake 1B GGUF") and "license:" not in detail.card_markdown
    assert detail.architecture == "llama" and detail.context_length == 8192
    bpw = detail.quant("Q4_K_M").bits_per_weight(detail.n_params)
    assert bpw is not None and 4.5 < bpw < 6


def test_detail_joins_split_sets(fake_hub: FakeHub) -> None:
    detail = repo_detail(SPLIT_REPO)
    q4 = detail.quant("Q4_K_M")
    assert q4.is_split and len(q4.files) == 3
    assert [f.path for f in q4.files] == [f"Big-Fake-3B-Q4_K_M-0000{i}-of-00003.gguf" for i in (1, 2, 3)]
    assert q4.size == sum(fake_hub.repo(SPLIT_REPO).files[p].size for p in q4.paths)
    assert [q.label for q in detail.quants] == ["Q2_K", "Q4_K_M"]
    assert [f.path for f in detail.imatrix] == ["imatrix.dat"]


def test_remote_header_uses_ranges(fake_hub: FakeHub) -> None:
    header = remote_header(LADDER_REPO, "Llama-Fake-1B-Q4_K_M.gguf")
    assert header.metadata["general.file_type"] == 15 and header.architecture == "llama"
    assert header.file_size == fake_hub.repo(LADDER_REPO).files["Llama-Fake-1B-Q4_K_M.gguf"].size
    gets = fake_hub.requests_for("Llama-Fake-1B-Q4_K_M.gguf", method="GET")
    assert gets and all(r.range and r.range.startswith("bytes=") for r in gets)
    assert all(r.server == "cdn" and not r.authorized for r in gets)
    assert len(gets) <= 3


def test_remote_split_model(fake_hub: FakeHub) -> None:
    detail = repo_detail(SPLIT_REPO)
    model = remote_model(SPLIT_REPO, detail.quant("Q4_K_M"))
    assert len(model.parts) == 3
    assert model.file_size == detail.quant("Q4_K_M").size
    assert len(model.tensors) == 2 + 20 * 9 + 1


@pytest.mark.slow
def test_remote_header_of_real_gemma(fake_hub_gemma: FakeHub, gemma_model: Path) -> None:
    from app.gguf.reader import read_header

    local = read_header(gemma_model)
    remote = remote_header(GEMMA_REPO, gemma_model.name)
    assert remote.tensors == local.tensors and remote.data_offset == local.data_offset


def test_gated_without_token_and_without_access(fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    detail = repo_detail(GATED_REPO)  # metadata and card stay public
    assert detail.gated == "manual" and detail.card_markdown
    with pytest.raises(GatedRepoError) as anon:
        remote_header(GATED_REPO, "Gated-Fake-1B-Q4_K_M.gguf")
    assert "sign in" in str(anon.value) and anon.value.url.endswith(GATED_REPO)
    fake_hub.add_token("hf_carol", user="carol")
    monkeypatch.setenv("HF_TOKEN", "hf_carol")
    with pytest.raises(GatedRepoError) as denied:
        remote_header(GATED_REPO, "Gated-Fake-1B-Q4_K_M.gguf")
    assert "accept its license" in str(denied.value)
    fake_hub.grant(GATED_REPO, "carol")
    assert remote_header(GATED_REPO, "Gated-Fake-1B-Q4_K_M.gguf").architecture == "llama"


def test_not_found(fake_hub: FakeHub) -> None:
    with pytest.raises(NotFoundError):
        repo_detail("nobody/nothing-GGUF")
    with pytest.raises(NotFoundError):
        remote_header(TINY_REPO, "absent.gguf")


def test_rate_limited_and_server_errors(fake_hub: FakeHub) -> None:
    fake_hub.rate_limit(1, retry_after=7, match="/api/models")
    with pytest.raises(RateLimitedError) as err:
        search("fake")
    assert err.value.retry_after == 7
    fake_hub.fail_next(1, 503)
    with pytest.raises(ServerError):
        repo_detail(LADDER_REPO)
    assert search("fake").results  # recovered


def test_offline_mode_makes_no_request(fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError):
        search("fake")
    with pytest.raises(OfflineError):
        repo_detail(LADDER_REPO)
    assert fake_hub.requests == []


def test_server_down_is_offline(fake_hub: FakeHub) -> None:
    fake_hub.stop()
    with pytest.raises(OfflineError):
        search("fake")


def test_sign_in_and_out(fake_hub: FakeHub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake_hub.add_token("hf_secret_dave", user="dave", token_name="desk")
    with pytest.raises(UnauthorizedError):
        sign_in("hf_wrong")
    assert stored_token() is None
    account = sign_in("hf_secret_dave")
    assert account.name == "dave" and account.token_name == "desk"
    assert stored_token() == "hf_secret_dave" and whoami().name == "dave"
    sign_out()
    assert stored_token() is None
    with pytest.raises(UnauthorizedError):
        whoami()
    assert "hf_secret_dave" not in caplog.text


def test_label_from_header_when_the_name_has_none(fake_hub: FakeHub) -> None:
    from tests.fakehub import FakeRepo, VirtualContent
    from tests.fakehub.catalogue import LADDER_SPEC, generated

    g = generated(LADDER_SPEC, "Q5_K_M")
    repo = fake_hub.add_repo(FakeRepo("someone/plain-names-GGUF"))
    repo.add_file("model.gguf", VirtualContent(g.header, g.size))
    detail = repo_detail("someone/plain-names-GGUF")
    assert [q.label for q in detail.quants] == ["Q5_K_M"]
