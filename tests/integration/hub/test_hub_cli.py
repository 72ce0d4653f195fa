"""`gguf-studio search / files / login / logout` in a subprocess against the fake Hub."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.fakehub import GATED_REPO, LADDER_REPO, LADDER_TYPES, SPLIT_REPO, FakeHub
from tests.support import cli


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return cli.run_cli(*args, env=env, timeout=180)


def test_search_json_and_text(fake_hub: FakeHub) -> None:
    result = run_cli("search", "fake", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["repo_id"] for r in rows] == [LADDER_REPO, SPLIT_REPO, GATED_REPO]
    assert rows[0]["downloads"] == 154_000 and rows[2]["gated"] is True
    text = run_cli("search", "fake", "--sort", "likes", "--limit", "2")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[1].startswith(GATED_REPO) and "(gated)" in lines[1] and len(lines) == 3


def test_files_lists_quants_with_verdicts(fake_hub: FakeHub) -> None:
    from app.estimate.hardware import probe_spec
    from app.hub import repo_detail
    from app.hub.fit import fit_quants, reference_shape

    result = run_cli("files", LADDER_REPO, "--ctx", "2048", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    repo = fake_hub.repo(LADDER_REPO)
    assert [q["label"] for q in report["quants"]] == list(LADDER_TYPES)
    for q in report["quants"]:
        f = repo.files[q["files"][0]["path"]]
        assert q["size"] == f.size and q["sha256"] == f.content.sha256
    assert report["exact"] is True and report["context_length"] == 2048
    detail = repo_detail(LADDER_REPO)
    expected = fit_quants(detail, probe_spec(), 2048, reference_shape(detail))
    assert [q["verdict"] for q in report["quants"]] == [f.verdict.kind.value for f in expected.fits]
    assert [q["recommended"] for q in report["quants"]] == [f.recommended for f in expected.fits]
    best = expected.recommended
    assert best is not None and report["reason"].startswith(best.quant.label)  # free RAM moves between runs
    assert [m["path"] for m in report["mmproj"]] == ["mmproj-Llama-Fake-1B-F16.gguf"]


def test_files_split_set_and_text(fake_hub: FakeHub) -> None:
    report = json.loads(run_cli("files", SPLIT_REPO, "--json").stdout)
    q4 = next(q for q in report["quants"] if q["label"] == "Q4_K_M")
    assert len(q4["files"]) == 3 and q4["size"] == sum(f["size"] for f in q4["files"])
    text = run_cli("files", SPLIT_REPO)
    assert text.returncode == 0 and "(3 parts)" in text.stdout


def test_files_gated_falls_back_to_sizes(fake_hub: FakeHub) -> None:
    result = run_cli("files", GATED_REPO, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["gated"] == "manual" and report["exact"] is False
    assert "gated" in result.stderr


def test_errors_are_one_line(fake_hub: FakeHub) -> None:
    missing = run_cli("files", "nobody/nothing")
    assert missing.returncode == 1 and missing.stderr.startswith("error: Repository nobody/nothing not found")
    offline = run_cli("search", "fake", env={"HF_HUB_OFFLINE": "1"})
    assert offline.returncode == 1 and "offline" in offline.stderr


def test_login_logout(fake_hub: FakeHub, tmp_path: Path) -> None:
    fake_hub.add_token("hf_cli_token", user="erin", token_name="cli")
    bad = run_cli("login", "--token", "hf_nope")
    assert bad.returncode == 1 and "hf_nope" not in bad.stderr
    good = run_cli("login", "--token", "hf_cli_token")
    assert good.returncode == 0, good.stderr
    assert "signed in as erin" in good.stdout and "hf_cli_token" not in good.stdout + good.stderr
    token_file = Path(os.environ["HF_HOME"]) / "token"
    assert token_file.read_text().strip() == "hf_cli_token"
    assert run_cli("logout").returncode == 0
    assert not token_file.exists()
