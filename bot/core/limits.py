"""Limits that live in memory: per-key serialization and a failure counter per client.

Ticket rate limits live in the store (they are derived from the tickets opened), so they hold
across restarts and, later, across processes sharing one database.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Callable, Hashable

Clock = Callable[[], float]


class KeyedLocks:
    """One asyncio.Lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


class FailureLimiter:
    """At most `limit` failures per `window` seconds per key (e.g. failed API auth per address).

    Memory is bounded: at most `max_keys` keys are tracked, the stalest dropped first.
    """

    def __init__(self, limit: int, window: float, clock: Clock, *, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._max_keys = max_keys
        self._failures: collections.OrderedDict[str, collections.deque[float]] = (
            collections.OrderedDict()
        )

    def retry_after(self, key: str) -> float | None:
        """Seconds until `key` may try again, or None if it may now."""
        times = self._failures.get(key)
        if times is None:
            return None
        horizon = self._clock() - self.window
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        if len(times) < self.limit:
            return None
        return times[0] + self.window - self._clock()

    def record_failure(self, key: str) -> None:
        times = self._failures.pop(key, None) or collections.deque()
        times.append(self._clock())
        self._failures[key] = times
        while len(self._failures) > self._max_keys:
            self._failures.popitem(last=False)
