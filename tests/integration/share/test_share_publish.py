"""Publishing to the fake Hub with the real huggingface_hub client: a new repository, an existing one, a
private one, resume after SIGKILL (the second run sends only what is missing: the server's log shows it),
refusals before any upload (no token, read-only token, another namespace, other content) and 413/429/quota."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import HfApi, ModelCard

from app.core.errors import Cancelled, HubError, RateLimitedError, ShareError, UnauthorizedError
from app.gguf.split import read_model
from app.gguf.synthetic import TinySpec, write_tiny_gguf
from app.quantize.imatrix_file import Imatrix, ImatrixEntry, save_imatrix
from app.share.card import MARKER
from app.share.publish import PublishProgress, PublishRequest, publish
from tests.fakehub import FakeHub
from tests.fakehub.upload import uploads
from tests.support.cli import app_command, run_cli
from tests.support.quality import save_score

TOKEN, READ_TOKEN = "hf_write_alice", "hf_read_alice"


@pytest.fixture
def hub(fake_hub_empty: FakeHub, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    fake_hub_empty.add_token(TOKEN, "alice", role="write")
    fake_hub_empty.add_token(READ_TOKEN, "alice", role="read")
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    yield fake_hub_empty


@pytest.fixture
def quants(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "quants"
    folder.mkdir()
    files = [
        write_tiny_gguf(folder / f"Tiny-{t}.gguf", TinySpec(tensor_type=t, n_embd=128, n_vocab=2048, name="Tiny"))
        for t in ("Q8_0", "F16")
    ]
    save_score(files[0], folder / "Tiny-F32.src", quant_type="Q8_0")
    entry = ImatrixEntry(np.ones((1, 128), dtype=np.float32), np.array([5]))
    save_imatrix(folder / "Tiny.imatrix.gguf", Imatrix({"blk.0.ffn_up.weight": entry}, ("calibration.txt",), 7, 256))
    return files


def _api(hub: FakeHub) -> HfApi:
    return HfApi(endpoint=hub.url, token=TOKEN)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_publish_creates_the_repo_with_files_imatrix_and_card(hub: FakeHub, quants: list[Path]) -> None:
    # the F16 file goes in parts, the smaller Q8_0 one in one PUT
    uploads(hub).multipart_threshold, uploads(hub).chunk_size = quants[0].stat().st_size + 1, 100_000
    seen: list[str] = []
    result = publish(PublishRequest(tuple(quants), "alice/Tiny-GGUF"), progress=lambda e: seen.append(e.stage))
    assert set(result.files) == {"Tiny-Q8_0.gguf", "Tiny-F16.gguf", "Tiny.imatrix.gguf", "README.md"}
    assert result.sent_bytes == result.total_bytes == sum(p.stat().st_size for p in quants) + (
        quants[0].parent / "Tiny.imatrix.gguf"
    ).stat().st_size
    assert seen[0] == "check" and seen[-1] == "done" and "upload" in seen and "commit" in seen
    state = uploads(hub)
    assert len(state.commits) == 1 and set(state.commits[0].files) == set(result.files)
    api = _api(hub)
    assert set(api.list_repo_files("alice/Tiny-GGUF")) == {*result.files, ".gitattributes"}
    assert not api.model_info("alice/Tiny-GGUF").private
    card = (hub.repo("alice/Tiny-GGUF").files["README.md"].content.read()).__next__().decode()
    assert MARKER in card and ModelCard(card).data.to_dict()["library_name"] == "gguf"
    assert "0.0082" in card and "7 chunks of 256 tokens" in card
    for q in quants:
        assert hub.repo("alice/Tiny-GGUF").files[q.name].content.sha256 == _sha(q)
    n_parts = -(-quants[1].stat().st_size // 100_000)
    assert {r.part for r in state.records if r.oid == _sha(quants[1])} == set(range(1, n_parts + 1))  # multipart
    assert {r.part for r in state.records if r.oid == _sha(quants[0])} == {0}  # basic


def test_a_card_with_broken_front_matter_is_refused_before_any_upload(hub: FakeHub, quants: list[Path]) -> None:
    with pytest.raises(ShareError, match="not valid YAML"):
        publish(PublishRequest(tuple(quants), "alice/Tiny-GGUF", card="---\ntags: [gguf\n---\n# Tiny\n"))
    assert not hub.requests_for("/lfs-upload/") and uploads(hub).commits == []


def test_publish_command_prints_the_card_and_refuses_without_a_token(
    hub: FakeHub, quants: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = run_cli("publish", *map(str, quants), "--repo", "alice/Tiny-GGUF", "--print-card",
                    "--base-model", "org/Tiny")
    assert shown.returncode == 0, shown.stderr
    assert ModelCard(shown.stdout).data.to_dict()["base_model"] == "org/Tiny"
    monkeypatch.delenv("HF_TOKEN")
    refused = run_cli("publish", *map(str, quants), "--repo", "alice/Tiny-GGUF")
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        "error: You are not signed in to the Hub (add a token with write access in Settings)"
    ]
    assert hub.repos == {}


def test_private_repo_and_adding_to_a_repo_this_app_published(hub: FakeHub, quants: list[Path]) -> None:
    publish(PublishRequest((quants[0],), "alice/Tiny-GGUF", private=True, imatrix=None))
    assert _api(hub).model_info("alice/Tiny-GGUF").private
    sent = uploads(hub).received()
    result = publish(PublishRequest((quants[1],), "alice/Tiny-GGUF", message="Add F16"))
    assert uploads(hub).commits[-1].summary == "Add F16"
    assert "Tiny-F16.gguf" in _api(hub).list_repo_files("alice/Tiny-GGUF")
    # the imatrix (found beside the quants both times) was already there: only the F16 file was sent again
    assert uploads(hub).received() - sent == quants[1].stat().st_size == result.sent_bytes


def test_other_content_is_refused_unless_overwrite(hub: FakeHub, quants: list[Path], tmp_path: Path) -> None:
    api = _api(hub)
    api.create_repo("Theirs")
    api.upload_file(path_or_fileobj=b"# someone's model\n", path_in_repo="README.md", repo_id="alice/Theirs")
    api.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id="alice/Theirs")
    hub.clear_requests()
    with pytest.raises(ShareError, match=r"already exists and holds other content \(config.json\)") as info:
        publish(PublishRequest(tuple(quants), "alice/Theirs"))
    assert "--overwrite" in info.value.hint
    assert not hub.requests_for("/lfs-upload/") and not hub.requests_for("/commit/")
    publish(PublishRequest(tuple(quants), "alice/Theirs", overwrite=True))
    assert {"config.json", "Tiny-Q8_0.gguf"} <= set(api.list_repo_files("alice/Theirs"))


@pytest.mark.parametrize(
    ("token", "repo", "error", "text"),
    [
        (None, "alice/X", UnauthorizedError, "not signed in"),
        (READ_TOKEN, "alice/X", UnauthorizedError, "read-only"),
        (TOKEN, "bob/X", UnauthorizedError, "cannot write to bob"),
    ],
)
def test_access_is_refused_before_any_upload(
    hub: FakeHub, quants: list[Path], monkeypatch: pytest.MonkeyPatch, token: str | None, repo: str,
    error: type[Exception], text: str,
) -> None:
    if token is None:
        monkeypatch.delenv("HF_TOKEN")
    else:
        monkeypatch.setenv("HF_TOKEN", token)
    with pytest.raises(error, match=text):
        publish(PublishRequest(tuple(quants), repo))
    assert [r.path for r in hub.requests if r.method != "GET"] == []
    assert hub.repos == {}


@pytest.mark.parametrize(
    ("fault", "error", "text"),
    [
        ({"status": 413, "match": "/preupload/", "message": "Payload Too Large"}, HubError, "too large"),
        ({"status": 429, "match": "/objects/batch", "retry_after": 0}, RateLimitedError, "rate limiting"),
        ({"quota": 1000}, HubError, "storage quota on the Hub is full"),
    ],
)
def test_hub_refusals_are_clear_and_leave_local_files_alone(
    hub: FakeHub, quants: list[Path], fault: dict[str, object], error: type[Exception], text: str
) -> None:
    before = {q: _sha(q) for q in quants}
    if "quota" in fault:
        uploads(hub).quota = int(fault["quota"])  # type: ignore[call-overload]
    else:
        hub.fail_next(20, **fault)  # type: ignore[arg-type]
    with pytest.raises(error, match=text) as info:
        publish(PublishRequest(tuple(quants), "alice/Tiny-GGUF"))
    assert "run the same publish again" in info.value.hint  # type: ignore[attr-defined]
    assert uploads(hub).commits == []
    assert {q: _sha(q) for q in quants} == before
    hub.clear_faults()
    uploads(hub).quota = None
    publish(PublishRequest(tuple(quants), "alice/Tiny-GGUF"))  # and the next run goes through
    assert len(uploads(hub).commits) == 1


def test_files_over_the_limit_are_split_and_load_from_the_hub(
    hub: FakeHub, quants: list[Path], tmp_path: Path
) -> None:
    limit = quants[1].stat().st_size // 2 + 4096
    result = publish(PublishRequest((quants[1],), "alice/Split-GGUF", split_limit=limit, staging=tmp_path / "st"))
    parts = sorted(f for f in result.files if f.startswith("Tiny-F16-"))
    n = len(parts)
    assert n >= 2 and parts == [f"Tiny-F16-{i:05d}-of-{n:05d}.gguf" for i in range(1, n + 1)]
    assert all(hub.repo("alice/Split-GGUF").files[p].size <= limit for p in parts)
    down = tmp_path / "down"
    down.mkdir()
    for name in parts:
        (down / name).write_bytes(b"".join(hub.repo("alice/Split-GGUF").files[name].content.read()))
    assert [t.name for t in read_model(down / parts[0]).tensors] == [t.name for t in read_model(quants[1]).tensors]
    card = b"".join(hub.repo("alice/Split-GGUF").files["README.md"].content.read()).decode()
    assert f"Tiny-F16-00001-of-{n:05d}.gguf` (+{n - 1} parts)" in card, card


def test_resume_after_sigkill_sends_only_what_is_missing(hub: FakeHub, tmp_path: Path) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    files = [
        write_tiny_gguf(folder / f"Big-{t}.gguf", TinySpec(tensor_type=t, n_embd=256, n_vocab=8192, name="Big"))
        for t in ("Q8_0", "F16", "F32")
    ]
    sizes = {_sha(f): f.stat().st_size for f in files}
    state = uploads(hub)
    state.read_rate = 8 << 20
    # Killed while more of a body is still to come than loopback socket buffers hold: the server then sees
    # a cut upload, not one the kernel had taken whole.
    unsent = 8 << 20
    child = subprocess.Popen(
        app_command("publish", *map(str, files), "--repo", "alice/Big-GGUF"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not (state.objects and any(0 < n < sizes[o] - unsent for o, n in state.progress.items())):
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(30)
    deadline = time.monotonic() + 30
    while not any(not r.complete for r in state.records):  # the server sees the dropped connection
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert state.commits == []
    first_run = set(state.objects)
    partial = {r.oid for r in state.records if not r.complete}
    assert first_run and partial and not first_run & partial
    state.read_rate = 0
    n_records = len(state.records)
    result = run_cli("publish", *map(str, files), "--repo", "alice/Big-GGUF")
    assert result.returncode == 0, result.stderr
    second = state.records[n_records:]
    assert {r.oid for r in second} == set(sizes) - first_run  # nothing stored before is sent again
    assert sum(r.size for r in second) == sum(n for o, n in sizes.items() if o not in first_run)
    assert "already on the Hub" in result.stderr
    assert len(state.commits) == 1
    assert {f.name for f in files} <= set(_api(hub).list_repo_files("alice/Big-GGUF"))
    assert result.stdout.strip() == f"{hub.url}/alice/Big-GGUF"


def test_a_dropped_connection_mid_upload_is_retried_and_the_publish_completes(hub: FakeHub, quants: list[Path]) -> None:
    hub.drop_after(100_000, match="/lfs-upload/")
    result = publish(PublishRequest(tuple(quants), "alice/Tiny-GGUF"))
    cut = [r for r in uploads(hub).records if not r.complete]
    assert len(cut) == 1 and cut[0].size == 100_000
    assert all(hub.repo("alice/Tiny-GGUF").files[q.name].content.sha256 == _sha(q) for q in quants)
    assert len(uploads(hub).commits) == 1 and "README.md" in result.files


def test_cancel_stops_the_upload_and_the_next_run_finishes_it(hub: FakeHub, quants: list[Path]) -> None:
    cancel = threading.Event()

    def progress(event: PublishProgress) -> None:
        if event.stage == "upload" and event.done > 0:
            cancel.set()

    with pytest.raises(Cancelled) as info:
        publish(PublishRequest(tuple(quants), "alice/Tiny-GGUF"), progress=progress, cancel=cancel)
    assert "run the same publish again" in info.value.hint
    assert uploads(hub).commits == []
    result = publish(PublishRequest(tuple(quants), "alice/Tiny-GGUF"))
    assert len(uploads(hub).commits) == 1 and result.sent_bytes <= result.total_bytes


def test_the_child_process_job_relays_progress_cancels_and_resumes(hub: FakeHub, quants: list[Path]) -> None:
    from app.share.job import run_publish_job

    state = uploads(hub)
    state.read_rate = 256 << 10
    cancel = threading.Event()
    stages: list[str] = []

    def progress(event: PublishProgress) -> None:
        stages.append(event.stage)
        if event.stage == "upload" and event.done > 0:
            cancel.set()

    with pytest.raises(Cancelled):
        run_publish_job(PublishRequest(tuple(quants), "alice/Tiny-GGUF"), progress=progress, cancel=cancel)
    assert stages[0] == "check" and "upload" in stages and state.commits == []
    state.read_rate = 0
    result = run_publish_job(PublishRequest(tuple(quants), "alice/Tiny-GGUF"))
    assert len(state.commits) == 1 and set(result.files) >= {q.name for q in quants}
