"""The running bot keeps what start-up built out of the cyclic collector's walks, and nothing more.

What that buys (the dashboard's p99 without the full collections' pauses) is measured by the
benchmark (`python -m tests.bench_desk`), not here; these check the mechanism on the real `gc`.
"""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest

from bot import heap
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import SandboxWorld, seed_database
from tests.conftest import LoopErrors, running

pytestmark = pytest.mark.asyncio


class Node:
    """A container the collector tracks, to build reference cycles with."""

    def __init__(self) -> None:
        self.other: Node | None = None


def tracked(obj: object) -> bool:
    """Whether a collection would walk `obj` (frozen objects are in no generation)."""
    return any(o is obj for o in gc.get_objects())


def cycle() -> weakref.ref[Node]:
    """A garbage reference cycle only the cyclic collector can free, watched by a weak reference."""
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


async def test_start_freezes_what_exists_and_stop_gives_it_back(
    emulator: DiscordEmulator, world: SandboxWorld, loop_errors: LoopErrors, tmp_path: Path
) -> None:
    database = tmp_path / "r.db"
    await seed_database(database, world)
    before = Node()
    assert gc.get_freeze_count() == 0
    async with running(emulator, database, loop_errors) as app:
        assert app.ready
        assert gc.get_freeze_count() > 0
        assert not tracked(before)
        # What the running bot makes later is collected as usual, cycles included.
        after = Node()
        assert tracked(after)
        made_while_running = cycle()
        gc.collect()
        assert made_while_running() is None
    assert gc.get_freeze_count() == 0
    assert tracked(before)


async def test_the_heap_thaws_when_the_last_holder_lets_go() -> None:
    first, second = object(), object()
    kept = Node()
    kept.other = Node()
    kept.other.other = kept
    gone = weakref.ref(kept)
    try:
        heap.freeze(first)
        heap.freeze(second)
        heap.freeze(first)  # a second freeze by the same holder changes nothing
        del kept  # a cycle among frozen objects: garbage the collector can't see yet
        gc.collect()
        assert gone() is not None
        heap.thaw(first)
        assert gc.get_freeze_count() > 0  # the second still holds it
        heap.thaw(first)
        assert gc.get_freeze_count() > 0
        heap.thaw(second)
        assert gc.get_freeze_count() == 0
    finally:
        heap.thaw(first)
        heap.thaw(second)
    gc.collect()
    assert gone() is None
