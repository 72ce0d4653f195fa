"""A repository's files sorted into quants: split sets joined, projectors and importance matrices apart."""

from __future__ import annotations

from collections.abc import Iterable

from app.gguf.naming import is_imatrix, is_mmproj, is_model_file, parse_split, quant_label
from app.hub.models import Quant, QuantKind, RepoFile


def _label(path: str) -> str:
    return quant_label(path) or path.rsplit("/", 1)[-1].removesuffix(".gguf")


def group_files(
    files: Iterable[RepoFile],
) -> tuple[tuple[Quant, ...], tuple[Quant, ...], tuple[RepoFile, ...], tuple[RepoFile, ...]]:
    """(model quants smallest first, mmproj files, imatrix files, everything else)."""
    singles: list[Quant] = []
    splits: dict[tuple[str, str, int], list[tuple[int, RepoFile]]] = {}
    mmproj: list[Quant] = []
    imatrix: list[RepoFile] = []
    other: list[RepoFile] = []
    for f in files:
        if is_imatrix(f.path):
            imatrix.append(f)
        elif is_mmproj(f.path) and f.path.lower().endswith(".gguf"):
            mmproj.append(Quant(_label(f.path), (f,), QuantKind.MMPROJ))
        elif is_model_file(f.path):
            split = parse_split(f.path)
            if split is None:
                singles.append(Quant(_label(f.path), (f,)))
            else:
                folder = f.path.rsplit("/", 1)[0] if "/" in f.path else ""
                splits.setdefault((folder, split.stem, split.count), []).append((split.number, f))
        else:
            other.append(f)
    for (_folder, stem, count), parts in splits.items():
        parts.sort(key=lambda p: p[0])
        if [n for n, _ in parts] != list(range(1, count + 1)):
            # an incomplete set cannot be loaded: list what is there as plain files
            other.extend(f for _, f in parts)
            continue
        singles.append(Quant(quant_label(stem + ".gguf") or stem, tuple(f for _, f in parts)))
    singles.sort(key=lambda q: (q.size, q.label))
    mmproj.sort(key=lambda q: q.size)
    return tuple(singles), tuple(mmproj), tuple(imatrix), tuple(other)
