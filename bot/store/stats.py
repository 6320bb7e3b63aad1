"""Staff stats in SQLite: claims and first replies as they happen, and the stats page's reads.

The page reads per-day counts that triggers keep in the transaction of every change (migration
0011): tickets opened, claims and closes per staff member, and durations per bucket. A median or
p90 is exact: the buckets say which one holds it and at what rank, and one indexed query reads
that bucket's durations within the period in order.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from bot.core.limits import Clock
from bot.core.stats import DAY_S, Durations, Period, RawStats
from bot.store.database import Database
from bot.store.tickets import SqliteLifecycleStore

ALL_BUTTONS = ""  # the stats tables' key for every ticket of a server
QUANTILES = (0.5, 0.9)
BLOCK_DAYS = 32  # stats_durations.span of the rows that count a block of days
_KEY = "guild_id = :g AND button_id = :b"

_DURATION = {
    "reply": "first_staff_reply_at - opened_at",
    "close": "closed_at - opened_at",
}
_RECORDED = {"reply": "first_staff_reply_at IS NOT NULL", "close": "closed_at IS NOT NULL"}

Kind = Literal["reply", "close"]


class ClaimRecordingLifecycleStore(SqliteLifecycleStore):
    """The lifecycle's store, also recording first staff replies (claims go to `ticket_claims` in
    the claim's own transaction: `SqliteLifecycleStore.set_claimed`)."""

    def __init__(self, db: Database, clock: Clock) -> None:
        super().__init__(db)
        self._clock = clock

    async def record_first_reply(self, ticket_id: int, at: float) -> bool:
        async with self._db.write() as conn:
            cursor = await conn.execute(
                "UPDATE tickets SET first_staff_reply_at = ? "
                "WHERE ticket_id = ? AND first_staff_reply_at IS NULL",
                (at, ticket_id),
            )
            return cursor.rowcount == 1


def nearest_rank(count: int, fraction: float) -> int:
    """The 1-based rank `core.stats.percentile` picks among `count` sorted values."""
    return max(1, math.ceil(fraction * count))


def locate(counts: list[tuple[int, int]], rank: int) -> tuple[int, int]:
    """The bucket holding the `rank`-th smallest value (from 1) and its 0-based place in it."""
    below = 0
    for bucket, count in counts:
        if below + count >= rank:
            return bucket, rank - below - 1
        below += count
    raise ValueError(f"rank {rank} is beyond the {below} values counted")


class SqliteStats:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._lowers: list[float] | None = None

    async def _bucket_lowers(self) -> list[float]:
        if self._lowers is None:
            rows = await self._db.fetchall("SELECT lower FROM stats_buckets ORDER BY bucket")
            self._lowers = [float(r[0]) for r in rows]
        return self._lowers

    async def read(self, guild_id: int, period: Period, button_id: str | None) -> RawStats:
        # Reads see committed data one statement at a time: if a change lands between the counts
        # and the exact value, the bucket may no longer hold the rank; read again.
        for _ in range(3):
            raw = await self._read(guild_id, period, button_id)
            if raw is not None:
                return raw
        raise RuntimeError("stats kept changing while being read")  # pragma: no cover

    async def _read(self, guild_id: int, period: Period, button_id: str | None) -> RawStats | None:
        first = int(period.start // DAY_S)
        params: dict[str, Any] = {
            "g": guild_id,
            "b": ALL_BUTTONS if button_id is None else button_id,
            "d0": first,
            "d1": int(period.end // DAY_S),
        }
        opened = await self._db.fetchall(
            "SELECT day - :d0, source, sum(tickets) FROM stats_opened "
            "WHERE guild_id = :g AND button_id = :b AND day >= :d0 AND day < :d1 "
            "GROUP BY day, source HAVING sum(tickets) > 0",
            params,
        )
        button = "" if button_id is None else " AND button_id = :b"
        open_now = await self._db.fetchone(
            f"SELECT count(*) FROM tickets WHERE guild_id = :g AND state = 'open'{button}", params
        )
        assert open_now is not None
        # Whole blocks of BLOCK_DAYS from their own rows, the days at either edge one by one.
        params["b0"] = min(-(-first // BLOCK_DAYS) * BLOCK_DAYS, params["d1"])
        params["b1"] = max(params["d1"] // BLOCK_DAYS * BLOCK_DAYS, params["b0"])
        buckets = await self._db.fetchall(
            "SELECT kind, bucket, sum(tickets) FROM ("
            f"SELECT kind, bucket, tickets FROM stats_durations WHERE {_KEY} "
            "AND span = 1 AND day >= :d0 AND day < :b0 UNION ALL "
            f"SELECT kind, bucket, tickets FROM stats_durations WHERE {_KEY} "
            f"AND span = {BLOCK_DAYS} AND day >= :b0 AND day < :b1 UNION ALL "
            f"SELECT kind, bucket, tickets FROM stats_durations WHERE {_KEY} "
            "AND span = 1 AND day >= :b1 AND day < :d1"
            ") AS t GROUP BY kind, bucket HAVING sum(tickets) > 0 ORDER BY kind, bucket",
            params,
        )
        handled = await self._db.fetchall(
            "SELECT user_id, sum(claims), sum(closes) FROM stats_handled "
            "WHERE guild_id = :g AND button_id = :b AND day >= :d0 AND day < :d1 "
            "GROUP BY user_id",
            params,
        )
        per_kind: dict[Kind, list[tuple[int, int]]] = {"reply": [], "close": []}
        for kind, bucket, count in buckets:
            per_kind[kind].append((int(bucket), int(count)))
        values: dict[Kind, Durations] = {}
        for kind, counts in per_kind.items():
            found = await self._quantiles(kind, counts, guild_id, period, button_id)
            if found is None:
                return None
            values[kind] = found
        return RawStats(
            opened=[(int(r[0]), str(r[1]), int(r[2])) for r in opened],
            open_now=int(open_now[0]),
            first_reply=values["reply"],
            close=values["close"],
            claims={int(r[0]): int(r[1]) for r in handled if r[1] > 0},
            closes={int(r[0]): int(r[2]) for r in handled if r[2] > 0},
        )

    async def _quantiles(
        self,
        kind: Kind,
        counts: list[tuple[int, int]],
        guild_id: int,
        period: Period,
        button_id: str | None,
    ) -> Durations | None:
        """The median and p90 (nearest rank), each read from its bucket; None if the bucket no
        longer held that rank when read."""
        total = sum(c for _, c in counts)
        if total == 0:
            return Durations(0, None, None)
        lowers = await self._bucket_lowers()
        found = []
        for fraction in QUANTILES:
            bucket, offset = locate(counts, nearest_rank(total, fraction))
            value = await self._value_in_bucket(
                kind, lowers, bucket, offset, guild_id, period, button_id
            )
            if value is None:
                return None
            found.append(value)
        median, p90 = found
        return Durations(total, median, p90)

    async def _value_in_bucket(
        self,
        kind: Kind,
        lowers: list[float],
        bucket: int,
        offset: int,
        guild_id: int,
        period: Period,
        button_id: str | None,
    ) -> float | None:
        lower = lowers[bucket] if bucket > 0 else None
        upper = lowers[bucket + 1] if bucket + 1 < len(lowers) else None
        row = await self._db.fetchone(
            bucket_value_sql(kind, lower is not None, upper is not None, button_id is not None),
            {
                "g": guild_id,
                "start": period.start,
                "end": period.end,
                "b": button_id,
                "lo": lower,
                "hi": upper,
                "offset": offset,
            },
        )
        return None if row is None else float(row[0])


def bucket_value_sql(kind: Kind, lower: bool, upper: bool, button: bool) -> str:
    """The duration at rank :offset (0-based) among a period's tickets within [:lo, :hi)."""
    duration = _DURATION[kind]
    where = [f"guild_id = :g AND {_RECORDED[kind]}"]
    if lower:
        where.append(f"{duration} >= :lo")
    if upper:
        where.append(f"{duration} < :hi")
    where.append("opened_at >= :start AND opened_at < :end")
    if button:
        where.append("button_id = :b")
    return (
        f"SELECT {duration} FROM tickets WHERE {' AND '.join(where)} "
        f"ORDER BY {duration} LIMIT 1 OFFSET :offset"
    )
