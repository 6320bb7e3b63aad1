"""Keeps CPython's cyclic garbage collector off what lives as long as the bot.

A full (generation 2) collection walks every container object the process holds. Once the bot is
up that is nearly all long-lived: modules, classes, functions, the gateway cache (about 140,000
objects in the dashboard benchmark), and walking them stalls the event loop for 75-110 ms on the
2-core development machine, every few hundred requests: whichever request is in flight waits, the
dashboard's p99 was that pause (`python -m tests.bench_desk`, README "Benchmark"). `gc.freeze()`
moves everything alive at that moment to the permanent generation, which collections skip (a full
one then takes about 1 ms); objects made later are collected as before, and reference counting
still frees frozen objects. What a frozen object can't be is collected as part of a garbage cycle,
so the bot freezes once, when start-up is done, after a collection of the young generations (the
garbage start-up leaves there; a full collection would cost the pause it avoids, and finds nothing
at that point in the benchmark), and thaws when it stops.

The permanent generation belongs to the process, not to one bot: when several run in one process
(the tests), it is thawed when the last of them stops.
"""

from __future__ import annotations

import gc

_holders: set[int] = set()  # id() of each running bot that froze the heap


def freeze(holder: object) -> None:
    """What is alive now is kept out of the collector's walks until `thaw`."""
    if id(holder) in _holders:
        return
    gc.collect(1)
    gc.freeze()
    _holders.add(id(holder))


def thaw(holder: object) -> None:
    """Gives frozen objects back to the collector once no running bot holds the freeze."""
    if id(holder) not in _holders:
        return
    _holders.discard(id(holder))
    if not _holders:
        gc.unfreeze()
