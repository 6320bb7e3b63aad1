"""Staff stats: what is recorded as it happens (claims, the first staff reply), and the numbers
the dashboard shows per server and per button over a period.

Staff are who the lifecycle says they are (`LifecycleService.is_staff`, as for the commands), so a
reply counts when the ticket's support team or someone who manages channels writes in it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bot.core.access import MemberView, actor_of
from bot.core.lifecycle import LifecycleService
from bot.core.limits import Clock
from bot.core.models import Ticket

DAY_S = 86400
PERIOD_DAYS_MAX = 366
REMEMBERED_CHANNELS = 20_000  # per kind; a channel forgotten costs one database read later


class _Recent:
    """A set that forgets its oldest members beyond `size` (memory stays bounded)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: dict[int, None] = {}

    def __contains__(self, item: int) -> bool:
        return item in self._items

    def add(self, item: int) -> None:
        self._items[item] = None
        if len(self._items) > self._size:
            del self._items[next(iter(self._items))]


class FirstReplyStore(Protocol):
    async def by_channel(self, channel_id: int) -> Ticket | None: ...

    async def record_first_reply(self, ticket_id: int, at: float) -> bool:
        """Set the ticket's first staff reply unless it has one; True if this set it."""
        ...


class FirstReplies:
    """Records the first staff message of each ticket, once, when it is written.

    Every message the bot sees passes here, so it remembers which channels are not tickets (a
    ticket's channel is always new, so a channel seen as "not a ticket" never becomes one) and
    which tickets already have their reply: most messages cost no database read.
    """

    def __init__(
        self, store: FirstReplyStore, lifecycle: LifecycleService, clock: Clock = time.time
    ) -> None:
        self._store = store
        self._lifecycle = lifecycle
        self._clock = clock
        self._not_tickets = _Recent(REMEMBERED_CHANNELS)
        self._answered = _Recent(REMEMBERED_CHANNELS)

    async def message(self, channel_id: int, author: MemberView | None) -> bool:
        """A member wrote in a channel; True if this was the first staff reply of a ticket."""
        if author is None or channel_id in self._not_tickets or channel_id in self._answered:
            return False
        ticket = await self._store.by_channel(channel_id)
        if ticket is None:
            self._not_tickets.add(channel_id)
            return False
        if ticket.state != "open" or author.user_id == ticket.user_id:
            return False
        if not await self._lifecycle.is_staff(ticket, actor_of(author)):
            return False
        self._answered.add(channel_id)
        return await self._store.record_first_reply(ticket.ticket_id, self._clock())


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end) in unix seconds, whole UTC days."""

    start: float
    end: float

    @property
    def days(self) -> int:
        return max(1, round((self.end - self.start) / DAY_S))


@dataclass(frozen=True, slots=True)
class DayCount:
    day: float  # the day's start, unix seconds UTC
    button: int
    api: int

    @property
    def total(self) -> int:
        return self.button + self.api


@dataclass(frozen=True, slots=True)
class Durations:
    """Seconds, over the tickets that have one; None when none has."""

    count: int
    median: float | None
    p90: float | None


@dataclass(frozen=True, slots=True)
class Handled:
    user_id: int
    claims: int
    closes: int


@dataclass(frozen=True, slots=True)
class RawStats:
    """What the store reads for one server (and button) and period, in a few indexed queries."""

    opened: list[tuple[int, str, int]]  # (day index since the period's start, source, count)
    open_now: int
    first_reply: Durations
    close: Durations
    claims: dict[int, int]
    closes: dict[int, int]


@dataclass(frozen=True, slots=True)
class ServerStats:
    period: Period
    button_id: str | None
    days: list[DayCount]
    open_now: int
    first_reply: Durations
    close: Durations
    handled: list[Handled] = field(default_factory=list)

    @property
    def opened(self) -> int:
        return sum(d.total for d in self.days)


class StatsStore(Protocol):
    async def read(self, guild_id: int, period: Period, button_id: str | None) -> RawStats: ...


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile of sorted `values` (the median is 0.5)."""
    if not values:
        return None
    rank = max(1, math.ceil(fraction * len(values)))
    return values[rank - 1]


def durations(values: list[float]) -> Durations:
    ordered = sorted(values)
    return Durations(len(ordered), percentile(ordered, 0.5), percentile(ordered, 0.9))


def period_ending(end_day: float, days: int) -> Period:
    """`days` whole UTC days up to and including the day that starts at or before `end_day`."""
    days = max(1, min(days, PERIOD_DAYS_MAX))
    end = (end_day // DAY_S + 1) * DAY_S
    return Period(end - days * DAY_S, end)


class StaffStats:
    def __init__(self, store: StatsStore) -> None:
        self._store = store

    async def server(
        self, guild_id: int, period: Period, button_id: str | None = None
    ) -> ServerStats:
        raw = await self._store.read(guild_id, period, button_id)
        per_day = {i: [0, 0] for i in range(period.days)}
        for day, source, count in raw.opened:
            if day in per_day:
                per_day[day][0 if source == "button" else 1] += count
        staff = raw.claims.keys() | raw.closes.keys()
        handled = [Handled(u, raw.claims.get(u, 0), raw.closes.get(u, 0)) for u in staff]
        handled.sort(key=lambda h: (-(h.claims + h.closes), h.user_id))
        return ServerStats(
            period=period,
            button_id=button_id,
            days=[
                DayCount(period.start + i * DAY_S, button, api)
                for i, (button, api) in sorted(per_day.items())
            ],
            open_now=raw.open_now,
            first_reply=raw.first_reply,
            close=raw.close,
            handled=handled,
        )
