"""Channels a failed open left in Discord are deleted until Discord confirms, whatever happens.

Each is a row in the cleanup outbox, written in the same transaction that drops the open's row,
so a crash loses none. It is a job of the one background runner (`bot.core.scheduler`), which
deletes the due ones; a failure is rescheduled with exponential backoff.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from bot.core.errors import DiscordFailure
from bot.core.limits import Clock
from bot.core.ports import ChannelRef, CleanupStore

_LOG = logging.getLogger("rimpllee.cleanups")

FIRST_RETRY_S = 2.0
MAX_RETRY_S = 300.0


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

    async def enqueue(self, channel: ChannelRef) -> None:
        """Queue a channel that must go (a late or duplicate one) and wake the runner."""
        await self._store.add(channel, self._clock())
        self._wake()

    async def attempt(self, channel: ChannelRef, attempts: int = 0) -> bool:
        """One delete; True when Discord confirmed (already gone counts), else rescheduled."""
        try:
            await self._discord.delete_channel(channel.channel_id)
        except DiscordFailure as exc:
            delay = backoff(attempts + 1)
            await self._store.retry_at(channel.channel_id, self._clock() + delay, exc.reason)
            _LOG.warning(
                "channel %d left by a failed open could not be deleted (%s); retrying in %.0f s",
                channel.channel_id,
                exc.reason,
                delay,
            )
            return False
        await self._store.done(channel.channel_id)
        _LOG.info("deleted channel %d left by a failed open", channel.channel_id)
        return True

    async def run_due(self) -> int:
        """Try every due cleanup once; how many were confirmed."""
        confirmed = 0
        for cleanup in await self._store.due(self._clock()):
            confirmed += await self.attempt(cleanup.channel, cleanup.attempts)
        return confirmed

    async def next_at(self) -> float | None:
        return await self._store.next_at()
