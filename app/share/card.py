"""The model card published with quants: what a downloader wants to know before choosing one.

Front matter the Hub reads (base_model, base_model_relation, library_name, license, tags); per quant its
type, size, bits per weight, the measured quality (mean KL divergence and top-1 agreement against the
source, from the quality sidecar, with the text and token count) and the memory it takes at 4k, 16k, 32k
and the trained context by this app's memory model; the importance matrix's dataset and chunk count; and
the llama.cpp commands that reproduce the files. Every number comes from `collect()`; `render_card()`
only formats, so a test can check the card against the same sources.
"""

from __future__ import annotations

import functools
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import yaml

from app.core.units import format_bytes
from app.gguf.naming import parse_split, quant_label
from app.gguf.split import GGUFModel
from app.quantize.quality_file import QualityRecord, format_agreement, format_kld, load_quality

CONTEXTS = (4096, 16384, 32768)
LINE = 100  # prose line length (markdownlint's MD013, set to 100; tables and code are exempt)
SPLIT_SIZE_ARG = "49500M"  # llama-gguf-split's form of the Hub's per-file limit the publisher splits at
MARKER = "<!-- gguf-studio card -->"  # a repository whose README holds this was published by this app
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True, slots=True)
class MemoryRow:
    """Bytes to run one quant at `n_ctx` with the app's engine settings: on the CPU alone (RAM), and with
    every layer offloaded to a GPU (VRAM, plus the RAM that still holds the rest)."""

    n_ctx: int
    trained: bool  # this row is the model's trained context
    cpu_ram: int
    gpu_vram: int
    gpu_ram: int


@dataclass(frozen=True, slots=True)
class QuantEvidence:
    files: tuple[str, ...]  # names in the repository (the parts of a split file, in order)
    type_name: str
    size: int
    bits_per_weight: float
    quality: QualityRecord | None
    memory: tuple[MemoryRow, ...]
    memory_error: str = ""  # why there is no memory table (an architecture the memory model cannot describe)


@dataclass(frozen=True, slots=True)
class ImatrixInfo:
    file: str
    datasets: tuple[str, ...]
    chunk_count: int
    chunk_size: int


@dataclass(frozen=True, slots=True)
class CardInput:
    repo_id: str
    model_name: str
    architecture: str
    n_params: int
    n_ctx_train: int
    base_model: str | None
    license: str | None
    tags: tuple[str, ...]
    quants: tuple[QuantEvidence, ...]
    imatrix: ImatrixInfo | None


# --- collecting the evidence ---------------------------------------------------------------------------------


def read_model_once(path: Path) -> GGUFModel:
    """`read_model`, remembered while the file is unchanged: a publish reads each header several times (a
    vocabulary of 262k tokens takes tens of milliseconds to walk)."""
    st = path.stat()
    return _read_model(str(path.absolute()), st.st_size, st.st_mtime_ns)  # a link keeps its own name


@functools.lru_cache(maxsize=16)
def _read_model(path: str, size: int, mtime_ns: int) -> GGUFModel:
    from app.gguf.split import read_model

    return read_model(path)


def memory_rows(path: Path, n_ctx_train: int) -> tuple[tuple[MemoryRow, ...], str]:
    """The estimate the app shows before loading (app.estimate.view.engine_estimate's model, fed by the
    engine's settings at their defaults) for each context up to the trained one."""
    from app.core.errors import AppError
    from app.estimate.engine import engine_load_settings, engine_settings
    from app.estimate.memory import estimate
    from app.estimate.shape import shape_from_header
    try:
        shape = shape_from_header(read_model_once(path))
    except AppError as exc:
        return (), str(exc)
    contexts = [c for c in CONTEXTS if not n_ctx_train or c < n_ctx_train]
    if n_ctx_train:
        contexts.append(n_ctx_train)
    rows = []
    for n_ctx in contexts:
        cpu = estimate(shape, engine_load_settings(engine_settings(n_ctx=n_ctx, n_gpu_layers=0)), gpu_available=False)
        gpu = estimate(shape, engine_load_settings(engine_settings(n_ctx=n_ctx, n_gpu_layers=-1)), gpu_available=True)
        rows.append(MemoryRow(n_ctx, n_ctx == n_ctx_train, cpu.ram_need, gpu.vram_need, gpu.ram_need))
    return tuple(rows), ""


def quant_evidence(path: Path, files: tuple[str, ...] | None = None) -> QuantEvidence:
    """What the card says about one quant file (any part of a split set stands for the set)."""
    from app.gguf.facts import model_facts
    model = read_model_once(path)
    facts = model_facts(model)
    type_name = facts.file_type or quant_label(path.name) or "unknown"
    quality = load_quality(path, model.file_size) if len(model.parts) == 1 else None
    rows, error = memory_rows(path, facts.context_length)
    names = files if files is not None else tuple(Path(p).name for p in model.paths)
    return QuantEvidence(names, type_name, model.file_size, facts.bits_per_weight, quality, rows, error)


def imatrix_info(path: Path) -> ImatrixInfo:
    from app.gguf.reader import read_header
    from app.gguf.values import as_sequence
    from app.quantize.imatrix_file import KEY_CHUNK_COUNT, KEY_CHUNK_SIZE, KEY_DATASETS

    meta = read_header(path).metadata
    datasets = tuple(str(d) for d in as_sequence(meta[KEY_DATASETS])) if KEY_DATASETS in meta else ()
    count, size = meta.get(KEY_CHUNK_COUNT, 0), meta.get(KEY_CHUNK_SIZE, 0)
    return ImatrixInfo(
        path.name, datasets, count if isinstance(count, int) else 0, size if isinstance(size, int) else 0
    )


def collect(
    repo_id: str,
    quants: list[tuple[Path, tuple[str, ...] | None]],
    *,
    imatrix: Path | None = None,
    base_model: str | None = None,
) -> CardInput:
    """The card's facts for quants of one source model (`quants`: each file with its names in the repo)."""
    from app.gguf.facts import model_facts
    evidence = tuple(quant_evidence(path, files) for path, files in quants)
    first = read_model_once(quants[0][0])
    facts = model_facts(first)
    meta = first.metadata
    license_name = meta.get("general.license")
    raw_tags = meta.get("general.tags", ())
    tags = tuple(str(t) for t in (raw_tags if isinstance(raw_tags, tuple) else ()) if str(t).strip())
    base = base_model or _base_model_from(meta)
    ordered = tuple(sorted(evidence, key=lambda q: q.size))
    return CardInput(
        repo_id=repo_id,
        model_name=facts.name or repo_id.split("/")[-1],
        architecture=facts.architecture,
        n_params=facts.n_params,
        n_ctx_train=facts.context_length,
        base_model=base,
        license=license_name if isinstance(license_name, str) and license_name.strip() else None,
        tags=tags,
        quants=ordered,
        imatrix=imatrix_info(imatrix) if imatrix is not None else None,
    )


def _base_model_from(meta: object) -> str | None:
    """`general.base_model.0.repo_url` (or organization/name) as llama.cpp's converter records it."""
    get = getattr(meta, "get", None)
    if get is None:
        return None
    url = get("general.base_model.0.repo_url") or get("general.source.repo_url")
    if isinstance(url, str) and "huggingface.co/" in url:
        candidate = url.split("huggingface.co/", 1)[1].strip("/")
        if _REPO_ID.match(candidate):
            return candidate
    org, name = get("general.base_model.0.organization"), get("general.base_model.0.name")
    if isinstance(org, str) and isinstance(name, str):
        candidate = f"{org}/{name}".replace(" ", "-")
        if _REPO_ID.match(candidate):
            return candidate
    return None


# --- rendering ---------------------------------------------------------------------------------------------


def front_matter(card: CardInput) -> dict[str, object]:
    data: dict[str, object] = {}
    if card.base_model:
        data["base_model"] = card.base_model
        data["base_model_relation"] = "quantized"
    data["library_name"] = "gguf"
    if card.license:
        data["license"] = card.license
    tags = ["gguf", "llama.cpp", "gguf-studio", *card.tags]
    if card.imatrix is not None:
        tags.append("imatrix")
    data["tags"] = list(dict.fromkeys(tags))
    return data


def _context(n: int) -> str:
    return f"{n // 1024}k" if n % 1024 == 0 else f"{n:,}"


def _quality_cells(q: QualityRecord | None) -> tuple[str, str, str]:
    if q is None:
        return "not measured", "not measured", ""
    measured = f"{q.n_tokens:,} tokens of {_escape(q.text_name)}"
    return format_kld(q.mean_kld), format_agreement(q.top1_agreement), measured


def _wrap(text: str) -> list[str]:
    """Prose in lines of at most LINE characters (a long link stays whole on its own line)."""
    return textwrap.wrap(text, LINE, break_long_words=False, break_on_hyphens=False)


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def render_card(card: CardInput) -> str:
    """README.md: YAML front matter, then Markdown a person can edit before publishing."""
    meta = yaml.safe_dump(front_matter(card), sort_keys=False, allow_unicode=True).strip()
    lines = ["---", meta, "---", "", MARKER, "", f"# {card.model_name} GGUF", ""]
    base = f"[{card.base_model}](https://huggingface.co/{card.base_model})" if card.base_model else "its source model"
    lines += [
        *_wrap(
            f"GGUF quantizations of {base} for [llama.cpp](https://github.com/ggml-org/llama.cpp) and the apps "
            "built on it, each published with its measured quality loss and the memory it needs."
        ),
        "",
        "## Files",
        "",
        "| File | Type | Size | Bits per weight | KL divergence | Top-1 agreement | Measured on |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for q in card.quants:
        kld, top1, measured = _quality_cells(q.quality)
        name = f"`{q.files[0]}`" + (f" (+{len(q.files) - 1} parts)" if len(q.files) > 1 else "")
        lines.append(
            f"| {name} | {q.type_name} | {format_bytes(q.size)} | {q.bits_per_weight:.2f} | {kld} | {top1} | "
            f"{measured or 'not measured'} |"
        )
    sources = sorted({q.quality.source_name for q in card.quants if q.quality is not None})
    named = f" ({', '.join(f'`{s}`' for s in sources)})" if sources else ""
    lines += [
        "",
        *_wrap(
            "KL divergence is the mean divergence of each quant's next-token distribution from the source "
            f"model's{named} over the text named: 0 means identical, below about 0.01 is hard to tell apart, "
            "above 0.1 noticeably worse. Top-1 agreement is how often both pick the same most likely next token."
        ),
        "",
        "## Memory",
        "",
        *_wrap(
            "Estimated by GGUF Studio's memory model for llama.cpp with the app's default settings (F16 KV "
            "cache, batch 512, one sequence): RAM when running on the CPU alone, and VRAM (plus the RAM still "
            "used) with every layer on a GPU."
        ),
        "",
    ]
    for q in card.quants:
        lines += [f"### {q.type_name}", ""]
        if not q.memory:
            lines += [f"Not estimated: {q.memory_error or 'unknown architecture'}.", ""]
            continue
        lines += [
            "| Context | CPU only: RAM | Full GPU offload: VRAM | Full GPU offload: RAM |",
            "| --- | --- | --- | --- |",
        ]
        for row in q.memory:
            label = _context(row.n_ctx) + (" (trained)" if row.trained else "")
            cells = (format_bytes(row.cpu_ram), format_bytes(row.gpu_vram), format_bytes(row.gpu_ram))
            lines.append(f"| {label} | {' | '.join(cells)} |")
        lines.append("")
    if card.imatrix is not None:
        im = card.imatrix
        datasets = ", ".join(f"`{_escape(d)}`" for d in im.datasets) or "not recorded"
        lines += [
            "## Importance matrix",
            "",
            f"`{im.file}`: {im.chunk_count} chunks of {im.chunk_size} tokens from {datasets}.",
            "",
        ]
    lines += _commands(card)
    return "\n".join(lines).rstrip() + "\n"


def _commands(card: CardInput) -> list[str]:
    source = next((q.quality.source_name for q in card.quants if q.quality is not None), "SOURCE.gguf")
    lines = ["## Reproduce with llama.cpp", "", "```sh"]
    if card.base_model:
        lines.append(f"python convert_hf_to_gguf.py {card.base_model.split('/')[-1]} --outfile {source}")
    im = card.imatrix
    if im is not None:
        dataset = im.datasets[0] if im.datasets else "calibration.txt"
        chunks = f"-c {im.chunk_size} --chunks {im.chunk_count}"
        lines.append(f"llama-imatrix -m {source} -f {dataset} {chunks} -o {im.file}")
    for q in card.quants:
        split = parse_split(q.files[0])
        out = f"{split.stem}.gguf" if split is not None else q.files[0]
        imatrix = f"--imatrix {im.file} " if im is not None else ""
        lines.append(f"llama-quantize {imatrix}{source} {out} {q.type_name}")
        if split is not None:
            lines.append(f"llama-gguf-split --split --split-max-size {SPLIT_SIZE_ARG} {out} {split.stem}")
    lines += ["```", "", "Run one:", "", "```sh"]
    first = card.quants[0]
    lines += [f"llama-cli -hf {card.repo_id}:{first.type_name}", "```", ""]
    return lines


def card_yaml(text: str) -> dict[str, object]:
    """The front matter of a card as the Hub reads it (huggingface_hub's ModelCard parser)."""
    from huggingface_hub import ModelCard

    return dict(ModelCard(text).data.to_dict())
