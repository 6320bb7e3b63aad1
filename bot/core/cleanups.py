"""Channels a failed open left in Discord are deleted until Discord confirms, whatever happens.

Each is a row in the cleanup outbox, written in the same transaction that drops the open's row,
so a crash loses none. It is a job of the one background runner (`bot.core.scheduler`), which
deletes the due ones; a failure is rescheduled with exponential backoff.

The stray-channel sweep queues what it sees in the gateway cache, which lags behind REST: a
channel whose delete Discord has just confirmed may still be listed. So one channel's queueing
and deleting take turns (a lock per channel), and a channel this process saw deleted is never
queued again: whatever order a failed open's cleanup and a sweep run in, the outbox ends empty.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from bot.core.errors import DiscordFailure
from bot.core.limits import Clock, KeyedLocks
from bot.core.ports import ChannelRef, CleanupStore

_LOG = logging.getLogger("rimpllee.cleanups")

FIRST_RETRY_S = 2.0
MAX_RETRY_S = 300.0
GONE_REMEMBERED = 1000  # channels confirmed deleted, kept to refuse a stale cache's re-queueing


def backoff(attempts: int) -> float:
    """Seconds before the next try after `attempts` failed ones: 2, 4, 8, … up to 5 minutes."""
    return float(min(MAX_RETRY_S, FIRST_RETRY_S * 2 ** max(0, attempts - 1)))


class ChannelDeleter(Protocol):
    async def delete_channel(self, channel_id: int) -> None: ...


class CleanupRunner:
    name = "cleanup"

    def __init__(
        self,
        store: CleanupStore,
        discord: ChannelDeleter,
        clock: Clock = time.time,
        wake: Callable[[], None] = lambda: None,
    ):
        self._store = store
        self._discord = discord
        self._clock = clock
        self._wake = wake  # the scheduler's: look at the outbox now
        self._turns = KeyedLocks()  # by channel: queueing and deleting one channel take turns
        self._gone: dict[int, None] = {}  # the last channels Discord confirmed deleted, in order

    async def enqueue(self, channel: ChannelRef) -> None:
        """Queue a channel that must go (a late or duplicate one) and wake the runner; one
        already confirmed deleted (a stale cache still lists it) is not queued again."""
        async with self._turns.hold(channel.channel_id):
            if channel.channel_id in self._gone:
                return
            await self._store.add(channel, self._clock())
        self._wake()

    async def attempt(self, channel: ChannelRef, attempts: int = 0) -> bool:
        """One delete; True when Discord confirmed (already gone counts), else rescheduled."""
        async with self._turns.hold(channel.channel_id):
            if channel.channel_id not in self._gone:
                try:
                    await self._discord.delete_channel(channel.channel_id)
                except DiscordFailure as exc:
                    delay = backoff(attempts + 1)
                    await self._store.retry_at(
                        channel.channel_id, self._clock() + delay, exc.reason
                    )
                    _LOG.warning(
                        "channel %d left by a failed open could not be deleted (%s); "
                        "retrying in %.0f s",
                        channel.channel_id,
                        exc.reason,
                        delay,
                    )
                    return False
                self._remember_gone(channel.channel_id)
                _LOG.info("deleted channel %d left by a failed open", channel.channel_id)
            await self._store.done(channel.channel_id)
        return True

    def _remember_gone(self, channel_id: int) -> None:
        self._gone[channel_id] = None
        if len(self._gone) > GONE_REMEMBERED:
            del self._gone[next(iter(self._gone))]

    async def run_due(self) -> int:
        """Try every due cleanup once; how many were confirmed."""
        confirmed = 0
        for cleanup in await self._store.due(self._clock()):
            confirmed += await self.attempt(cleanup.channel, cleanup.attempts)
        return confirmed

    async def next_at(self) -> float | None:
        return await self._store.next_at()
