"""Two processes writing one state file: unique temporary names, whole files for readers, no lost changes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from app.core import atomic
from app.core.locking import FileLock, locked
from app.core.settings import Settings

ROOT = Path(__file__).resolve().parents[3]

_WRITER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from app.core.atomic import write_text_atomic
    path, tag, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    errors = 0
    for n in range(count):
        body = json.dumps({"writer": tag, "n": n, "pad": [tag * 50] * 400})
        try:
            write_text_atomic(path, body)
        except OSError:
            errors += 1
    print(errors)
    """
)


def _python(script: str, *args: object, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_temporary_names_are_unique_and_cleaned_up(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    first, second = atomic.temp_name(target), atomic.temp_name(target)
    assert first != second
    assert first.parent == target.parent and str(os.getpid()) in first.name
    atomic.write_atomic(target, b"x")
    assert list(tmp_path.iterdir()) == [target]


def test_a_dead_writers_temporary_file_is_removed_later(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    stale, fresh = tmp_path / "state.json.999999-deadbeef.part", tmp_path / "state.json.999998-cafe.part"
    stale.write_text("half")
    fresh.write_text("being written")
    old = atomic.time.time() - atomic.STALE_PART_S - 60
    os.utime(stale, (old, old))
    atomic.write_atomic(target, b"x")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fresh.name, target.name])


def test_a_reader_racing_two_writer_processes_never_sees_half_a_file(tmp_path: Path) -> None:
    target = tmp_path / "downloads.json"
    atomic.write_text_atomic(target, json.dumps({"writer": "start"}))
    writers = [_python(_WRITER, target, tag, 300) for tag in ("a", "b")]
    reads = invalid = 0
    while any(w.poll() is None for w in writers):
        text = target.read_text(encoding="utf-8")
        reads += 1
        try:
            json.loads(text)
        except ValueError:
            invalid += 1
    failures = [int(w.communicate()[0].strip() or "0") for w in writers]
    assert [w.returncode for w in writers] == [0, 0]
    assert invalid == 0, f"{invalid} of {reads} reads were half a file"
    assert failures == [0, 0], "writers tripped over each other's temporary file"
    assert [p.name for p in tmp_path.iterdir()] == ["downloads.json"]


_ENQUEUER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from app.downloads.manager import DownloadManager
    from app.downloads.store import QueueStore
    store, models, tag, count = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    manager = DownloadManager(lambda: models, store=QueueStore(store))
    print("ready", flush=True)
    sys.stdin.readline()
    for n in range(count):
        manager.enqueue("org/model", [f"{tag}-{n}.gguf"])
    manager.shutdown()
    print("done", flush=True)
    """
)


def test_two_download_managers_on_one_home_lose_no_items(tmp_path: Path) -> None:
    from app.downloads.store import QueueStore

    store = tmp_path / "data" / "downloads.json"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _ENQUEUER, str(store), str(tmp_path / "models"), tag, "75"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for tag in ("a", "b")
    ]
    for proc in procs:  # both have loaded the (empty) queue before either adds anything
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        assert proc.communicate(timeout=120)[0].strip() == "done"
    names = sorted(name for item in QueueStore(store).load() for name in item.filenames)
    assert len(names) == 150
    assert names == sorted([f"a-{n}.gguf" for n in range(75)] + [f"b-{n}.gguf" for n in range(75)])


def test_a_removed_item_stays_removed_while_another_process_adds(tmp_path: Path) -> None:
    from app.downloads.items import DownloadItem
    from app.downloads.store import QueueStore

    path = tmp_path / "downloads.json"

    def item(name: str) -> DownloadItem:
        return DownloadItem(id=name, repo_id="o/m", filenames=(f"{name}.gguf",), revision="main", models_dir="/m")

    ours, theirs = QueueStore(path), QueueStore(path)
    ours.save([item("kept"), item("removed")], 1)
    theirs.save([item("other")], 1)
    ours.save([item("kept")], 2)
    assert sorted(i.id for i in QueueStore(path).load()) == ["kept", "other"]


_SETTER = textwrap.dedent(
    """
    import sys
    from app.core.settings import Settings
    settings = Settings()
    for n in range(int(sys.argv[2])):
        if sys.argv[1] == "theme":
            settings.update(theme=("light", "dark")[n % 2])
        else:
            settings.update(threads=n + 1)
    """
)


def test_settings_changed_by_two_processes_keep_both_fields(isolated_home: Path) -> None:
    env = {"GGUF_STUDIO_HOME": str(isolated_home)}
    procs = [_python(_SETTER, field, 60, env=env) for field in ("theme", "threads")]
    for proc in procs:
        proc.communicate(timeout=120)
        assert proc.returncode == 0
    values = Settings().values
    assert values.theme == "dark"  # the last of 60 alternating changes (n = 59)
    assert values.threads == 60


def test_the_lock_excludes_another_process_until_released(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    probe = (
        "import sys\nfrom pathlib import Path\nfrom app.core.locking import FileLock, lock_path\n"
        "print(FileLock(lock_path(Path(sys.argv[1]))).acquire(timeout=0))"
    )
    with locked(target):
        held = _python(probe, target).communicate()[0].strip()
    free = _python(probe, target).communicate()[0].strip()
    assert (held, free) == ("False", "True")
    lock = FileLock(tmp_path / "owner.lock")
    assert lock.acquire(timeout=0)
    lock.write_owner("pid 42")
    assert lock.read_owner() == "pid 42"
    lock.release()
