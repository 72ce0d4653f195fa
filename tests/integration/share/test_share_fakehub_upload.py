"""The fake Hub's upload side against the real huggingface_hub client (plain LFS path): repository creation,
preupload, LFS batch (basic and multipart), verify, commit; what is already stored is not sent again; and the
refusals a publisher meets (no token, read-only token, another namespace, 413, 429)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from huggingface_hub import HfApi, constants, hf_hub_download
from huggingface_hub import errors as hf_errors

from tests.fakehub import FakeHub
from tests.fakehub.upload import uploads

TOKEN, READ_TOKEN = "hf_write_alice", "hf_read_alice"


@pytest.fixture
def hub(fake_hub_empty: FakeHub, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    fake_hub_empty.add_token(TOKEN, "alice", role="write")
    fake_hub_empty.add_token(READ_TOKEN, "alice", role="read")
    yield fake_hub_empty


def _api(hub: FakeHub, token: str | None = TOKEN) -> HfApi:
    return HfApi(endpoint=hub.url, token=token or False)


def _blob(tmp_path: Path, name: str, size: int, seed: int = 0) -> Path:
    path = tmp_path / name
    block = hashlib.sha256(f"{seed}".encode()).digest() * 32768  # 1 MiB
    with open(path, "wb") as f:
        for _ in range(size >> 20):
            f.write(block)
        f.write(block[: size % (1 << 20)])
    return path


def test_create_upload_commit_and_download_back(hub: FakeHub, tmp_path: Path) -> None:
    api = _api(hub)
    url = api.create_repo("Tiny-GGUF")
    assert str(url).endswith("/alice/Tiny-GGUF")
    blob = _blob(tmp_path, "tiny.gguf", 3 << 20)
    api.upload_file(path_or_fileobj=blob, path_in_repo="tiny.gguf", repo_id="alice/Tiny-GGUF", commit_message="add")
    api.upload_file(path_or_fileobj=b"# Tiny\n", path_in_repo="README.md", repo_id="alice/Tiny-GGUF")
    state = uploads(hub)
    assert [c.lfs_files for c in state.commits] == [["tiny.gguf"], []]
    assert state.received() == blob.stat().st_size  # one basic PUT of the whole file
    assert sorted(api.list_repo_files("alice/Tiny-GGUF")) == [".gitattributes", "README.md", "tiny.gguf"]
    got = hf_hub_download("alice/Tiny-GGUF", "tiny.gguf", cache_dir=tmp_path / "cache", token=TOKEN, endpoint=hub.url)
    assert Path(got).read_bytes() == blob.read_bytes()
    assert hub.requests_for("/api/validate-yaml", "POST")  # the README's front matter is checked first


def test_large_files_go_multipart(hub: FakeHub, tmp_path: Path) -> None:
    state = uploads(hub)
    state.multipart_threshold, state.chunk_size = 4 << 20, 1 << 20
    api = _api(hub)
    api.create_repo("Big")
    blob = _blob(tmp_path, "big.gguf", (5 << 20) + 123)
    api.upload_file(path_or_fileobj=blob, path_in_repo="big.gguf", repo_id="alice/Big")
    assert sorted(r.part for r in state.records) == [1, 2, 3, 4, 5, 6]
    assert hub.requests_for("/complete", "POST") and hub.requests_for("/objects/verify", "POST")
    sha = hashlib.sha256(blob.read_bytes()).hexdigest()
    assert state.objects[sha].read_bytes() == blob.read_bytes()


def test_what_the_hub_holds_is_not_sent_again(hub: FakeHub, tmp_path: Path) -> None:
    api = _api(hub)
    api.create_repo("Again")
    blob = _blob(tmp_path, "a.gguf", 2 << 20)
    api.upload_file(path_or_fileobj=blob, path_in_repo="a.gguf", repo_id="alice/Again")
    sent = uploads(hub).received()
    api.upload_file(path_or_fileobj=blob, path_in_repo="copy.gguf", repo_id="alice/Again")
    assert uploads(hub).received() == sent  # the LFS batch answered without an upload action
    assert "copy.gguf" in api.list_repo_files("alice/Again")


def test_existing_repo_is_kept_with_exist_ok_and_private_repos_are_private(hub: FakeHub) -> None:
    api = _api(hub)
    api.create_repo("Secret", private=True)
    assert api.model_info("alice/Secret").private
    with pytest.raises(hf_errors.HfHubHTTPError) as info:
        api.create_repo("Secret")
    assert info.value.response.status_code == 409
    api.create_repo("Secret", exist_ok=True)
    with pytest.raises(hf_errors.RepositoryNotFoundError):
        _api(hub, None).model_info("alice/Secret")


def test_refusals(hub: FakeHub, tmp_path: Path) -> None:
    blob = _blob(tmp_path, "x.gguf", 1 << 20)
    with pytest.raises(hf_errors.HfHubHTTPError) as info:
        _api(hub, None).create_repo("NoToken")
    assert info.value.response.status_code == 401
    with pytest.raises(hf_errors.HfHubHTTPError) as info:
        _api(hub, READ_TOKEN).create_repo("ReadOnly")
    assert info.value.response.status_code == 403
    with pytest.raises(hf_errors.HfHubHTTPError) as info:
        _api(hub).create_repo("bob/Theirs")
    assert info.value.response.status_code == 403
    api = _api(hub)
    api.create_repo("Faults")
    hub.fail_next(1, 413, match="/preupload/", message="Payload Too Large")
    with pytest.raises(hf_errors.HfHubHTTPError) as info:
        api.upload_file(path_or_fileobj=blob, path_in_repo="x.gguf", repo_id="alice/Faults")
    assert info.value.response.status_code == 413
    hub.rate_limit(10, retry_after=0, match="/objects/batch")
    with pytest.raises(hf_errors.HfHubHTTPError) as info:
        api.upload_file(path_or_fileobj=blob, path_in_repo="x.gguf", repo_id="alice/Faults")
    assert info.value.response.status_code == 429
    hub.clear_faults()
    uploads(hub).quota = 1000
    with pytest.raises(hf_errors.HfHubHTTPError, match="storage quota"):
        api.upload_file(path_or_fileobj=blob, path_in_repo="x.gguf", repo_id="alice/Faults")
    assert uploads(hub).received() == 0 and uploads(hub).commits == []
