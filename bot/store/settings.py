"""Per-server settings (log channel, what closing does, …) with their defaults."""

from __future__ import annotations

import dataclasses
from typing import Any

from bot.core.models import ServerSettings
from bot.store.database import Database
from bot.store.tickets import ensure_server

_BOOLEANS = ("opener_can_close", "dm_transcript", "claim_locks", "feedback")
_COLUMNS = tuple(f.name for f in dataclasses.fields(ServerSettings) if f.name != "guild_id")


class SqliteSettingsStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, guild_id: int) -> ServerSettings:
        row = await self._db.fetchone(
            f"SELECT {', '.join(_COLUMNS)} FROM servers WHERE guild_id = ?", (guild_id,)
        )
        if row is None:
            return ServerSettings(guild_id)
        values: dict[str, Any] = {c: row[c] for c in _COLUMNS}
        for name in _BOOLEANS:
            values[name] = bool(values[name])
        return ServerSettings(guild_id, **values)

    async def update(self, guild_id: int, now: float, **changes: Any) -> ServerSettings:
        unknown = set(changes) - set(_COLUMNS)
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        async with self._db.write() as conn:
            await ensure_server(conn, guild_id, now)
            for name, value in changes.items():
                stored = int(value) if name in _BOOLEANS else value
                await conn.execute(
                    f"UPDATE servers SET {name} = ? WHERE guild_id = ?", (stored, guild_id)
                )
        return await self.get(guild_id)
