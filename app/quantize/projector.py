"""The vision projector a quantize job writes beside its quants, so a quantized vision model keeps its images.

A Hugging Face folder with a vision tower gets `mmproj-<name>-<TYPE>.gguf` from our `--mmproj` conversion (F16
by default, Q8_0 on request): the name app.chat.projector pairs with the quants in the same folder. A GGUF
source's projector (the mmproj beside it that fits it) is copied when the quants go to another folder; when the
type asked for is not beside it, an F16/F32 projector whose type rules we know (the vision towers, and Gemma
4's audio tower) is re-typed (app.convert.mmproj.retype_mmproj).
The projector is the same for every quant of a source, so it carries no variant number, a file of that name
already there is kept (unless the user said to overwrite), and a job that finds another writing it leaves it to
that one.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from app.core.atomic import fsync_dir, temp_name
from app.core.errors import AppError, DiskFullError, QuantizeError

log = logging.getLogger("app.quantize")

PROJECTOR_TYPES = ("f16", "q8_0")  # what llama.cpp's vision models are published with; "" writes none


@dataclass(frozen=True, slots=True)
class ProjectorPlan:
    """Where a job's projector comes from and where it goes."""

    target: Path
    folder: Path | None = None  # a Hugging Face folder to convert
    copy_of: Path | None = None  # a GGUF projector to copy
    retype: bool = False  # re-type copy_of (to the job's projector type) instead of copying it


def has_vision_tower(folder: Path) -> bool:
    """config.json describes a vision-language model (read without importing the converter)."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and isinstance(config.get("vision_config"), dict)


def projector_source(source: Path) -> str:
    """In words, where a job's projector would come from ("" when the source has none)."""
    if source.is_dir():
        return "converted from its vision tower" if has_vision_tower(source) else ""
    from app.chat.projector import projector_for

    found = projector_for(source)
    return f"made from {Path(found).name} beside it" if found else ""


def plan_projector(source: Path, out_dir: Path, stem: str, outtype: str) -> ProjectorPlan | None:
    """What the job does about a projector, or None when there is nothing to do."""
    if not outtype:
        return None
    if outtype not in PROJECTOR_TYPES:
        raise QuantizeError(f"projector type {outtype!r} is not one of {', '.join(PROJECTOR_TYPES)}")
    if source.is_dir():
        if not has_vision_tower(source):
            return None
        return ProjectorPlan(out_dir / f"mmproj-{stem}-{outtype.upper()}.gguf", folder=source)
    from app.chat.projector import projectors_beside

    found = projectors_beside(source)
    if not found:
        return None
    wanted = {"f16": 1, "q8_0": 7}[outtype]  # general.file_type
    best = next((p for p in found if p.file_type == wanted), found[0])
    path = Path(best.path)
    if path.parent.resolve() == out_dir.resolve():
        return None  # already beside the quants (Chat pairs the best one there)
    if best.file_type != wanted and best.file_type in (0, 1) and best.vision:
        from app.convert.mmproj import can_retype

        if can_retype(best.projector_type, best.audio):
            return ProjectorPlan(out_dir / _typed_name(path.name, outtype), copy_of=path, retype=True)
    return ProjectorPlan(out_dir / path.name, copy_of=path)


def _typed_name(name: str, outtype: str) -> str:
    """mmproj-model-F16.gguf -> mmproj-model-Q8_0.gguf (the type appended when the name carries none)."""
    stem = name[: -len(".gguf")] if name.lower().endswith(".gguf") else name
    for suffix in ("-F16", "-F32", ".F16", ".F32", "-f16", "-f32", ".f16", ".f32"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    return f"{stem}-{outtype.upper()}.gguf"


def write_projector(plan: ProjectorPlan, outtype: str, overwrite: bool) -> bool:
    """Write the planned projector; False when a file of that name was there and is kept."""
    if plan.target.exists() and not overwrite:
        return False
    if plan.folder is not None:
        from app.convert.mmproj import convert_mmproj

        convert_mmproj(plan.folder, plan.target, outtype)  # atomic: *.part, then renamed
        return True
    assert plan.copy_of is not None
    if plan.retype:
        from app.convert.mmproj import retype_mmproj

        retype_mmproj(plan.copy_of, plan.target, outtype)  # atomic: *.part, then renamed
        return True
    part = temp_name(plan.target)
    try:
        shutil.copyfile(plan.copy_of, part)
        os.replace(part, plan.target)
    except OSError as exc:
        part.unlink(missing_ok=True)
        from app.downloads.disk import is_disk_full

        if is_disk_full(exc):
            raise DiskFullError(f"No space left to copy the projector to {plan.target.parent}") from exc
        raise QuantizeError(f"could not copy the projector {plan.copy_of.name}: {exc.strerror or exc}") from exc
    fsync_dir(plan.target.parent)
    return True


def projector_warning(exc: AppError, source: Path) -> str:
    return f"the quants of {source.name} have no vision projector: {exc.message}"


__all__ = ["PROJECTOR_TYPES", "ProjectorPlan", "has_vision_tower", "plan_projector", "projector_source",
           "projector_warning", "write_projector"]
