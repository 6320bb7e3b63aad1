"""The dashboard's tables: login states, sessions, and the API's request log."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.integrations import ApiRequest
from bot.core.sessions import Session
from bot.store.database import Database
from bot.store.tickets import ensure_server


class SqliteSessionStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def put_state(self, state_hash: str, next_path: str, now: float) -> None:
        async with self._db.write() as conn:
            # Abandoned logins don't pile up: anything older than a day goes with each new one.
            await conn.execute("DELETE FROM login_states WHERE created_at < ?", (now - 86400,))
            await conn.execute(
                "INSERT INTO login_states (state_hash, next_path, created_at) VALUES (?, ?, ?)",
                (state_hash, next_path, now),
            )

    async def take_state(self, state_hash: str, not_before: float) -> str | None:
        async with self._db.write() as conn:
            cursor = await conn.execute(
                "DELETE FROM login_states WHERE state_hash = ? RETURNING next_path, created_at",
                (state_hash,),
            )
            row = await cursor.fetchone()
        if row is None or row[1] < not_before:
            return None
        return str(row[0])

    async def put_session(
        self,
        session_hash: str,
        user_id: int,
        username: str,
        csrf_token: str,
        now: float,
        expires_at: float,
    ) -> None:
        async with self._db.write() as conn:
            await conn.execute("DELETE FROM web_sessions WHERE expires_at < ?", (now,))
            await conn.execute(
                "INSERT INTO web_sessions "
                "(session_hash, user_id, username, csrf_token, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (session_hash, user_id, username, csrf_token, now, expires_at),
            )

    async def session(self, session_hash: str, now: float) -> Session | None:
        row = await self._db.fetchone(
            "SELECT user_id, username, csrf_token, expires_at FROM web_sessions "
            "WHERE session_hash = ? AND expires_at > ?",
            (session_hash, now),
        )
        if row is None:
            return None
        return Session(
            user_id=row["user_id"],
            username=row["username"],
            csrf_token=row["csrf_token"],
            expires_at=row["expires_at"],
        )

    async def delete_session(self, session_hash: str) -> None:
        async with self._db.write() as conn:
            await conn.execute("DELETE FROM web_sessions WHERE session_hash = ?", (session_hash,))


class SqliteApiRequestStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, requests: Sequence[tuple[int, ApiRequest]], keep: int) -> None:
        async with self._db.write() as conn:
            for guild_id in {g for g, _ in requests}:
                await ensure_server(conn, guild_id, requests[0][1].at)
            await conn.executemany(
                "INSERT INTO api_requests "
                "(guild_id, at, status, error_code, user_id, panel_id, button_id, http_request_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        g,
                        r.at,
                        r.status,
                        r.error_code,
                        r.user_id,
                        r.panel_id,
                        r.button_id,
                        r.request_id,
                    )
                    for g, r in requests
                ],
            )
            # Keep each server's newest `keep` (the index makes this a short range scan).
            await conn.executemany(
                "DELETE FROM api_requests WHERE guild_id = ? AND request_id < ("
                "SELECT request_id FROM api_requests WHERE guild_id = ? "
                "ORDER BY request_id DESC LIMIT 1 OFFSET ?)",
                [(g, g, keep - 1) for g in {g for g, _ in requests}],
            )

    async def recent(self, guild_id: int, limit: int) -> list[ApiRequest]:
        rows = await self._db.fetchall(
            "SELECT at, status, error_code, user_id, panel_id, button_id, http_request_id "
            "FROM api_requests "
            "WHERE guild_id = ? ORDER BY request_id DESC LIMIT ?",
            (guild_id, limit),
        )
        return [
            ApiRequest(
                at=r["at"],
                status=r["status"],
                error_code=r["error_code"],
                user_id=r["user_id"],
                panel_id=r["panel_id"],
                button_id=r["button_id"],
                request_id=r["http_request_id"],
            )
            for r in rows
        ]

    async def last_at(self, guild_id: int, since: float) -> float | None:
        row = await self._db.fetchone(
            "SELECT at FROM api_requests WHERE guild_id = ? AND at >= ? "
            "ORDER BY request_id DESC LIMIT 1",
            (guild_id, since),
        )
        return None if row is None else float(row[0])
