"""Discover: search the Hub for GGUF models and see which quant fits this machine.

Every Hub call runs in a task (app.ui.tasks); a newer search makes older answers stale (a generation
counter), so typing fast never shows results for an old query.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import AppError
from app.hub.models import Quant, SortKey
from app.ui.context import AppContext
from app.ui.first_paint import AfterFirstPaint
from app.ui.models.hub_results import SearchResultsModel
from app.ui.pages.discover_actions import repo_on_machine
from app.ui.pages.discover_delegates import ROW_HEIGHT, RepoNameDelegate
from app.ui.pages.discover_detail import DetailPane, error_html
from app.ui.pages.discover_filters import FilterBar, Filters, ResultsFilter
from app.ui.pages.discover_library import LibraryPresenceWatch
from app.ui.pages.discover_tasks import connect_task, warm_up
from app.ui.pages.discover_welcome import WelcomeCard, first_fit, first_pick
from app.ui.tasks import Task, TaskControl, run_task
from app.ui.widgets.page_header import PAGE_MARGINS, page_subtitle, page_title

if TYPE_CHECKING:
    from app.hub.fit import RepoFit
    from app.hub.search import SearchPage
    from app.library.presence import LibraryPresence

log = logging.getLogger("app.ui.discover")

DEBOUNCE_MS = 300
RETRY = "gguf-studio:retry"
MORE = "gguf-studio:more"
PAGE_SIZE = 30
LIST_SHARE = 0.36  # of the page's width for the results; the quant table needs the rest at 1440 px
SORTS = (
    ("Most downloads", SortKey.DOWNLOADS),
    ("Most likes", SortKey.LIKES),
    ("Trending", SortKey.TRENDING),
    ("Recently updated", SortKey.UPDATED),
)


def _search(_control: TaskControl, query: str, sort: SortKey) -> SearchPage:
    from app.hub.search import search

    return search(query, sort, PAGE_SIZE)


def _next_page(_control: TaskControl, page: SearchPage) -> SearchPage:
    return page.next()


class DiscoverPage(QWidget):
    results_loaded = Signal()  # a search or a further page arrived
    search_failed = Signal(object)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._generation = 0
        self._page: SearchPage | None = None
        self._task: Task | None = None
        self._warm: Task | None = None
        self._started = False
        self._retry: Callable[[], None] = self.search_now

        title = page_title("Discover")
        subtitle = page_subtitle("GGUF models on the Hugging Face Hub, with what fits this machine.")
        self.search_box = QLineEdit()
        self.search_box.setPlaceholderText("Search GGUF models (e.g. llama 8b, qwen, gemma)…")
        self.search_box.setClearButtonEnabled(True)
        self.sort_box = QComboBox()
        for text, _key in SORTS:
            self.sort_box.addItem(text)
        self.filter_bar = FilterBar()
        bar = QHBoxLayout()
        bar.addWidget(self.search_box, 1)
        bar.addWidget(self.filter_bar)
        bar.addWidget(self.sort_box)

        self.results_model = SearchResultsModel(self)
        self.results = ResultsFilter(self)  # what the filters let through; the view shows this
        self.results.setSourceModel(self.results_model)
        self.results_view = QTableView()
        self.results_view.setModel(self.results)
        self.results_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.results_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.results_view.verticalHeader().hide()
        self.results_view.setShowGrid(False)
        self.results_view.setAlternatingRowColors(True)
        self.results_view.setWordWrap(False)
        self.results_view.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.name_delegate = RepoNameDelegate(self.results_view)
        self._local: dict[str, str | None] = {}  # repo id → "in your library" / "downloading" (cache)
        self.name_delegate.local_state = self.local_state
        self.results_view.setItemDelegateForColumn(0, self.name_delegate)
        header = self.results_view.horizontalHeader()
        # Fixed widths: sizing columns to their contents would measure every row again on each new page.
        header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        metrics = self.results_view.fontMetrics()
        for column, sample in ((1, "Params"), (2, "Downloads"), (3, "Likes"), (4, "12 mo ago")):
            header.resizeSection(column, metrics.horizontalAdvance(sample) + 16)
        self.results_view.setColumnHidden(4, True)  # the age is on the name's second line
        header.setHighlightSections(False)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.linkActivated.connect(self._on_link)
        self.status.setObjectName("PageSubtitle")

        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        # First start (no model yet): a proposal above the results (whose height gives way, not the page's),
        # shown as soon as the library scan finds nothing, so nothing moves when it is filled in.
        self.welcome = WelcomeCard()
        self._welcome_repo: str | None = None
        self._welcome_task: Task | None = None
        self._welcome_waiting = False
        self.first_start: bool | None = None  # the library holds no model; None until its scan ends
        self.welcome.setVisible(False)
        self.library = LibraryPresenceWatch(ctx, self)
        lv.addWidget(self.welcome)
        lv.addWidget(self.results_view, 1)
        lv.addWidget(self.status)
        self.detail = DetailPane(ctx)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 1)  # a narrower window takes from both sides alike: the quant table
        self.splitter.setStretchFactor(1, 1)  # keeps room for its columns
        self.splitter.setSizes([540, 860])
        self.splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(*PAGE_MARGINS)
        layout.addWidget(title)
        layout.addWidget(subtitle)
        layout.addLayout(bar)
        layout.addWidget(self.splitter, 1)

        self._debounce = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._debounce.timeout.connect(self.search_now)
        self.search_box.textChanged.connect(lambda _t: self._debounce.start())
        self.search_box.returnPressed.connect(self.search_now)
        self.sort_box.currentIndexChanged.connect(lambda _i: self.search_now())
        self.results_model.more_requested.connect(self.load_more)
        self.results_view.verticalScrollBar().valueChanged.connect(self._maybe_more)
        self.results_view.selectionModel().currentRowChanged.connect(lambda cur, _prev: self._select(cur.row()))
        self.filter_bar.changed.connect(self._apply_filters)
        ctx.hardware.ready.connect(self._on_hardware)
        ctx.downloads.completed.connect(lambda _item: self.welcome.hide())  # a model arrived: no longer new
        ctx.downloads.item_changed.connect(self._forget_local)
        ctx.downloads.item_removed.connect(self._forget_local)
        self.welcome.download_requested.connect(self._welcome_download)
        self.library.changed.connect(self._on_library)

    # searching ---------------------------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._started:  # the first look at the page shows the most popular GGUF models
            self._started = True
            width = self.splitter.width()
            left = int(width * LIST_SHARE)
            self.splitter.setSizes([left, width - left])
            QTimer.singleShot(0, self.search_now)
            AfterFirstPaint(self, self._warm_up)  # never competes with the page's first frame
            AfterFirstPaint(self, self.library.refresh)

    def _warm_up(self) -> None:
        """While the first search waits for the Hub, import what the next steps need (see discover_tasks)."""
        self._warm = run_task(warm_up, name="discover warm-up")
        connect_task(self, self._warm, lambda _r: None, lambda exc: log.info("warm-up import failed: %s", exc))

    @property
    def sort_key(self) -> SortKey:
        index = self.sort_box.currentIndex()
        return SORTS[index][1] if 0 <= index < len(SORTS) else SortKey.DOWNLOADS

    def search_now(self) -> None:
        self._debounce.stop()
        self._started = True
        self._generation += 1
        gen = self._generation
        if self._task is not None:
            self._task.cancel()
        query = self.search_box.text().strip()
        self.results_model.loading = True
        self.status.setText(f"Searching for “{query}”…" if query else "Loading popular GGUF models…")
        task = run_task(_search, query, self.sort_key, name="hub search")
        connect_task(
            self,
            task,
            lambda page: self._on_page(gen, page, reset=True),
            lambda exc: self._on_failed(gen, exc, self.search_now),
        )
        self._task = task

    def load_more(self) -> None:
        page = self._page
        if page is None or not page.has_more or (self._task is not None and not self._task.done):
            return
        gen = self._generation
        self.results_model.loading = True
        self.status.setText(f"{self.results_model.rowCount()} models · loading more…")
        task = run_task(_next_page, page, name="hub search page")
        connect_task(
            self,
            task,
            lambda nxt: self._on_page(gen, nxt, reset=False),
            lambda exc: self._on_failed(gen, exc, self.load_more),
        )
        self._task = task

    def _maybe_more(self, value: int) -> None:
        bar = self.results_view.verticalScrollBar()
        if value >= bar.maximum() - 2 and self.results_model.canFetchMore(self.results_view.rootIndex()):
            self.results_model.fetchMore(self.results_view.rootIndex())

    def _on_page(self, gen: int, page: SearchPage, reset: bool) -> None:
        if gen != self._generation:
            return
        self._page = page
        self.results_model.loading = False
        if reset:
            self.results_model.reset(page.results, page.has_more)
        else:
            self.results_model.append(page.results, page.has_more)
        self.filter_bar.set_architectures(self.results_model.results())
        self._show_count()
        self.results_loaded.emit()
        if reset and self.results.rowCount() and self.results_view.currentIndex().row() < 0:
            self.results_view.selectRow(self._pick_first_model())

    # what this machine has ------------------------------------------------------------------------------------
    def local_state(self, repo_id: str) -> str | None:
        """What the results list says beside a repository: being downloaded, or in the models folder."""
        if repo_id not in self._local:
            self._local[repo_id] = repo_on_machine(repo_id, self.ctx, self.library.presence)
        return self._local[repo_id]

    def _forget_local(self, *_args: object) -> None:
        self._local.clear()
        self.results_view.viewport().update()

    def _on_library(self, presence: LibraryPresence) -> None:
        if self.first_start is None:
            self.first_start = not presence.any_model
            if self.first_start:
                self._welcome_waiting = True
                self.welcome.show()
                self._propose_if_untouched()
        self._forget_local()
        self.detail.library = presence
        self.detail.refresh_states()

    # first start -----------------------------------------------------------------------------------------------
    def _pick_first_model(self) -> int:
        """The row to open first: on a first start, the proposal (once the machine is known), else the top."""
        if not self._welcome_waiting or self.welcome.isHidden() or self.search_box.text().strip():
            return 0
        spec = self.detail.hardware_spec()
        if spec is None:
            return 0  # `_on_hardware` picks when the probe ends
        self._welcome_waiting = False
        pick = first_pick(self.results_model.results(), spec)
        if pick is None:
            self.welcome.nothing_fits()
            return 0
        self._welcome_repo = pick.repo_id
        # Its own look-up (the detail pane may be showing another repository by the time the verdicts come).
        self._welcome_task = run_task(first_fit, pick.repo_id, spec, self.detail.ctx_spin.value(), name="first fit")
        connect_task(
            self,
            self._welcome_task,
            lambda fit: self._on_first_fit(pick.repo_id, fit),
            lambda exc: log.info("no first-model proposal: %s", exc),
        )
        source = self.results_model.results().index(pick)
        return max(self.results.mapFromSource(self.results_model.index(source, 0)).row(), 0)

    def _on_first_fit(self, repo_id: str, fit: RepoFit) -> None:
        if not self.welcome.propose(repo_id, fit):
            self.welcome.nothing_fits()

    def _welcome_download(self, quant: Quant) -> None:
        repo_id = self.welcome.repo_id
        if repo_id is None:
            return
        try:
            self.ctx.downloads.enqueue(repo_id, list(quant.paths))
        except AppError as exc:
            self.ctx.messages.error(exc.message)
            return
        self.detail.refresh_states()
        self.ctx.messages.info(f"Queued {quant.label} of {repo_id}: see Downloads")

    def _show_count(self) -> None:
        n, shown = self.results_model.rowCount(), self.results.rowCount()
        more = self.results_model.has_more
        if n == 0:
            self.status.setText("No GGUF models match. Try fewer or other words.")
        elif self.results.filters.active:
            tail = f' · <a href="{MORE}">search further</a>' if more else ""
            self.status.setText(f"{shown} of {n} models found so far match the filters{tail}")
        else:
            self.status.setText(f"{n} model{'s' if n != 1 else ''}{' · scroll for more' if more else ''}")

    def _apply_filters(self, filters: Filters) -> None:
        self.results.set_filters(filters, self.detail.hardware_spec())
        self._show_count()
        if self.results.rowCount() and self.results_view.currentIndex().row() < 0:
            self.results_view.selectRow(0)

    def _on_hardware(self, _info: object) -> None:
        if self.results.filters.fits:
            self._apply_filters(self.results.filters)
        self._propose_if_untouched()

    def _propose_if_untouched(self) -> None:
        """On a first start, open the proposal once results, the machine and the library scan are all known."""
        untouched = self.results_view.currentIndex().row() in (-1, 0)  # the user has not picked a row yet
        if self._welcome_waiting and untouched and self.results_model.rowCount() and not self.welcome.isHidden():
            row = self._pick_first_model()
            if self._welcome_repo is not None:
                self.results_view.selectRow(row)

    def _on_failed(self, gen: int, exc: BaseException, retry: Callable[[], None]) -> None:
        if gen != self._generation:
            return
        self._retry = retry
        self.results_model.loading = False
        self.results_model.has_more = False  # no automatic re-fetch while scrolled to the end; "Retry" asks again
        self.status.setText(f"<span style='color:#d93025'>{error_html(exc)}</span> · <a href=\"{RETRY}\">Retry</a>")
        log.info("search failed: %s", exc)
        self.search_failed.emit(exc)

    def _on_link(self, href: str) -> None:
        if href == RETRY:
            self._retry()
        elif href == MORE:
            self.load_more()
        else:
            QDesktopServices.openUrl(QUrl(href))

    def _select(self, row: int) -> None:
        source = self.results.mapToSource(self.results.index(row, 0)).row() if row >= 0 else -1
        if 0 <= source < self.results_model.rowCount():
            self.detail.show_repo(self.results_model.result(source).repo_id)
