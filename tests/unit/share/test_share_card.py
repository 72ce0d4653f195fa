"""The model card: front matter the Hub parses, lint-clean Markdown, and numbers that are exactly the quality
sidecar's and the memory estimate's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import ModelCard
from pymarkdown.api import PyMarkdownApi

from app.core.units import format_bytes
from app.estimate.engine import engine_load_settings, engine_settings
from app.estimate.memory import estimate
from app.estimate.shape import shape_from_header
from app.gguf import read_header
from app.gguf.synthetic import TinySpec, write_tiny_gguf
from app.quantize.imatrix_file import Imatrix, ImatrixEntry, save_imatrix
from app.quantize.quality_file import format_agreement, format_kld
from app.share.card import MARKER, collect, render_card
from tests.support.quality import save_score


@pytest.fixture
def gemma_quant(gemma_model: Path, tmp_path: Path) -> Path:
    quant = tmp_path / "gemma-3-270m-it-Q4_K_M.gguf"
    quant.symlink_to(gemma_model)
    return quant


def _imatrix(path: Path) -> Path:
    entry = ImatrixEntry(np.ones((1, 64), dtype=np.float32), np.array([3]))
    save_imatrix(path, Imatrix({"blk.0.ffn_up.weight": entry}, ("wiki.train.raw",), 42, 512))
    return path


def _lint(text: str) -> list[str]:
    api = PyMarkdownApi().enable_extension_by_identifier("front-matter").enable_extension_by_identifier(
        "markdown-tables"
    )
    api.set_integer_property("plugins.md013.line_length", 100)
    api.set_boolean_property("plugins.md013.tables", False)  # a table row or a command cannot be wrapped
    api.set_boolean_property("plugins.md013.code_blocks", False)
    return [str(f) for f in api.scan_string(text).scan_failures]


def test_card_front_matter_and_numbers_come_from_the_sidecar_and_the_estimate(
    gemma_quant: Path, tmp_path: Path
) -> None:
    record = save_score(gemma_quant, tmp_path / "gemma-3-270m-it-BF16.gguf", kld=0.0123, agree=0.912,
                        quant_type="Q4_K_M")
    imatrix = _imatrix(tmp_path / "gemma-3-270m-it.imatrix.gguf")
    card = collect("alice/Gemma-GGUF", [(gemma_quant, None)], imatrix=imatrix, base_model="google/gemma-3-270m-it")
    text = render_card(card)

    data = ModelCard(text).data.to_dict()
    assert data["base_model"] == "google/gemma-3-270m-it"
    assert data["base_model_relation"] == "quantized"
    assert data["library_name"] == "gguf"
    assert data["license"] == read_header(gemma_quant).metadata["general.license"] == "gemma"
    assert {"gguf", "imatrix", "gemma3"} <= set(data["tags"])
    assert MARKER in text
    assert _lint(text) == []

    row = next(line for line in text.splitlines() if line.startswith("| `gemma-3-270m-it-Q4_K_M.gguf`"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:] == [
        "Q4_K_M",
        format_bytes(gemma_quant.stat().st_size),
        f"{card.quants[0].bits_per_weight:.2f}",
        format_kld(record.mean_kld),
        format_agreement(record.top1_agreement),
        "128 tokens of built-in calibration text",
    ]
    assert cells[4:6] == ["0.0123", "91%"]

    shape = shape_from_header(read_header(gemma_quant))
    n_train = 32768
    memory = [line for line in text.splitlines() if line.startswith(("| 4k", "| 16k", "| 32k"))]
    assert [m.split("|")[1].strip() for m in memory] == ["4k", "16k", "32k (trained)"]
    for line, n_ctx in zip(memory, (4096, 16384, n_train), strict=True):
        cpu = estimate(shape, engine_load_settings(engine_settings(n_ctx=n_ctx, n_gpu_layers=0)), gpu_available=False)
        gpu = estimate(shape, engine_load_settings(engine_settings(n_ctx=n_ctx, n_gpu_layers=-1)), gpu_available=True)
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[1:] == [format_bytes(cpu.ram_need), format_bytes(gpu.vram_need), format_bytes(gpu.ram_need)]
    assert "`gemma-3-270m-it.imatrix.gguf`: 42 chunks of 512 tokens from `wiki.train.raw`." in text
    assert "llama-quantize --imatrix gemma-3-270m-it.imatrix.gguf gemma-3-270m-it-BF16.gguf" in text
    assert "llama-imatrix -m gemma-3-270m-it-BF16.gguf -f wiki.train.raw -c 512 --chunks 42" in text


def test_unmeasured_quants_and_several_quants_sort_by_size(tmp_path: Path) -> None:
    small = write_tiny_gguf(tmp_path / "Tiny-Q8_0.gguf", TinySpec(tensor_type="Q8_0", n_embd=64))
    big = write_tiny_gguf(tmp_path / "Tiny-F32.gguf", TinySpec(tensor_type="F32", n_embd=64))
    save_score(small, tmp_path / "Tiny-F32-src.gguf")
    text = render_card(collect("alice/Tiny-GGUF", [(big, None), (small, None)]))
    rows = [line for line in text.splitlines() if line.startswith("| `Tiny-")]
    assert [r.split("`")[1] for r in rows] == ["Tiny-Q8_0.gguf", "Tiny-F32.gguf"]
    assert "not measured" in rows[1] and "0.0082" in rows[0]
    assert "base_model" not in ModelCard(text).data.to_dict()  # unknown: left out rather than guessed
    assert _lint(text) == []


def test_a_card_with_a_pipe_in_the_text_name_stays_one_table_row(tmp_path: Path) -> None:
    quant = write_tiny_gguf(tmp_path / "Tiny-Q8_0.gguf", TinySpec(tensor_type="Q8_0"))
    src = tmp_path / "src.gguf"
    save_score(quant, src)
    sidecar = quant.with_name(quant.name + ".quality.json")
    sidecar.write_text(sidecar.read_text().replace("built-in calibration text", "a|b <c>"))
    text = render_card(collect("alice/T", [(quant, None)]))
    row = next(line for line in text.splitlines() if line.startswith("| `Tiny-Q8_0.gguf`"))
    assert row.count(" | ") == 6 and "a\\|b &lt;c&gt;" in row
