"""Refused opens kept in memory: a client that retries a refused open is answered again without
the work, for exactly as long as working it out again would give the same answer.

A refusal rests on three things, and an entry holds while all three do:
- what the store holds (keys, panels, server settings, the blacklist, tickets): its version
  (`TicketStore.version`), which any process's commit moves, as read before the refusal was
  worked out;
- that the member is still in the server: a count of possible departures
  (`DiscordPort.departures`), moved by the gateway's events;
- the clock: a cooldown ends, an open leaves the server's window, a wait told in whole seconds
  ticks down. The caller says from which instant its answer holds and when it next changes
  (`Standing`), and a rate limit's own wait is bounded here. The clock stepping back before that
  instant ends it too.

Only refusals decided by those alone are kept (`REPEATABLE`): a member not found is not (it may
have been a REST lookup), nor a Discord failure, nor a refusal decided by an open another request
started (`TicketError.shared`: it was decided before this request read its basis).
"""

from __future__ import annotations

import time
from typing import Generic, NamedTuple, TypeVar

from bot.core.errors import (
    Blacklisted,
    ButtonNotFound,
    InvalidRequest,
    PanelNotFound,
    RateLimited,
    TooManyOpen,
)
from bot.core.limits import Clock
from bot.core.ports import DiscordPort, TicketStore
from bot.core.quotas import whole_seconds_until

K = TypeVar("K")
V = TypeVar("V")

# The refusals an open's checks reach from the store, the member and the clock alone.
REPEATABLE = (InvalidRequest, PanelNotFound, ButtonNotFound, Blacklisted, TooManyOpen, RateLimited)


class Basis(NamedTuple):
    """What a server's refusals rest on besides the clock."""

    store: int
    departures: int


class _Kept(NamedTuple, Generic[V]):
    basis: Basis
    since: float
    until: float
    answer: V


class Refusals(Generic[K, V]):
    """Answers (`V`) to refused requests, by what was asked (`K`, which names the server)."""

    def __init__(
        self,
        store: TicketStore,
        discord: DiscordPort,
        clock: Clock = time.time,
        max_entries: int = 1024,
    ) -> None:
        self._store = store
        self._discord = discord
        self._clock = clock
        self.max_entries = max_entries  # 0 keeps nothing (the benchmark measures that too)
        self._entries: dict[K, _Kept[V]] = {}
        self.repeated = 0  # answers given again from memory, since the start

    async def basis(self, guild_id: int) -> Basis | None:
        """The server's basis now; None where the store or Discord can't tell when it moves
        (nothing is kept then)."""
        departures = self._discord.departures(guild_id)
        if departures is None:
            return None
        version = await self._store.version()
        if version is None:
            return None
        return Basis(version, departures)

    def get(self, asked: K, basis: Basis) -> V | None:
        """The answer kept for `asked`, if it still holds on `basis` (the server's, now)."""
        kept = self._entries.get(asked)
        if kept is None:
            return None
        if kept.basis == basis and kept.since <= self._clock() < kept.until:
            self.repeated += 1
            return kept.answer
        del self._entries[asked]
        return None

    def forget(self) -> None:
        self._entries.clear()

    def keep(
        self,
        asked: K,
        answer: V,
        basis: Basis,
        refused: BaseException,
        holds: tuple[float, float],
    ) -> None:
        """Keep `answer` to `asked`, refused by `refused` on `basis` (read before the refusal was
        worked out), for clock times in `holds` (from the instant it was worked out for, to the
        first that changes it) at the most. Any other failure is not kept."""
        since, until = holds
        if not self.max_entries or not isinstance(refused, REPEATABLE) or refused.shared:
            return
        if isinstance(refused, RateLimited):
            if refused.facts is None:  # not from a check: no instant to count from
                return
            deadline = refused.at + refused.retry_after
            until = min(until, deadline, whole_seconds_until(deadline, refused.at))
        if not since <= self._clock() < until:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # many distinct refusals: start over rather than grow
        self._entries[asked] = _Kept(basis, since, until, answer)
