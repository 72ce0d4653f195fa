"""`gguf-studio files --json` carries, for every quant, the largest context its verdict holds at (issue 13,
item 5), through the real entry point against the fake Hub."""

from __future__ import annotations

import json

from tests.fakehub import GATED_REPO, LADDER_REPO, FakeHub
from tests.support import cli


def test_files_reports_the_largest_context_of_each_verdict(fake_hub: FakeHub) -> None:
    from app.estimate.hardware import probe_spec
    from app.hub import repo_detail
    from app.hub.fit import fit_quants, reference_shape

    result = cli.run_cli("files", LADDER_REPO, "--ctx", "2048", "--json", timeout=180)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    detail = repo_detail(LADDER_REPO)
    expected = fit_quants(detail, probe_spec(), 2048, reference_shape(detail))
    trained = detail.context_length
    assert trained
    for q, fit in zip(report["quants"], expected.fits, strict=True):
        if q["verdict"] == "wont_fit":
            assert q["max_context"] == 0
            continue
        assert q["max_context"] % 256 == 0 and 2048 <= q["max_context"] <= trained
        # free RAM moves between the two processes; on a machine where the trained context fits, both agree
        if fit.verdict.max_ctx == trained:
            assert q["max_context"] == trained

    text = cli.run_cli("files", LADDER_REPO, "--ctx", "2048", timeout=180)
    assert text.returncode == 0 and "MAX CTX" in text.stdout


def test_size_only_verdicts_have_no_largest_context(fake_hub: FakeHub) -> None:
    report = json.loads(cli.run_cli("files", GATED_REPO, "--json", timeout=180).stdout)
    assert report["exact"] is False and all(q["max_context"] is None for q in report["quants"])
