"""`list` on a full disk: the index (a cache) cannot be written, the models are listed all the same."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.support.cli import run_cli
from tests.support.tiny_gguf import write_tiny_gguf
from tests.support.tmpfs import fill, small_tmpfs


def test_list_on_a_full_disk_lists_and_explains(tmp_path: Path) -> None:
    models = tmp_path / "models" / "org" / "tiny"
    models.mkdir(parents=True)
    write_tiny_gguf(models / "tiny-F32.gguf")
    with small_tmpfs(tmp_path / "small", "1m") as small:
        home = small / "home"
        for kind in ("config", "data", "cache", "logs"):
            (home / kind).mkdir(parents=True)
        (home / "config" / "settings.json").write_text(json.dumps({"models_dir": str(tmp_path / "models")}))
        fill(small)
        assert shutil.disk_usage(small).free < 8192
        result = run_cli("list", env={"GGUF_STUDIO_HOME": str(home)})
    assert result.returncode == 0, result.stderr
    assert "tiny-F32.gguf" in result.stdout
    assert "Traceback" not in result.stderr and "Logging error" not in result.stderr
    assert "OperationalError" not in result.stderr + result.stdout
