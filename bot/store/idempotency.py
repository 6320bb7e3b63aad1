"""Idempotency keys and the first answer given to each."""

from __future__ import annotations

import json

from bot.core.idempotency import Claim, StoredAnswer
from bot.store.database import Database
from bot.store.tickets import ensure_server


def _answer(status: int | None, body: str | None, headers: str) -> StoredAnswer | None:
    if status is None or body is None:
        return None
    return StoredAnswer(status, body, json.loads(headers))


class SqliteIdempotencyStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def lookup(
        self, guild_id: int, key: str, since: float
    ) -> tuple[str, StoredAnswer | None] | None:
        row = await self._db.fetchone(
            "SELECT fingerprint, status, body, headers FROM idempotency_keys "
            "WHERE guild_id = ? AND key = ? AND created_at > ?",
            (guild_id, key, since),
        )
        if row is None:
            return None
        return row[0], _answer(row[1], row[2], row[3])

    async def claim(
        self,
        guild_id: int,
        key: str,
        fingerprint: str,
        now: float,
        expired: float,
        abandoned: float,
    ) -> Claim:
        # The key's lock: two processes given the same key at once can't both run it.
        async with self._db.write(f"idempotency:{guild_id}:{key}") as conn:
            await conn.execute("DELETE FROM idempotency_keys WHERE created_at <= ?", (expired,))
            rows = await conn.execute_fetchall(
                "SELECT fingerprint, status, body, headers, created_at FROM idempotency_keys "
                "WHERE guild_id = ? AND key = ?",
                (guild_id, key),
            )
            for stored, status, body, headers, created_at in rows:
                if stored != fingerprint:
                    return Claim("mismatch")
                answer = _answer(status, body, headers)
                if answer is not None:
                    return Claim("replay", answer)
                if created_at > abandoned:
                    return Claim("in_flight")
            await ensure_server(conn, guild_id, now)
            await conn.execute(
                "INSERT INTO idempotency_keys (guild_id, key, fingerprint, created_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (guild_id, key) DO UPDATE SET "
                "fingerprint = excluded.fingerprint, status = NULL, body = NULL, headers = '{}', "
                "created_at = excluded.created_at",
                (guild_id, key, fingerprint, now),
            )
        return Claim("run")

    async def finish(self, guild_id: int, key: str, answer: StoredAnswer) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                "UPDATE idempotency_keys SET status = ?, body = ?, headers = ? "
                "WHERE guild_id = ? AND key = ?",
                (answer.status, answer.body, json.dumps(answer.headers), guild_id, key),
            )

    async def release(self, guild_id: int, key: str) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                "DELETE FROM idempotency_keys WHERE guild_id = ? AND key = ? AND status IS NULL",
                (guild_id, key),
            )
