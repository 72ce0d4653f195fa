"""The memory the chat's own engine holds counts as free for the server only for that model's move, once, and
only where the server's budget left it out: the RAM free when the server started, after the chat had loaded.
A user's --memory-limit never counted it, and an engine that loaded after the server measured is in the
budget already. Real Gemma 3 270M header and the scheduler's own estimates; nothing is loaded."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import anyio

from app.chat.protocol import EngineSettings
from app.core.units import format_bytes
from app.server.catalog import Catalog, ServedModel
from app.server.runner import make_state
from app.server.scheduler import NO_MEMORY, Need, Scheduler, estimate_need
from tests.integration.server.conftest import ENGINE, GEMMA_ID, config

CHAT = EngineSettings(n_ctx=512, n_threads=2, n_batch=128)  # the chat's own load: not the server's settings


def gemma(library: Path) -> ServedModel:
    return next(m for m in Catalog(lambda: [library]).refresh() if m.id == GEMMA_ID)


def freed(scheduler: Scheduler, model: ServedModel, loaded_at: float, settings: EngineSettings = CHAT) -> Need:
    return anyio.run(scheduler.freed_by, model, settings, loaded_at)


def test_the_chats_copy_counts_only_where_the_servers_budget_left_it_out(library: Path) -> None:
    model = gemma(library)
    held = estimate_need(model, CHAT, None)
    loaded_at = time.monotonic()  # the chat's model finished loading, then the servers start
    measured = make_state(config(library), None).scheduler  # no limit: the RAM free now
    limited = make_state(config(library, memory_limit=8 << 30), None).scheduler

    assert measured.ram_measured and not limited.ram_measured
    assert held.ram > 0 and freed(measured, model, loaded_at) == Need(held.ram, held.vram)
    assert held != estimate_need(model, ENGINE, None)  # the chat's settings, not the server's
    assert freed(limited, model, loaded_at).ram == 0  # a user's limit never counted the chat's copy
    assert freed(measured, model, time.monotonic()) == NO_MEMORY  # loaded after the server measured
    over_rpc = dataclasses.replace(CHAT, rpc_workers=("127.0.0.1:50052",))
    assert freed(measured, model, loaded_at, over_rpc) == NO_MEMORY  # never moved: not the server's memory

    before = measured.budget
    measured.add_freed(Need(held.ram))
    assert measured.budget.ram == before.ram + held.ram
    measured.add_freed(NO_MEMORY)
    assert measured.budget == Need(before.ram + held.ram, before.vram, before.rpc)
    measured.retake(Need(held.ram))  # the move fell through: the chat's own engine holds its copy again
    assert measured.budget == before


def test_a_refusal_counts_what_the_move_frees_and_gives_the_numbers(library: Path) -> None:
    model = gemma(library)
    scheduler = make_state(config(library), None).scheduler
    served = estimate_need(model, ENGINE, None).ram
    held = Need(estimate_need(model, CHAT, None).ram)
    scheduler.budget = Need(served - held.ram // 2)  # one copy fits the RAM free before the chat's load

    alone = anyio.run(scheduler.refusal, model)
    assert alone is not None and f"more than the {format_bytes(served - held.ram // 2)} this server" in alone
    assert "--memory-limit" in alone and "--parallel" in alone  # `serve`'s flags: this state is the command's
    assert anyio.run(scheduler.refusal, model, held) is None  # with the chat's copy freed it fits
    assert scheduler.budget == Need(served - held.ram // 2)  # asking changes nothing

    scheduler.budget = Need(1 << 20)
    tight = anyio.run(scheduler.refusal, model, held)
    assert tight is not None and f"more than the {format_bytes((1 << 20) + held.ram)} this server" in tight
