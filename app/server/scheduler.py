"""Which models are loaded, each in its own engine child, decided on exact bytes.

Before a model is loaded its memory is estimated exactly as the engine will allocate it (app.estimate:
the engine's own load settings); the sum over loaded models stays within the memory the user allows.
A model that cannot fit even alone is refused with the numbers (400); one that fits only without the
others first unloads the least recently used idle ones; when the others are all busy the caller is asked
to retry (503). Idle models unload after the TTL. An engine runs as many generations at once as it has
sequences (`EngineSettings.n_parallel`, a semaphore; embedding models one); loads happen one at a time, so
two loads never race for the same memory.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import anyio
import anyio.to_thread

from app.chat.batch_client import SharedEngineClient
from app.chat.projector import projector_for
from app.chat.protocol import Crashed, EngineSettings, ModelInfo, Token
from app.core.errors import AppError
from app.core.units import format_bytes
from app.estimate.hardware import HardwareSpec
from app.remote.rpc_probe import RpcWorker
from app.server.catalog import Catalog, ServedModel
from app.server.config import BudgetAdvice
from app.server.errors import ApiError
from app.server.model_kind import is_embedding_model

log = logging.getLogger("app.server")

START_TIMEOUT_S = 120.0
HISTORY = 200  # finished requests kept for the request log


@dataclass(frozen=True, slots=True)
class Need:
    """Bytes of RAM and VRAM (what the estimate says the engine needs, fixed overheads included), and of
    each RPC worker device of the pool the engines load over (app.server.pool_admission)."""

    ram: int
    vram: int = 0
    rpc: tuple[int, ...] = ()

    def __add__(self, other: Need) -> Need:
        n = max(len(self.rpc), len(other.rpc))
        rpc = tuple((self.rpc[i] if i < len(self.rpc) else 0) + (other.rpc[i] if i < len(other.rpc) else 0)
                    for i in range(n))
        return Need(self.ram + other.ram, self.vram + other.vram, rpc)

    def within(self, budget: Need) -> bool:
        devices = all(need <= (budget.rpc[i] if i < len(budget.rpc) else 0) for i, need in enumerate(self.rpc))
        return self.ram <= budget.ram and self.vram <= budget.vram and devices


NO_MEMORY = Need(0)


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A loaded model as the API and the log show it."""

    id: str
    ram: int
    vram: int
    busy: bool
    idle_seconds: float
    rpc: tuple[int, ...] = ()  # bytes on each RPC worker device


def estimate_need(model: ServedModel, settings: EngineSettings, hardware: HardwareSpec | None,
                  workers: Sequence[RpcWorker] = ()) -> Need:
    """The engine's memory for `model` with `settings` (a header read; run it off the event loop), over the
    RPC `workers` when there are any."""
    from app.estimate.view import engine_estimate, read_model_file

    shape = read_model_file(model.path).shape
    if shape is None:  # an architecture the memory model does not describe: its files at least
        log.warning("no exact estimate for %s; counting its file size", model.id)
        return Need(model.entry.size)
    if workers:
        from app.server.pool_admission import pool_need

        return Need(*pool_need(shape, settings, hardware, workers))
    est = engine_estimate(shape, settings, hardware)
    return Need(est.ram_need, est.vram_need)


@dataclass(frozen=True, slots=True)
class Finished:
    """One answered request, for the request log (the Server page will show these)."""

    model_id: str
    # the engine's: eog, length, stop_string, stopped (the client went away), context_full; or "error": the
    # request failed (its engine died under it, the engine refused it), with the status and message it got
    finish_reason: str
    prompt_tokens: int
    generated_tokens: int
    tokens_per_second: float
    at: float = field(default_factory=time.time)  # when it ended (wall clock)
    source: str = "api"  # "chat": a reply of the app's Chat page on the server's engine (app.server.shared_chat)
    sequence: int = -1  # the engine's llama.cpp sequence it ran on (-1: an engine of one sequence)
    status: int = 200  # the HTTP status of a failed request (a Chat page reply: what an API request would get)
    error: str = ""  # what the client of a failed request was told


def failed_record(model_id: str, status: int, error: str, last: Token | None, source: str = "api") -> Finished:
    """The request log's line for a request that ended with `error` (what its client was told) after the
    reply reached `last`."""
    generated = last.generated if last is not None else 0
    prompt = last.context_used - generated if last is not None and last.context_used else 0
    return Finished(model_id, "error", prompt, generated, 0.0, source=source, status=status, error=error)


class _Slot:
    def __init__(self, model: ServedModel, need: Need, client: SharedEngineClient, info: ModelInfo,
                 parallel: int) -> None:
        self.model = model
        self.need = need
        self.client = client
        self.info = info
        self.parallel = parallel
        self.gate = anyio.Semaphore(parallel)  # generations at once on this engine: one per sequence
        self.users = 0  # leases held or waited for: a slot with users is never unloaded
        self.last_used = time.monotonic()


class Lease:
    """The right to run one generation on a loaded model's engine; `release` exactly once."""

    def __init__(self, scheduler: Scheduler, slot: _Slot) -> None:
        self._scheduler = scheduler
        self._slot = slot
        self._released = False

    @property
    def client(self) -> SharedEngineClient:
        return self._slot.client

    @property
    def scheduler(self) -> Scheduler:
        return self._scheduler

    @property
    def info(self) -> ModelInfo:
        return self._slot.info

    @property
    def model(self) -> ServedModel:
        return self._slot.model

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        slot = self._slot
        slot.last_used = time.monotonic()
        slot.users -= 1
        slot.gate.release()


class Scheduler:
    def __init__(
        self,
        catalog: Catalog,
        settings: EngineSettings,
        budget: Need,
        hardware: HardwareSpec | None,
        ttl: float,
        estimator: Callable[[ServedModel, EngineSettings, HardwareSpec | None], Need] = estimate_need,
    ) -> None:
        self._catalog = catalog
        self._settings = settings
        self.budget = budget
        self._hardware = hardware
        self._ttl = ttl
        self._estimator = estimator
        self.device_names: tuple[str, ...] = ()  # the RPC worker devices of budget.rpc, for messages
        self.engine_nice = 0  # engines run this many steps below the server's priority (ServerConfig.engine_nice)
        self.advice = BudgetAdvice()  # the end of a too-large refusal: what to change where the server started
        # budget.ram is the RAM that was free at `measured_at` (no user limit), as budget.vram always is: memory an
        # engine outside the server held then is not in it, and joins it when that engine hands its model over
        self.ram_measured = False
        self.measured_at = time.monotonic()
        self._slots: dict[str, _Slot] = {}
        self._needs: dict[tuple[str, int], Need] = {}
        self._admit = anyio.Lock()  # loads and unloads, one at a time
        self.history: collections.deque[Finished] = collections.deque(maxlen=HISTORY)
        self.served = 0  # requests recorded since the start (the history keeps the last HISTORY)
        self.closing = False  # the server stops: its engines end on purpose

    # ------------------------------------------------------------------ state

    def loaded(self) -> list[LoadedModel]:
        now = time.monotonic()
        return [
            LoadedModel(s.model.id, s.need.ram, s.need.vram, s.users > 0, 0.0 if s.users else now - s.last_used,
                        s.need.rpc)
            for s in list(self._slots.values())  # a copy: the page reads this from the GUI thread
        ]

    def pid_of(self, model_id: str) -> int | None:
        """The engine process serving `model_id`, if it is loaded."""
        slot = self._slots.get(model_id)
        return slot.client.pid if slot is not None else None

    def record(self, finished: Finished) -> None:
        self.history.append(finished)  # deque.append is atomic: callable from any thread
        self.served += 1  # only the event loop records

    def used(self) -> Need:
        total = Need(0)
        for slot in self._slots.values():
            total = total + slot.need
        return total

    # ------------------------------------------------------------------ leases

    async def acquire(self, model_id: str) -> Lease:
        """Waits until `model_id` is loaded and its engine is free; raises ApiError (404, 400, 503, 500)."""
        model = await anyio.to_thread.run_sync(self._catalog.find, model_id)
        if model is None:
            raise ApiError(404, f"The model '{model_id}' is not in the library: GET /v1/models lists the ids",
                           "model")
        for _ in range(2):  # an engine that died while the request waited for a sequence: loaded once more
            lease = await self._lease(model)
            if lease.client.alive:
                return lease
            lease.release()
        raise ApiError(500, f"The engine serving '{model.id}' stopped twice while this request waited for it "
                            "(see the server's log)")

    async def refusal(self, model: ServedModel, freed: Need = NO_MEMORY) -> str | None:
        """Why `model` could not be loaded now, without loading it (None: it could, unloading idle models if
        it must): it never fits the budget, or it fits only once models that are busy now have unloaded.
        `freed`: what the caller frees before the load and `add_freed` then adds to the budget (`freed_by`)."""
        slot = self._slots.get(model.id)
        if slot is not None and slot.client.alive:
            return None
        budget = self.budget + freed
        try:
            need = await self._need(model)
            self._check_fits_alone(model, need, budget)
        except ApiError as exc:
            return exc.message
        busy = [s for s in self._slots.values() if s.users > 0]
        kept = Need(0)
        for other in busy:
            kept = kept + other.need
        if (kept + need).within(budget) and not (need.rpc and busy):
            return None
        return (f"The model '{model.id}' ({format_bytes(need.ram)}) fits only after other models unload, and "
                f"they are busy ({format_bytes(kept.ram)} in use of {format_bytes(budget.ram)})")

    async def freed_by(self, model: ServedModel, settings: EngineSettings, loaded_at: float) -> Need:
        """The memory that an engine outside the server, which finished loading `model` with `settings` at
        `loaded_at` (time.monotonic), frees when it ends and the budget does not count yet: that engine's own
        estimate, where the budget is the memory that was free after it loaded; nothing otherwise (a user's
        --memory-limit never counted it; an engine that loaded later was not measured)."""
        if loaded_at >= self.measured_at or settings.rpc_workers:
            return Need(0)
        held = await anyio.to_thread.run_sync(estimate_need, model, settings, self._hardware)
        return Need(held.ram if self.ram_measured else 0, held.vram)

    def add_freed(self, freed: Need) -> None:
        """Memory an engine outside the server freed to hand its model over (`freed_by`): the budget grows by
        it, once. Call it on the server's event loop."""
        if freed.ram or freed.vram:
            self.budget = self.budget + Need(freed.ram, freed.vram)
            log.info("the budget grows by %s freed by the chat's own engine, to %s", format_bytes(freed.ram),
                     format_bytes(self.budget.ram))

    def retake(self, freed: Need) -> None:
        """The engine that freed `freed` (`add_freed`) holds it again: its model's move fell through."""
        if freed.ram or freed.vram:
            self.budget = replace(self.budget, ram=self.budget.ram - freed.ram, vram=self.budget.vram - freed.vram)

    async def _lease(self, model: ServedModel) -> Lease:
        slot = self._slots.get(model.id)
        if slot is None or not slot.client.alive:
            async with self._admit:
                slot = await self._ensure_loaded(model)
                slot.users += 1  # before the lock is released: an unload never takes a slot someone waits for
        else:
            slot.users += 1
        try:
            await slot.gate.acquire()
        except BaseException:
            slot.users -= 1
            raise
        return Lease(self, slot)

    async def _ensure_loaded(self, model: ServedModel) -> _Slot:
        slot = self._slots.get(model.id)
        if slot is not None and slot.client.alive:
            return slot
        if slot is not None:  # its requests end with the engine's error; its memory is free already
            await self._unload(slot, "its engine stopped")
        need = await self._need(model)
        self._check_fits_alone(model, need)
        await self._make_room(model, need)
        return await self._load(model, need)

    async def _need(self, model: ServedModel) -> Need:
        key = (model.id, model.entry.size)
        if key not in self._needs:
            try:
                self._needs[key] = await anyio.to_thread.run_sync(
                    self._estimator, model, self._settings, self._hardware)
            except AppError as exc:
                raise ApiError(500, f"The model '{model.id}' cannot be read: {exc}") from exc
        return self._needs[key]

    def _check_fits_alone(self, model: ServedModel, need: Need, budget: Need | None = None) -> None:
        budget = budget if budget is not None else self.budget
        if need.within(budget):
            return
        ctx = self._settings.n_ctx
        over = [i for i, n in enumerate(need.rpc) if n > (budget.rpc[i] if i < len(budget.rpc) else 0)]
        if need.ram > budget.ram:
            what = f"{format_bytes(need.ram)} of RAM"
            allowed = format_bytes(budget.ram)
        elif over:
            i = over[0]
            name = self.device_names[i] if i < len(self.device_names) else f"RPC{i}"
            what = f"{format_bytes(need.rpc[i])} on the worker device {name}"
            allowed = format_bytes(budget.rpc[i] if i < len(budget.rpc) else 0)
        else:
            what = f"{format_bytes(need.vram)} of VRAM"
            allowed = format_bytes(budget.vram)
        advice = self.advice.ram if need.ram > budget.ram else self.advice.gpu
        raise ApiError(
            400,
            f"The model '{model.id}' needs {what} with a {ctx}-token context, more than the {allowed} this server "
            f"may use, so it cannot be loaded as the server is set up ({advice})",
            "model",
        )

    async def _make_room(self, model: ServedModel, need: Need) -> None:
        # an RPC worker serves one client at a time: over a pool, one engine (one model) is loaded at once
        while not (self.used() + need).within(self.budget) or (need.rpc and self._slots):
            idle = sorted((s for s in self._slots.values() if s.users == 0), key=lambda s: s.last_used)
            if not idle:
                used = self.used()
                raise ApiError(503, f"The model '{model.id}' ({format_bytes(need.ram)}) fits only after "
                                    f"other models unload, and they are all busy ({format_bytes(used.ram)} in "
                                    f"use of {format_bytes(self.budget.ram)}); retry shortly", retry_after=2)
            await self._unload(idle[0], f"making room for {model.id}")

    async def _load(self, model: ServedModel, need: Need) -> _Slot:
        client = SharedEngineClient(nice=self.engine_nice)
        settings = self._settings

        def start_and_load() -> ModelInfo:
            nonlocal settings
            if is_embedding_model(model.path):  # loaded for /v1/embeddings, with the GGUF's pooling, one at a time
                settings = replace(settings, embeddings=True, n_parallel=1)
            elif not settings.mmproj:  # images and audio when the model's projector is beside it
                settings = replace(settings, mmproj=projector_for(model.path))
            client.start(timeout=START_TIMEOUT_S)
            return client.load(str(model.path), settings)

        log.info("loading %s (%s of RAM)", model.id, format_bytes(need.ram))
        try:
            info = await anyio.to_thread.run_sync(start_and_load)
        except AppError as exc:
            await anyio.to_thread.run_sync(client.close)
            raise ApiError(500, f"The model '{model.id}' could not be loaded: {exc}") from exc
        except BaseException:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(client.close)
            raise
        slot = _Slot(model, need, client, info, settings.n_parallel)
        self._slots[model.id] = slot
        log.info("loaded %s in %.1f s", model.id, info.load_seconds)
        loop = asyncio.get_running_loop()

        def crashed(event: Crashed) -> None:  # on the engine's reader thread
            with contextlib.suppress(RuntimeError):  # the loop has closed: the server and its slots are gone
                loop.call_soon_threadsafe(self._forget, slot, event.message)

        client.on_crash = crashed
        if not client.alive:  # died before it could be told
            self._forget(slot, "it stopped just after loading")
        return slot

    def _forget(self, slot: _Slot, why: str) -> None:
        """A dead engine leaves at once: its memory is free again and the next request loads the model anew
        (requests still open on it end with the engine's error, and release a semaphore nobody reuses)."""
        if self._slots.get(slot.model.id) is slot:
            del self._slots[slot.model.id]
            log.warning("%s is no longer loaded: %s", slot.model.id, why)

    async def _unload(self, slot: _Slot, why: str) -> None:
        if self._slots.get(slot.model.id) is slot:
            del self._slots[slot.model.id]
        log.info("unloading %s (%s)", slot.model.id, why)
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(slot.client.close)

    # ------------------------------------------------------------------ idle models

    async def unload_expired(self) -> list[str]:
        """Unloads the models idle for longer than the TTL; returns their ids."""
        if self._ttl <= 0:
            return []
        gone = []
        async with self._admit:
            now = time.monotonic()
            for slot in list(self._slots.values()):
                if slot.users == 0 and now - slot.last_used >= self._ttl:
                    await self._unload(slot, f"idle for {self._ttl:g} s")
                    gone.append(slot.model.id)
        return gone

    async def run_reaper(self) -> None:
        """Runs until cancelled: unloads expired models (a TTL of 0 keeps them)."""
        if self._ttl <= 0:
            return
        interval = min(max(self._ttl / 4, 0.05), 5.0)
        while True:
            await anyio.sleep(interval)
            await self.unload_expired()

    async def close(self) -> None:
        self.closing = True
        with anyio.CancelScope(shield=True):
            for slot in list(self._slots.values()):
                await self._unload(slot, "the server stops")
