"""What server admins manage: the server's API key and its blacklist.

The slash commands and the `rimpllee apikey|blacklist` command line both call these.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from bot.core.errors import AdminError, InvalidApiKey
from bot.core.keys import display_prefix, generate_key, hash_key, looks_like_key
from bot.core.limits import Clock
from bot.core.models import ApiKeyInfo, BlacklistEntry, ServerSettings
from bot.core.numbers import OPEN_PER_MEMBER_MAX
from bot.core.ports import BlacklistStore, KeyStore


class Announcer(Protocol):
    """The server's log channel (`EventLog`); the command line has none."""

    async def post(self, guild_id: int, text: str) -> None: ...


class ApiKeys:
    def __init__(
        self, store: KeyStore, clock: Clock = time.time, events: Announcer | None = None
    ) -> None:
        self._store = store
        self._clock = clock
        self._events = events

    async def _announce(self, guild_id: int, what: str, by: int | None) -> None:
        if self._events is not None:
            who = f" by <@{by}>" if by else ""
            await self._events.post(guild_id, f"🔑 API key {what}{who}")

    async def generate(self, guild_id: int, by: int | None = None) -> str:
        """A new key for a server that has none; shown once, never stored."""
        key = generate_key()
        stored = await self._store.put_key(
            guild_id, hash_key(key), display_prefix(key), self._clock(), by, replace=False
        )
        if not stored:
            raise AdminError(
                "this server already has an API key; regenerate it to get a new one "
                "(the old key stops working at once)"
            )
        await self._announce(guild_id, f"generated (`{display_prefix(key)}`)", by)
        return key

    async def regenerate(self, guild_id: int, by: int | None = None) -> str:
        """Replace the key; the old one is refused from the next request on."""
        key = generate_key()
        await self._store.put_key(
            guild_id, hash_key(key), display_prefix(key), self._clock(), by, replace=True
        )
        await self._announce(
            guild_id, f"regenerated (`{display_prefix(key)}`; the old key no longer works)", by
        )
        return key

    async def revoke(self, guild_id: int, by: int | None = None) -> None:
        if not await self._store.delete_key(guild_id):
            raise AdminError("this server has no API key to revoke")
        await self._announce(guild_id, "revoked: API access is off", by)

    async def status(self, guild_id: int) -> ApiKeyInfo | None:
        return await self._store.key_info(guild_id)

    async def authenticate(self, key: str) -> int:
        """The server a key belongs to; `InvalidApiKey` for anything else.

        Keys are looked up by their SHA-256, so the time a lookup takes depends on the hash, not
        on how many leading characters of a guessed key were right: nothing leaks by timing.
        """
        if not looks_like_key(key):
            raise InvalidApiKey
        guild_id = await self._store.guild_for_key_hash(hash_key(key))
        if guild_id is None:
            raise InvalidApiKey
        return guild_id


class Blacklist:
    def __init__(self, store: BlacklistStore, clock: Clock = time.time) -> None:
        self._store = store
        self._clock = clock

    async def add(
        self, guild_id: int, user_id: int, by: int | None = None, reason: str | None = None
    ) -> None:
        if not await self._store.add(guild_id, user_id, self._clock(), by, reason):
            raise AdminError(f"user {user_id} is already blacklisted")

    async def remove(self, guild_id: int, user_id: int) -> None:
        if not await self._store.remove(guild_id, user_id):
            raise AdminError(f"user {user_id} is not blacklisted")

    async def entries(self, guild_id: int) -> list[BlacklistEntry]:
        return await self._store.entries(guild_id)


class SettingsWriter(Protocol):
    async def get(self, guild_id: int) -> ServerSettings: ...

    async def update(self, guild_id: int, now: float, **changes: Any) -> ServerSettings: ...


class Settings:
    """Per-server settings as admins change them (`/settings …`)."""

    def __init__(self, store: SettingsWriter, clock: Clock = time.time) -> None:
        self._store = store
        self._clock = clock

    async def get(self, guild_id: int) -> ServerSettings:
        return await self._store.get(guild_id)

    async def change(self, guild_id: int, **changes: Any) -> ServerSettings:
        if changes.get("close_mode", "delete") not in ("delete", "archive"):
            raise AdminError("close mode must be 'delete' or 'archive'")
        if (
            changes.get("user_max_open") is not None
            and not 1 <= changes["user_max_open"] <= OPEN_PER_MEMBER_MAX
        ):
            raise AdminError(f"the per-member limit must be between 1 and {OPEN_PER_MEMBER_MAX}")
        if changes.get("opener_left", "keep") not in ("keep", "close"):
            raise AdminError("what happens when the opener leaves must be 'keep' or 'close'")
        for name in ("inactivity_warn_hours", "inactivity_close_hours"):
            hours = changes.get(name)
            if hours is not None and not 0 < hours <= 24 * 365:
                raise AdminError("inactivity hours must be more than 0 and at most a year")
        return await self._store.update(guild_id, self._clock(), **changes)
