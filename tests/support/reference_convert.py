"""llama.cpp's own convert_hf_to_gguf.py (pinned sources, with torch) as the reference our converter must equal.

The reference runs in one child process for a whole batch of checkpoints (importing torch and transformers
once), and its outputs are cached on disk under build/test-models/convert-reference, keyed by everything the
output depends on (see job_key): a second test session reuses them.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.models import TEST_MODELS_DIR

CACHE_DIR = TEST_MODELS_DIR / "convert-reference"

# The child: for each job, run the reference's main() with its arguments. A byte-level BPE vocabulary trained
# for a test has a token-id hash llama.cpp's converter never saw; the job then names the pre-tokenizer whose
# split regex the test tokenizer was built with (FIELD-NOTES: tiny random checkpoints).
# Each job runs in a fork of one process that imported torch and the script once: the reference's main() sets
# options such as --no-mtp as attributes of the model class, which would otherwise leak into the next job.
_RUNNER = """
import json, os, runpy, sys, traceback
src, jobs_file = sys.argv[1], sys.argv[2]
sys.path[0:0] = [src + "/gguf-py", src]
import conversion.base
script = runpy.run_path(src + "/convert_hf_to_gguf.py", run_name="reference")
jobs = json.loads(open(jobs_file, encoding="utf-8").read())
for job in jobs:
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)
        continue
    pre = job["pre"]
    if pre:
        conversion.base.TextModel.get_vocab_base_pre = lambda self, tok, p=pre: p
    sys.argv = ["convert_hf_to_gguf.py", *job["args"]]
    try:
        script["main"]()
        status = "ok"
    except BaseException as exc:
        status = "".join(traceback.format_exception_only(type(exc), exc)).strip() or type(exc).__name__
    with open(job["status"], "w", encoding="utf-8") as f:
        f.write(status)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
"""


@dataclass(frozen=True, slots=True)
class ReferenceJob:
    folder: Path
    outtype: str
    pre: str | None  # pre-tokenizer name for a BPE vocabulary llama.cpp cannot recognise by hash
    extra_args: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ReferenceResult:
    path: Path | None  # None: the reference converter failed
    error: str  # its last exception line when it failed


def _digest_files(paths: Iterable[Path]) -> str:
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(path.name.encode() + b"\0")
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


def sources_digest(sources: Path) -> str:
    files = [sources / "convert_hf_to_gguf.py", *sorted((sources / "conversion").glob("*.py"))]
    files += sorted((sources / "gguf-py" / "gguf").glob("*.py"))
    h = hashlib.sha256()
    for path in files:
        h.update(str(path.relative_to(sources)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def job_key(job: ReferenceJob, sources_hash: str) -> str:
    """The cache key: the checkpoint's file names and bytes, the folder's own name (the reference fills
    general.name, basename, finetune, version and size label from it where the model card and config leave
    them open), the output type, the forced pre-tokenizer, the extra arguments and the reference's sources.
    Not the folder's full path: each test session builds its checkpoints under a new temporary folder."""
    files = [p for p in job.folder.iterdir() if p.is_file() and not p.name.endswith(".gguf")]
    payload: dict[str, Any] = {
        "files": _digest_files(files),
        "folder_name": job.folder.name,
        "outtype": job.outtype,
        "pre": job.pre,
        "args": list(job.extra_args),
        "reference": sources_hash,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def reference_outputs(
    jobs: list[ReferenceJob], sources: Path, cache: Path = CACHE_DIR, site: Path | None = None
) -> list[ReferenceResult]:
    """The reference GGUF for each job, converting only those not cached yet (all in one child process).
    `site`: a folder of packages put first on the child's path (converter_requirements.declared_transformers)."""
    cache.mkdir(parents=True, exist_ok=True)
    sources_hash = sources_digest(sources) + (f"|{site.name}" if site is not None else "")
    keys = [job_key(job, sources_hash) for job in jobs]
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test processes convert each model once
        todo = [(job, key) for job, key in zip(jobs, keys, strict=True) if not (cache / f"{key}.status").exists()]
        if todo:
            _run(todo, sources, cache, site)
    results = []
    for key in keys:
        status = (cache / f"{key}.status").read_text(encoding="utf-8")
        out = cache / f"{key}.gguf"
        results.append(ReferenceResult(out if status == "ok" and out.exists() else None, status))
    return results


def _run(todo: list[tuple[ReferenceJob, str]], sources: Path, cache: Path, site: Path | None) -> None:
    specs = []
    for job, key in todo:
        out = cache / f"{key}.gguf"
        args = [str(job.folder), "--outtype", job.outtype, "--outfile", str(out), *job.extra_args]
        specs.append({"args": args, "pre": job.pre, "status": str(cache / f"{key}.status.part")})
    jobs_file = cache / f"jobs-{os.getpid()}.json"
    jobs_file.write_text(json.dumps(specs), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "NO_LOCAL_GGUF"}  # the reference's own gguf-py
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH", "")) if p)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _RUNNER, str(sources), str(jobs_file)],
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
        )
    finally:
        jobs_file.unlink(missing_ok=True)
    for spec, (_job, key) in zip(specs, todo, strict=True):
        part = Path(spec["status"])
        if part.exists():
            part.replace(cache / f"{key}.status")
        else:  # the child died before reaching this job
            (cache / f"{key}.status").with_suffix(".crash").write_text(proc.stderr[-4000:], encoding="utf-8")
            raise RuntimeError(f"the reference converter died (rc={proc.returncode}):\n{proc.stderr[-4000:]}")


# --- comparison ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GGUFContent:
    metadata: dict[str, Any]
    tensors: list[tuple[str, tuple[int, ...], str, bytes]]  # name, shape, type, bytes (in file order)


def read_gguf(path: Path) -> GGUFContent:
    import numpy as np
    from gguf import GGUFReader

    reader = GGUFReader(path)
    metadata = {k: _plain(f.contents()) for k, f in reader.fields.items() if not k.startswith("GGUF.")}
    tensors = [
        (t.name, tuple(int(d) for d in t.shape), t.tensor_type.name, np.asarray(t.data).tobytes())
        for t in reader.tensors
    ]
    return GGUFContent(metadata, tensors)


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


# Tensors llama.cpp's converter computes with torch's vectorised float32 pow/exp (Llama 3.1's rope factors,
# Mamba's A = -exp(A_log), Gemma 4 audio's softplus scales); ours are correctly rounded, and the two may differ
# in the last bit on some CPUs.
COMPUTED_F32 = ("rope_freqs.weight", ".ssm_a", ".per_dim_scale.weight")


def differences(ours: Path, ref: Path, limit: int = 12) -> list[str]:
    """What differs between two GGUF files: metadata keys and values, tensor names, order, shapes, types, bytes
    (the computed float32 tensors of COMPUTED_F32: more than one unit in the last place)."""
    a, b = read_gguf(ours), read_gguf(ref)
    problems = [
        f"metadata key only in {'ours' if k in a.metadata else 'reference'}: {k}"
        for k in sorted(set(a.metadata) ^ set(b.metadata))
    ]
    for key in sorted(set(a.metadata) & set(b.metadata)):
        if a.metadata[key] != b.metadata[key]:
            problems.append(f"value of {key}: ours {_short(a.metadata[key])} != reference {_short(b.metadata[key])}")
    names_a, names_b = [t[0] for t in a.tensors], [t[0] for t in b.tensors]
    if names_a != names_b:
        problems.append(
            f"tensor names/order: only ours {sorted(set(names_a) - set(names_b))[:6]}, "
            f"only reference {sorted(set(names_b) - set(names_a))[:6]}, same set: {set(names_a) == set(names_b)}"
        )
    ref_tensors = {t[0]: t for t in b.tensors}
    for name, shape, kind, data in a.tensors:
        other = ref_tensors.get(name)
        if other is None:
            continue
        if (shape, kind) != other[1:3]:
            problems.append(f"{name}: ours {shape} {kind} != reference {other[1]} {other[2]}")
        elif data != other[3] and not (
            name.endswith(COMPUTED_F32) and kind == "F32" and _within_one_ulp(data, other[3])
        ):
            problems.append(f"{name}: bytes differ")
    return problems[:limit]


def _within_one_ulp(a: bytes, b: bytes) -> bool:
    import numpy as np

    x, y = np.frombuffer(a, dtype=np.int32).astype(np.int64), np.frombuffer(b, dtype=np.int32).astype(np.int64)
    return x.shape == y.shape and bool(np.all(np.abs(x - y) <= 1))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 120 else text[:117] + "..."
