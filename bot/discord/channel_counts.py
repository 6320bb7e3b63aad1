"""How many channels each server and each of its categories holds, kept as the gateway tells.

Placing a ticket (bot/core/overflow.py) needs two numbers on every open: the server's channels
(Discord allows 500) and the chosen category's (50). Read from hikari's cache they cost a sorted
copy of every channel of the server (`get_guild_channels_view_for_guild` copies each channel and
its permission overwrites), so an open got slower as the server filled up. These counts are kept
instead from the raw payloads that fill that cache (GUILD_CREATE, CHANNEL_CREATE/UPDATE/DELETE,
GUILD_DELETE), in the same call (bot/discord/raw_events.py): an open reads them in time
proportional to the server's categories, not its channels.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import hikari

from bot.discord.raw_events import tap

CATEGORY = 4  # Discord's channel type


class ServerChannels:
    """One server: each channel's category (None: none, or it is one), the categories, and how
    many channels each category holds."""

    __slots__ = ("categories", "children", "parent_of")

    def __init__(self) -> None:
        self.parent_of: dict[int, int | None] = {}
        self.categories: set[int] = set()
        self.children: Counter[int] = Counter()

    def put(self, channel: Mapping[str, Any]) -> None:
        channel_id = int(channel["id"])
        self.remove(channel_id)
        parent = channel.get("parent_id")
        parent_id = int(parent) if parent is not None else None
        self.parent_of[channel_id] = parent_id
        if channel.get("type") == CATEGORY:
            self.categories.add(channel_id)
        if parent_id is not None:
            self.children[parent_id] += 1

    def remove(self, channel_id: int) -> None:
        if channel_id not in self.parent_of:
            return
        parent_id = self.parent_of.pop(channel_id)
        self.categories.discard(channel_id)
        if parent_id is not None:
            self.children[parent_id] -= 1
            if not self.children[parent_id]:
                del self.children[parent_id]

    @property
    def total(self) -> int:
        return len(self.parent_of)

    def per_category(self) -> dict[int, int]:
        """Each category's channel count (children of a category deleted since don't count)."""
        return {category: self.children[category] for category in self.categories}


class ChannelCounts:
    """Every server the gateway has sent, as hikari's guild channel cache holds it."""

    def __init__(self) -> None:
        self.servers: dict[int, ServerChannels] = {}

    def install(self, bot: hikari.GatewayBot) -> None:
        tap(bot, "guild_create", self._guild_create)
        tap(bot, "guild_delete", self._guild_delete)
        tap(bot, "channel_create", self._channel_put)
        tap(bot, "channel_update", self._channel_put)
        tap(bot, "channel_delete", self._channel_delete)

    def get(self, guild_id: int) -> ServerChannels | None:
        return self.servers.get(guild_id)

    def _guild_create(self, _: hikari.api.GatewayShard, payload: Mapping[str, Any]) -> None:
        if payload.get("unavailable"):
            return
        server = ServerChannels()  # a (re)connection lists every channel again
        for channel in payload.get("channels") or ():
            server.put(channel)
        self.servers[int(payload["id"])] = server

    def _guild_delete(self, _: hikari.api.GatewayShard, payload: Mapping[str, Any]) -> None:
        if not payload.get("unavailable"):  # an outage keeps the server, as hikari's cache does
            self.servers.pop(int(payload["id"]), None)

    def _channel_put(self, _: hikari.api.GatewayShard, payload: Mapping[str, Any]) -> None:
        if "guild_id" in payload and (server := self.servers.get(int(payload["guild_id"]))):
            server.put(payload)

    def _channel_delete(self, _: hikari.api.GatewayShard, payload: Mapping[str, Any]) -> None:
        if "guild_id" in payload and (server := self.servers.get(int(payload["guild_id"]))):
            server.remove(int(payload["id"]))
