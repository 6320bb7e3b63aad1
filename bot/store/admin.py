"""API keys (hash and display prefix only) and the blacklist."""

from __future__ import annotations

from bot.core.models import ApiKeyInfo, BlacklistEntry
from bot.store.changes import ChangeWatch, Memo
from bot.store.database import Database
from bot.store.tickets import ensure_server


class SqliteKeyStore:
    def __init__(self, db: Database, watch: ChangeWatch | None = None) -> None:
        self._db = db
        # The API's lookups, known keys and unknown ones, until the database changes.
        self._known: Memo[str, int | None] | None = None if watch is None else Memo(watch)

    async def guild_for_key_hash(self, key_hash: str) -> int | None:
        if self._known is not None:
            found, guild_id, token = await self._known.get(key_hash)
            if found:
                return guild_id
        row = await self._db.fetchone(
            "SELECT guild_id FROM api_keys WHERE key_hash = ?", (key_hash,)
        )
        guild_id = None if row is None else int(row[0])
        if self._known is not None:
            self._known.put(key_hash, guild_id, token)
        return guild_id

    async def key_info(self, guild_id: int) -> ApiKeyInfo | None:
        row = await self._db.fetchone(
            "SELECT guild_id, display_prefix, created_at, created_by FROM api_keys "
            "WHERE guild_id = ?",
            (guild_id,),
        )
        if row is None:
            return None
        return ApiKeyInfo(
            guild_id=row["guild_id"],
            display_prefix=row["display_prefix"],
            created_at=row["created_at"],
            created_by=row["created_by"],
        )

    async def put_key(
        self,
        guild_id: int,
        key_hash: str,
        prefix: str,
        now: float,
        by: int | None,
        *,
        replace: bool,
    ) -> bool:
        conflict = (
            "DO UPDATE SET key_hash = excluded.key_hash, display_prefix = excluded.display_prefix, "
            "created_at = excluded.created_at, created_by = excluded.created_by"
            if replace
            else "DO NOTHING"
        )
        async with self._db.write() as conn:
            await ensure_server(conn, guild_id, now)
            cursor = await conn.execute(
                "INSERT INTO api_keys (guild_id, key_hash, display_prefix, created_at, created_by) "
                f"VALUES (?, ?, ?, ?, ?) ON CONFLICT (guild_id) {conflict}",
                (guild_id, key_hash, prefix, now, by),
            )
            return cursor.rowcount == 1

    async def delete_key(self, guild_id: int) -> bool:
        async with self._db.write() as conn:
            cursor = await conn.execute("DELETE FROM api_keys WHERE guild_id = ?", (guild_id,))
            return cursor.rowcount == 1


class SqliteBlacklistStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self, guild_id: int, user_id: int, now: float, by: int | None, reason: str | None
    ) -> bool:
        async with self._db.write() as conn:
            await ensure_server(conn, guild_id, now)
            cursor = await conn.execute(
                "INSERT OR IGNORE INTO blacklist (guild_id, user_id, added_by, reason, added_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (guild_id, user_id, by, reason, now),
            )
            return cursor.rowcount == 1

    async def remove(self, guild_id: int, user_id: int) -> bool:
        async with self._db.write() as conn:
            cursor = await conn.execute(
                "DELETE FROM blacklist WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
            )
            return cursor.rowcount == 1

    async def entries(self, guild_id: int) -> list[BlacklistEntry]:
        rows = await self._db.fetchall(
            "SELECT guild_id, user_id, added_at, added_by, reason FROM blacklist "
            "WHERE guild_id = ? ORDER BY added_at",
            (guild_id,),
        )
        return [
            BlacklistEntry(
                guild_id=r["guild_id"],
                user_id=r["user_id"],
                added_at=r["added_at"],
                added_by=r["added_by"],
                reason=r["reason"],
            )
            for r in rows
        ]
