"""Where a ticket channel goes: never "category full".

A button has an ordered list of categories: its own, then its overflow ones. The first with room
(Discord allows 50 channels a category) takes the ticket; when all are full the bot creates the
next one itself ("Tickets 2", with the first one's permission overwrites) and adds it to the
button's list. Channel counts are kept by the Discord adapter from the gateway's events (plus
the opens this process has in flight), so the common case costs no REST call. Near Discord's 500
channels per server the open is refused with a reason naming the cause, and the log channel is
told once.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator
from typing import Protocol

from bot.core.errors import DiscordFailure
from bot.core.models import Button
from bot.core.ports import CategoryLoad

_LOG = logging.getLogger("rimpllee.overflow")

CHANNELS_PER_CATEGORY = 50
CHANNELS_PER_SERVER = 500


class PlacementPort(Protocol):
    async def category_load(self, guild_id: int) -> CategoryLoad | None: ...

    def category_name(self, category_id: int) -> str | None: ...

    async def create_category_like(self, guild_id: int, name: str, like_id: int) -> int:
        """A new category with `like_id`'s permission overwrites."""
        ...


class OverflowStore(Protocol):
    async def add_overflow_category(self, button_id: str, category_id: int) -> None: ...


class EventSink(Protocol):
    async def post(self, guild_id: int, text: str) -> None: ...


def server_full(total: int) -> DiscordFailure:
    return DiscordFailure(
        f"the server has {total} channels and Discord allows {CHANNELS_PER_SERVER}: "
        "delete old channels (or archived tickets) so new tickets fit"
    )


class Placement:
    def __init__(
        self, discord: PlacementPort, store: OverflowStore, events: EventSink | None = None
    ) -> None:
        self._discord = discord
        self._store = store
        self._events = events
        self._pending: Counter[int] = Counter()  # channels being created, per category
        self._pending_total: Counter[int] = Counter()  # per server
        self._created: dict[str, list[int]] = {}  # categories made for a button, not yet reloaded
        self._told: set[int] = set()  # servers whose log channel heard about the 500 limit

    @contextlib.asynccontextmanager
    async def place(self, guild_id: int, button: Button) -> AsyncIterator[int | None]:
        """The category for the next channel of `button` (None: no category), held as taken
        until the create is done, so parallel opens spread instead of overfilling one."""
        category_id = await self._choose(guild_id, button)
        self._pending_total[guild_id] += 1
        if category_id is not None:
            self._pending[category_id] += 1
        try:
            yield category_id
        finally:
            self._pending_total[guild_id] -= 1
            if category_id is not None:
                self._pending[category_id] -= 1

    async def _choose(self, guild_id: int, button: Button) -> int | None:
        load = await self._discord.category_load(guild_id)
        if load is None:  # not cached: let Discord judge
            return button.category_id
        total = load.total + self._pending_total[guild_id]
        if total >= CHANNELS_PER_SERVER:
            await self._tell(guild_id, total)
            raise server_full(total)
        self._told.discard(guild_id)
        if button.category_id is None:
            return None
        order = [button.category_id, *button.overflow_category_ids]
        created = self._created.get(button.button_id, [])
        order += [c for c in created if c not in order]
        for category_id in order:
            count = load.per_category.get(category_id)
            if count is None and category_id not in created:
                continue  # deleted: skip it
            # (one the bot just created may not be in the cache yet: it is empty)
            if (count or 0) + self._pending[category_id] < CHANNELS_PER_CATEGORY:
                return category_id
        if total + 2 > CHANNELS_PER_SERVER:  # the category and the channel
            await self._tell(guild_id, total)
            raise server_full(total)
        return await self._new_category(guild_id, button, order)

    async def _new_category(self, guild_id: int, button: Button, order: list[int]) -> int:
        assert button.category_id is not None
        first = self._discord.category_name(button.category_id) or "Tickets"
        name = f"{first} {len(order) + 1}"
        category_id = await self._discord.create_category_like(guild_id, name, button.category_id)
        self._created.setdefault(button.button_id, []).append(category_id)
        await self._store.add_overflow_category(button.button_id, category_id)
        _LOG.info(
            "server %d: every category of button %s was full: created %r",
            guild_id,
            button.button_id,
            name,
        )
        if self._events is not None:
            await self._events.post(
                guild_id,
                f"📁 Every ticket category of “{button.label}” was full (50 channels each): "
                f"created <#{category_id}> for new tickets.",
            )
        return category_id

    async def _tell(self, guild_id: int, total: int) -> None:
        if guild_id in self._told or self._events is None:
            return
        self._told.add(guild_id)
        await self._events.post(
            guild_id,
            f"⚠️ New tickets are refused: this server has {total} channels and Discord allows "
            f"{CHANNELS_PER_SERVER}. Delete old channels (or archived tickets) to open more.",
        )
