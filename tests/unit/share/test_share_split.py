"""Split and merge on tiny generated models: byte-identical round trips, the split keys llama.cpp reads,
limits, refusals, and outputs that appear all at once or not at all."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from app.core.errors import Cancelled, GGUFError
from app.gguf import read_header
from app.gguf.split import read_model
from app.gguf.synthetic import TinySpec, write_tiny_gguf
from app.share.split import merge_gguf, parse_size, plan_split, split_gguf


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    return write_tiny_gguf(tmp_path / "src" / "Tiny-F32.gguf", TinySpec(n_layer=3))


def test_split_by_tensor_count_then_merge_is_byte_identical(tiny: Path, tmp_path: Path) -> None:
    plan = split_gguf(tiny, max_tensors=10, out_dir=tmp_path / "parts")
    n = len(read_header(tiny).tensors)
    assert [p.count for p in plan.parts] == [10] * (n // 10) + ([n % 10] if n % 10 else [])
    assert next(p.path.name for p in plan.parts) == f"Tiny-F32-00001-of-{len(plan.parts):05d}.gguf"
    for number, part in enumerate(plan.parts):
        header = read_header(part.path)
        assert part.path.stat().st_size == part.size
        assert header.metadata["split.no"] == number
        assert header.metadata["split.count"] == len(plan.parts)
        assert header.metadata["split.tensors.count"] == n
        # llama.cpp's types: u16, u16, i32 (its loader reads them with type checks)
        assert [header.value_types[k] for k in ("split.no", "split.count", "split.tensors.count")] == [(2,), (2,), (5,)]
        assert ("general.name" in header.metadata) == (number == 0)
    merged = merge_gguf(plan.parts[0].path, output=tmp_path / "merged.gguf")
    assert merged.read_bytes() == tiny.read_bytes()


def test_split_by_size_keeps_every_part_under_the_limit(tiny: Path, tmp_path: Path) -> None:
    whole = tiny.stat().st_size
    limit = whole // 3
    plan = split_gguf(tiny, max_size=limit, out_dir=tmp_path / "parts")
    assert len(plan.parts) >= 3
    assert all(p.path.stat().st_size <= limit for p in plan.parts)
    model = read_model(plan.parts[1].path)  # any part finds the whole set
    assert [t.name for t in model.tensors] == [t.name for t in read_header(tiny).tensors]
    assert merge_gguf(plan.parts[0].path).read_bytes() == tiny.read_bytes()
    assert (tmp_path / "parts" / "Tiny-F32.gguf").is_file()  # the merged file is named after the set


def test_a_tensor_larger_than_the_limit_is_refused_before_anything_is_written(tiny: Path, tmp_path: Path) -> None:
    with pytest.raises(GGUFError, match=r"token_embd\.weight alone") as info:
        split_gguf(tiny, max_size=1000, out_dir=tmp_path / "parts")
    assert "larger maximum size" in info.value.hint
    assert not (tmp_path / "parts").exists() or not list((tmp_path / "parts").iterdir())


def test_exactly_one_limit_is_needed(tiny: Path) -> None:
    with pytest.raises(GGUFError, match="either"):
        plan_split(tiny)
    with pytest.raises(GGUFError, match="either"):
        plan_split(tiny, max_size=10**9, max_tensors=3)


def test_a_split_model_is_not_split_again(tmp_path: Path) -> None:
    first = write_tiny_gguf(tmp_path / "Tiny-Split.gguf", TinySpec(split=2))
    with pytest.raises(GGUFError, match="already part of a split model"):
        split_gguf(first, max_tensors=3)


def test_merging_a_whole_file_or_an_incomplete_set_is_refused(tiny: Path, tmp_path: Path) -> None:
    with pytest.raises(GGUFError, match="not named like a part"):
        merge_gguf(tiny)
    plan = split_gguf(tiny, max_tensors=10, out_dir=tmp_path / "parts")
    plan.parts[-1].path.unlink()
    with pytest.raises(GGUFError, match="incomplete"):
        merge_gguf(plan.parts[0].path)


def test_existing_outputs_are_kept_unless_overwriting_is_allowed(tiny: Path, tmp_path: Path) -> None:
    plan = split_gguf(tiny, max_tensors=10, out_dir=tmp_path / "parts")
    before = plan.parts[0].path.read_bytes()
    with pytest.raises(GGUFError, match="already exists"):
        split_gguf(tiny, max_tensors=10, out_dir=tmp_path / "parts")
    assert plan.parts[0].path.read_bytes() == before
    again = split_gguf(tiny, max_tensors=10, out_dir=tmp_path / "parts", overwrite=True)
    assert again.parts[0].path.read_bytes() == before


def test_cancel_leaves_no_part_and_no_temporary_file(tiny: Path, tmp_path: Path) -> None:
    cancel = threading.Event()
    seen: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        cancel.set()

    out = tmp_path / "parts"
    with pytest.raises(Cancelled):
        split_gguf(tiny, max_tensors=5, out_dir=out, progress=progress, cancel=cancel)
    assert seen == [] or all(total == seen[0][1] for _, total in seen)
    assert [p.name for p in out.iterdir() if not p.name.endswith(".lock")] == []


def test_progress_reaches_the_total(tiny: Path, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    plan = split_gguf(tiny, max_tensors=10, out_dir=tmp_path / "p", progress=lambda d, t: seen.append((d, t)))
    data = sum(p.size for p in plan.parts)
    assert seen[-1][1] == data
    assert seen[-1][0] <= data and seen[-1][0] > data // 2


@pytest.mark.parametrize(
    ("text", "size"),
    [("50G", 50 * 10**9), ("49.5GB", 49_500_000_000), ("800M", 800 * 10**6), ("2GiB", 2 << 30), ("4096", 4096)],
)
def test_sizes_read_like_llama_gguf_split(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "G", "-1G", "12X", "0"])
def test_bad_sizes_are_refused(text: str) -> None:
    with pytest.raises(GGUFError):
        parse_size(text)
