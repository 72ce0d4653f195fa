"""#16 "What to build": Discover filters (size, architecture, fits this machine) and the trained context."""

from __future__ import annotations

from typing import Any

import pytest

from app.core.settings import Settings
from app.hardware import HardwareInfo, LlamaBackend
from app.ui.context import AppContext
from app.ui.pages.discover import MORE, DiscoverPage
from tests.fakehub import TINY_REPO, FakeHub
from tests.fakehub.repo import FakeRepo
from tests.gui.test_discover import search, select
from tests.support.hardware import FixedHardware

GIB = 1024**3


def machine(ram_gib: float) -> HardwareInfo:
    """A CPU-only machine with `ram_gib` of RAM available."""
    return HardwareInfo(
        ram_total=int(ram_gib * 2 * GIB),
        ram_available=int(ram_gib * GIB),
        cpu_name="Test CPU",
        cpu_physical_cores=4,
        cpu_logical_cores=8,
        os="Linux",
        machine="x86_64",
        gpus=(),
        llama=LlamaBackend("test", False, ("cpu",), ""),
    )


def add_families(hub: FakeHub) -> None:
    """Listings only (the filters work on what the search returns): three sizes, two architectures."""
    for repo_id, params, arch in (
        ("famorg/Qwen-Fam-0.6B-GGUF", 600_000_000, "qwen3"),
        ("famorg/Qwen-Fam-8B-GGUF", 8_000_000_000, "qwen3"),
        ("famorg/Gemma-Fam-27B-GGUF", 27_000_000_000, "gemma3"),
    ):
        repo = FakeRepo(repo_id, downloads=params // 1_000_000, likes=1, tags=["gguf"])
        repo.gguf = {"total": params, "architecture": arch, "context_length": 32768}
        hub.add_repo(repo)


@pytest.fixture
def page(qtbot: Any, fake_hub: FakeHub) -> DiscoverPage:
    add_families(fake_hub)
    widget = DiscoverPage(AppContext.create(Settings(), hardware=FixedHardware(machine(8))))
    qtbot.addWidget(widget)
    widget.resize(1440, 860)
    with qtbot.waitSignal(widget.results_loaded, timeout=10_000):
        widget.show()
    search(qtbot, widget, "Fam")
    return widget


def shown(page: DiscoverPage) -> list[str]:
    model = page.results
    return [model.index(r, 0).data() for r in range(model.rowCount())]


def test_size_architecture_and_fit_filters(qtbot: Any, page: DiscoverPage) -> None:
    everything = ["famorg/Gemma-Fam-27B-GGUF", "famorg/Qwen-Fam-8B-GGUF", "famorg/Qwen-Fam-0.6B-GGUF"]
    assert shown(page) == everything
    bar = page.filter_bar
    bar.size_box.setCurrentText("4B – 14B")
    assert shown(page) == ["famorg/Qwen-Fam-8B-GGUF"]
    assert "1 of 3 models" in page.status.text()
    bar.size_box.setCurrentIndex(0)
    assert [bar.arch_box.itemText(i) for i in range(bar.arch_box.count())] == ["Any architecture", "gemma3", "qwen3"]
    bar.arch_box.setCurrentText("qwen3")
    assert shown(page) == ["famorg/Qwen-Fam-8B-GGUF", "famorg/Qwen-Fam-0.6B-GGUF"]
    bar.arch_box.setCurrentIndex(0)
    bar.fits_box.setChecked(True)  # 8 GiB free: 0.6B and 8B (~4.8 GiB at Q4_K_M) fit, 27B does not
    assert shown(page) == ["famorg/Qwen-Fam-8B-GGUF", "famorg/Qwen-Fam-0.6B-GGUF"]
    with qtbot.waitSignal(page.detail.detail_loaded, timeout=10_000):
        page.results_view.selectRow(1)  # a row of the filtered list opens that repository
    assert page.detail.detail is not None and page.detail.detail.repo_id == "famorg/Qwen-Fam-0.6B-GGUF"
    bar.fits_box.setChecked(False)
    assert shown(page) == everything


def test_filters_keep_searching_further_on_request(qtbot: Any, fake_hub: FakeHub) -> None:
    page = DiscoverPage(AppContext.create(Settings(), hardware=FixedHardware(machine(8))))
    qtbot.addWidget(page)
    with qtbot.waitSignal(page.results_loaded, timeout=10_000):
        page.show()  # the 30 most downloaded; more on the Hub
    page.filter_bar.size_box.setCurrentText("Under 1B")
    assert MORE in page.status.text()
    with qtbot.waitSignal(page.results_loaded, timeout=10_000):
        page.status.linkActivated.emit(MORE)
    assert page.results_model.rowCount() > 30


def test_the_trained_context_is_shown_and_a_longer_one_is_flagged(qtbot: Any, fake_hub: FakeHub) -> None:
    page = DiscoverPage(AppContext.create(Settings(), hardware=FixedHardware(machine(8))))
    qtbot.addWidget(page)
    page.resize(1440, 860)
    with qtbot.waitSignal(page.results_loaded, timeout=10_000):
        page.show()
    select(qtbot, page, TINY_REPO)  # trained with 512 tokens of context
    assert "trained context 512 tokens" in page.detail.meta.text()
    page.detail.ctx_spin.setValue(4096)
    assert page.detail.ctx_note.isVisible() and "512" in page.detail.ctx_note.text()
    page.detail.ctx_spin.setValue(512)
    assert not page.detail.ctx_note.isVisible()
