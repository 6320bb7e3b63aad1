"""Where a server and a user stand against the ticket rate limits, for the API's RateLimit fields.

Read from the same facts the open checks, so what a client is told is what the next open meets.
"""

from __future__ import annotations

import math
import time
from typing import NamedTuple

from bot.core.errors import RateLimited
from bot.core.limits import Clock
from bot.core.ports import LimitFacts, TicketStore
from bot.core.tickets import Limits


class Quota(NamedTuple):
    """One policy: `limit` tickets per `window` seconds; `remaining` now; `reset` seconds until
    the next one frees up (0 when nothing is spent). A named tuple: every API answer builds
    one or two."""

    name: str
    limit: int
    window: int
    remaining: int
    reset: int


class Standing(NamedTuple):
    """The quotas as they stand at clock time `at`, and until when every number in them holds
    (from `at` on: the clock stepping back can change them)."""

    quotas: list[Quota]
    at: float
    until: float


def whole_seconds_until(deadline: float, now: float) -> float:
    """When `ceil(deadline - t)`, a wait told in whole seconds, next differs from its value at
    `now` (infinity once the deadline has passed: the wait is 0 from then on)."""
    left = deadline - now
    if left <= 0:
        return math.inf
    return deadline - math.ceil(left) + 1


class Quotas:
    def __init__(self, store: TicketStore, limits: Limits, clock: Clock = time.time) -> None:
        self._store = store
        self._limits = limits
        self._clock = clock

    async def state(
        self, guild_id: int, user_id: int | None, refused: BaseException | None = None
    ) -> Standing:
        """`refused`: the error the request ended in; a `RateLimited` carries the facts its check
        read, which are used instead of reading them again."""
        if isinstance(refused, RateLimited) and refused.facts is not None:
            return standing(self._limits, refused.facts, refused.at, user_id)
        now = self._clock()
        facts = await self._store.view(guild_id).facts(user_id or 0, now - self._limits.window)
        return standing(self._limits, facts, now, user_id)


def standing(limits: Limits, facts: LimitFacts, now: float, user_id: int | None) -> Standing:
    """The quotas at `now`, from facts read for `now`; the user's only when a user is named."""
    used = min(facts.opened_in_window, limits.server_per_minute)
    server_reset = 0
    until = math.inf
    if facts.oldest_in_window is not None:
        # The oldest open leaves the window at its end: `used` drops, the reset moves on.
        ends = facts.oldest_in_window + limits.window
        server_reset = max(0, math.ceil(ends - now))
        until = min(ends, whole_seconds_until(ends, now))
    quotas = [
        Quota(
            "server",
            limits.server_per_minute,
            int(limits.window),
            limits.server_per_minute - used,
            server_reset,
        )
    ]
    if user_id is not None and limits.user_cooldown > 0:
        wait = 0.0
        if facts.last_open is not None:
            ends = facts.last_open + limits.user_cooldown
            wait = max(0.0, ends - now)
            until = min(until, whole_seconds_until(ends, now))
        quotas.append(
            Quota("user", 1, math.ceil(limits.user_cooldown), 0 if wait else 1, math.ceil(wait))
        )
    return Standing(quotas, now, until)
