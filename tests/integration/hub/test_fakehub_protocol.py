"""The fake Hub speaks the Hub's protocol: the real huggingface_hub client, unmodified, against it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx2
import pytest
from huggingface_hub import HfApi, get_hf_file_metadata, hf_hub_download, hf_hub_url
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from tests.fakehub import GATED_REPO, LADDER_REPO, N_FILLER, SPLIT_REPO, TINY_REPO, FakeHub


def test_list_models_filters_sorts_and_pages(fake_hub: FakeHub) -> None:
    api = HfApi(endpoint=fake_hub.url)
    fake_hub.page_size_default = 10
    models = list(api.list_models(filter="gguf", sort="downloads", expand=["downloads", "gguf"]))
    ids = [m.id for m in models]
    assert "fakeorg/Llama-Fake-1B" not in ids  # no gguf tag
    assert len(ids) == N_FILLER + 4
    downloads = [m.downloads or 0 for m in models]
    assert downloads == sorted(downloads, reverse=True)
    assert models[0].gguf is not None and models[0].gguf["architecture"] == "llama"
    pages = fake_hub.requests_for("/api/models", method="GET")
    assert len(pages) == -(-len(ids) // 10)
    assert all("cursor=" in p.query for p in pages[1:])


def test_list_models_search_and_limit(fake_hub: FakeHub) -> None:
    api = HfApi(endpoint=fake_hub.url)
    found = list(api.list_models(search="llama fake", filter="gguf", limit=5, full=True))
    assert {m.id for m in found} == {LADDER_REPO}
    assert found[0].siblings and any(s.rfilename.endswith("Q4_K_M.gguf") for s in found[0].siblings)


def test_model_info_blobs(fake_hub: FakeHub) -> None:
    info = HfApi(endpoint=fake_hub.url).model_info(SPLIT_REPO, files_metadata=True)
    shards = [s for s in info.siblings or [] if "-of-00003" in s.rfilename]
    assert len(shards) == 3
    for s in shards:
        assert s.lfs is not None and s.size == s.lfs.size and len(s.lfs.sha256) == 64
    assert info.gguf and info.gguf["context_length"] == 32768
    assert info.gated is False


def test_tree_and_paths_info(fake_hub: FakeHub) -> None:
    api = HfApi(endpoint=fake_hub.url)
    entries = list(api.list_repo_tree(TINY_REPO, recursive=True, expand=True))
    paths = {e.path for e in entries}
    assert {"Tiny-Llama-F32.gguf", "README.md", "config.json"} <= paths
    info = api.get_paths_info(TINY_REPO, ["config.json", "Tiny-Llama-F32.gguf"])
    assert {i.path for i in info} == {"config.json", "Tiny-Llama-F32.gguf"}


def test_download_lfs_and_regular(fake_hub: FakeHub, tmp_path: Path) -> None:
    path = hf_hub_download(TINY_REPO, "Tiny-Llama-F32.gguf", cache_dir=tmp_path / "c", endpoint=fake_hub.url)
    data = Path(path).read_bytes()
    repo = fake_hub.repo(TINY_REPO)
    assert hashlib.sha256(data).hexdigest() == repo.files["Tiny-Llama-F32.gguf"].content.sha256
    # metadata HEAD on the Hub (302 carries size and sha256), then the body straight from the CDN
    assert [(r.method, r.server) for r in fake_hub.requests_for("Tiny-Llama-F32.gguf")] == [
        ("HEAD", "hub"),
        ("GET", "cdn"),
    ]
    cfg = hf_hub_download(TINY_REPO, "config.json", cache_dir=tmp_path / "c", endpoint=fake_hub.url)
    assert Path(cfg).read_bytes() == b'{"architectures": ["LlamaForCausalLM"], "model_type": "llama"}\n'


def test_file_metadata_stops_at_the_cdn_redirect(fake_hub: FakeHub) -> None:
    url = hf_hub_url(LADDER_REPO, "Llama-Fake-1B-Q4_K_M.gguf", endpoint=fake_hub.url)
    meta = get_hf_file_metadata(url)
    f = fake_hub.repo(LADDER_REPO).files["Llama-Fake-1B-Q4_K_M.gguf"]
    assert meta.size == f.size and meta.etag == f.content.sha256
    assert meta.commit_hash == fake_hub.repo(LADDER_REPO).sha
    assert meta.location.startswith(fake_hub.cdn_url)


def test_range_requests(fake_hub: FakeHub) -> None:
    url = hf_hub_url(LADDER_REPO, "Llama-Fake-1B-Q2_K.gguf", endpoint=fake_hub.url)
    with httpx2.Client(follow_redirects=True, timeout=10) as client:
        r = client.get(url, headers={"Range": "bytes=0-3"})
        assert r.status_code == 206 and r.content == b"GGUF"
        size = fake_hub.repo(LADDER_REPO).files["Llama-Fake-1B-Q2_K.gguf"].size
        assert r.headers["Content-Range"] == f"bytes 0-3/{size}"
        assert client.get(url, headers={"Range": f"bytes={size}-"}).status_code == 416
    assert fake_hub.requests_for("Q2_K", method="GET")[-1].range == f"bytes={size}-"


def test_gated_repo_errors(fake_hub: FakeHub, tmp_path: Path) -> None:
    fake_hub.add_token("hf_alice", user="alice")
    name = "Gated-Fake-1B-Q4_K_M.gguf"
    with pytest.raises(GatedRepoError) as anon:
        hf_hub_download(GATED_REPO, name, token=False, cache_dir=tmp_path, endpoint=fake_hub.url)
    assert anon.value.response.status_code == 401
    with pytest.raises(GatedRepoError) as denied:
        hf_hub_download(GATED_REPO, name, token="hf_alice", cache_dir=tmp_path, endpoint=fake_hub.url)
    assert denied.value.response.status_code == 403
    fake_hub.grant(GATED_REPO, "alice")
    meta = get_hf_file_metadata(
        hf_hub_url(GATED_REPO, "Gated-Fake-1B-Q4_K_M.gguf", endpoint=fake_hub.url), token="hf_alice"
    )
    assert meta.size is not None
    assert HfApi(endpoint=fake_hub.url).model_info(GATED_REPO, token=False).gated == "manual"


def test_not_found_errors(fake_hub: FakeHub) -> None:
    api = HfApi(endpoint=fake_hub.url)
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("nobody/nothing", token=False)
    with pytest.raises(RevisionNotFoundError):
        api.model_info(TINY_REPO, revision="v9")
    with pytest.raises(EntryNotFoundError):
        get_hf_file_metadata(hf_hub_url(TINY_REPO, "missing.gguf", endpoint=fake_hub.url))


def test_whoami(fake_hub: FakeHub) -> None:
    fake_hub.add_token("hf_good", user="bob", token_name="laptop")
    api = HfApi(endpoint=fake_hub.url)
    me = api.whoami(token="hf_good")
    assert me["name"] == "bob" and me["auth"]["accessToken"]["displayName"] == "laptop"
    with pytest.raises(HfHubHTTPError) as err:
        api.whoami(token="hf_bad")
    assert err.value.response.status_code == 401


def test_status_faults_and_rate_limit(fake_hub: FakeHub) -> None:
    api = HfApi(endpoint=fake_hub.url)
    fake_hub.rate_limit(1, retry_after=7, match="/api/models/")
    with pytest.raises(HfHubHTTPError) as err:
        api.model_info(TINY_REPO)
    assert err.value.response.status_code == 429 and err.value.response.headers["Retry-After"] == "7"
    assert api.model_info(TINY_REPO).id == TINY_REPO
    fake_hub.fail_next(1, 503)
    with pytest.raises(HfHubHTTPError):
        api.model_info(TINY_REPO)


def test_body_faults(fake_hub: FakeHub) -> None:
    url = hf_hub_url(TINY_REPO, "Tiny-Llama-F32.gguf", endpoint=fake_hub.url)
    good = fake_hub.repo(TINY_REPO).files["Tiny-Llama-F32.gguf"].content.read_all()
    with httpx2.Client(follow_redirects=True, timeout=10) as client:
        fake_hub.drop_after(1000)
        with pytest.raises(httpx2.RemoteProtocolError):
            client.get(url)
        fake_hub.corrupt()
        bad = client.get(url).content
        assert len(bad) == len(good) and bad != good
        fake_hub.truncate(100)
        assert client.get(url).content == good[:100]
        fake_hub.stall(500, 0.2)
        assert client.get(url).content == good
