"""The cleanup outbox: channels a failed open left in Discord, kept until their delete succeeds."""

from __future__ import annotations

from bot.core.ports import ChannelRef, Cleanup
from bot.core.shards import Shards
from bot.store.database import Connection, Database
from bot.store.shards import on_shards


async def queue_cleanup(conn: Connection, channel: ChannelRef, now: float) -> None:
    """Inside the caller's transaction; a channel already queued keeps its schedule."""
    await conn.execute(
        "INSERT OR IGNORE INTO channel_cleanups (channel_id, guild_id, next_at, created_at) "
        "VALUES (?, ?, ?, ?)",
        (channel.channel_id, channel.guild_id, now, now),
    )


class SqliteCleanupStore:
    """`shards`: only channels of servers on these shards are due here (None: every server)."""

    def __init__(self, db: Database, shards: Shards | None = None) -> None:
        self._db = db
        self._mine = on_shards("guild_id", shards)

    async def add(self, channel: ChannelRef, now: float) -> None:
        async with self._db.write() as conn:
            await queue_cleanup(conn, channel, now)

    async def due(self, now: float, limit: int = 50) -> list[Cleanup]:
        if self._db.engine == "postgres":
            return await self._claim_due(now, limit)
        return await self._read_due(now, limit)

    async def _read_due(self, now: float, limit: int) -> list[Cleanup]:
        rows = await self._db.fetchall(
            "SELECT channel_id, guild_id, attempts FROM channel_cleanups WHERE next_at <= ?"
            + self._mine
            + " ORDER BY next_at LIMIT ?",
            (now, limit),
        )
        return [Cleanup(ChannelRef(r["guild_id"], r["channel_id"]), r["attempts"]) for r in rows]

    async def _claim_due(self, now: float, limit: int) -> list[Cleanup]:
        """PostgreSQL, where several processes run cleanups: a due one is worked by the process
        that claims it (`Database.claim`, which PostgreSQL drops with the process), after
        checking it is still due under the claim; recording the attempt releases it."""
        taken: list[Cleanup] = []
        for cleanup in await self._read_due(now, 10 * limit):
            name = f"cleanup:{cleanup.channel.channel_id}"
            if len(taken) == limit or not await self._db.claim(name):
                continue
            still_due = await self._db.fetchone(
                "SELECT 1 FROM channel_cleanups WHERE channel_id = ? AND next_at <= ?",
                (cleanup.channel.channel_id, now),
            )
            if still_due is None:
                await self._db.release(name)
                continue
            taken.append(cleanup)
        return taken

    async def next_at(self) -> float | None:
        row = await self._db.fetchone(
            "SELECT min(next_at) FROM channel_cleanups WHERE TRUE" + self._mine
        )
        return None if row is None else row[0]

    async def done(self, channel_id: int) -> None:
        async with self._db.write() as conn:
            await conn.execute("DELETE FROM channel_cleanups WHERE channel_id = ?", (channel_id,))
        await self._db.release(f"cleanup:{channel_id}")  # after the commit: it is recorded

    async def retry_at(self, channel_id: int, next_at: float, error: str) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                "UPDATE channel_cleanups SET attempts = attempts + 1, next_at = ?, "
                "last_error = ? WHERE channel_id = ?",
                (next_at, error, channel_id),
            )
        await self._db.release(f"cleanup:{channel_id}")

    async def pending(self) -> list[Cleanup]:
        return await self._read_due(float("inf"), limit=2**62)
