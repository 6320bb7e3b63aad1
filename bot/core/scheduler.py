"""The one background runner: everything that must happen later is a row, worked here.

Jobs (the cleanup outbox, ticket timers, …) each say when their next row is due and work the due
ones; the scheduler sleeps until the earliest, or until a job wakes it because it queued something.
Time comes from the injected clock, so tests move the clock and call `tick()` instead of sleeping.
The composition root starts it after the gateway is up and stops it before the gateway closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Protocol

from bot.core.limits import Clock

_LOG = logging.getLogger("rimpllee.scheduler")

IDLE_CHECK_S = 60.0  # the runner looks at its jobs at least this often
MIN_WAIT_S = 0.05
STOP_GRACE_S = 2.0


class Job(Protocol):
    name: str

    async def run_due(self) -> int:
        """Work every row due now (bounded); how many were done."""
        ...

    async def next_at(self) -> float | None:
        """When the earliest row is due (unix seconds), or None if there is none."""
        ...


class Scheduler:
    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._jobs: list[Job] = []
        self._event = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._ticking = asyncio.Lock()  # one pass at a time, whoever asks for it
        self._stopping = asyncio.Event()

    def add(self, job: Job) -> None:
        self._jobs.append(job)

    def wake(self) -> None:
        """Something new was queued: look again now rather than at the next due time."""
        self._event.set()

    async def tick(self) -> int:
        """One pass over every job; how many rows were done. A failing job doesn't stop the
        others (it is logged and tried again on the next pass)."""
        done = 0
        async with self._ticking:
            for job in self._jobs:
                try:
                    done += await job.run_due()
                except Exception:
                    _LOG.exception("the %s job failed; trying again later", job.name)
        return done

    async def next_at(self) -> float | None:
        times = []
        for job in self._jobs:
            try:
                at = await job.next_at()
            except Exception:
                _LOG.exception("the %s job cannot say when it is due", job.name)
                continue
            if at is not None:
                times.append(at)
        return min(times, default=None)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="rimpllee-scheduler")

    async def stop(self, grace: float = STOP_GRACE_S) -> None:
        """Let a pass in progress finish its work (a close half done is worse than one not
        started) for up to `grace` seconds, then cancel it; an unfinished timer comes back
        when its lease runs out."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        self.wake()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await asyncio.shield(task)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            self._event.clear()
            await self.tick()
            if self._stopping.is_set():
                return
            next_at = await self.next_at()
            wait = IDLE_CHECK_S if next_at is None else next_at - self._clock()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(IDLE_CHECK_S, max(MIN_WAIT_S, wait))):
                    await self._event.wait()
