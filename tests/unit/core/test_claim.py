"""Claims on output names (app.core.claim): exclusive across processes, reentrant within one, tidy after."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

from app.core.atomic import temp_name
from app.core.claim import claimed, remove_unheld, temp_files
from app.core.errors import BusyError


def _try_claim(paths: list[Path], answer: multiprocessing.Queue[str]) -> None:
    try:
        with claimed(paths):
            answer.put("claimed")
    except BusyError as exc:
        answer.put(exc.message)


def _from_another_process(*paths: Path) -> str:
    ctx = multiprocessing.get_context("spawn")
    answer: multiprocessing.Queue[str] = ctx.Queue()
    child = ctx.Process(target=_try_claim, args=(list(paths), answer))
    child.start()
    child.join(60)
    return answer.get(timeout=5)


def test_a_claimed_name_is_refused_to_another_process_naming_the_owner(tmp_path: Path) -> None:
    out = tmp_path / "m-Q8_0.gguf"
    with claimed([out]):
        assert f"{out} is being written by another job (process {os.getpid()})" in _from_another_process(out)
    assert _from_another_process(out) == "claimed"
    assert list(tmp_path.iterdir()) == []  # the lock file goes with the claim


def test_claims_are_reentrant_within_a_process(tmp_path: Path) -> None:
    out = tmp_path / "m.gguf"
    with claimed([out, out]), claimed([out]):
        pass
    with claimed([out]):
        assert (tmp_path / "m.gguf.lock").exists()


def test_claiming_sweeps_a_dead_writers_temporary_files_only(tmp_path: Path) -> None:
    out = tmp_path / "m.gguf"
    dead, other = temp_name(out), temp_name(tmp_path / "n.gguf")
    download = tmp_path / "m.gguf.part"  # a resumable download's name is not ours to remove
    for path in (dead, other, download):
        path.write_bytes(b"x")
    assert temp_files(out) == [dead] and temp_files(out, os.getpid()) == [dead] and temp_files(out, 1) == []
    with claimed([out]):
        assert not dead.exists() and other.exists() and download.exists()


def test_remove_unheld_leaves_a_held_lock(tmp_path: Path) -> None:
    out = tmp_path / "m.gguf"
    (tmp_path / "m.gguf.lock").write_bytes(b"\x0099999")  # left by a killed owner
    remove_unheld(out)
    assert not (tmp_path / "m.gguf.lock").exists()
    with claimed([out]):
        remove_unheld(out)  # another fd of this process cannot lock it: it is left alone
        assert (tmp_path / "m.gguf.lock").exists()


def test_a_refused_claim_releases_the_names_it_took(tmp_path: Path) -> None:
    first, taken = tmp_path / "a.gguf", tmp_path / "b.gguf"
    with claimed([taken]):
        assert "being written" in _from_another_process(first, taken)
        assert (tmp_path / "b.gguf.lock").exists() and not (tmp_path / "a.gguf.lock").exists()
    assert list(tmp_path.iterdir()) == []
