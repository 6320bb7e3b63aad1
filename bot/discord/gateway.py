"""The hikari side of the process: the gateway bot and its lightbulb client, started as one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aiohttp
import hikari
import lightbulb

from bot.config import DiscordConfig
from bot.core.lifecycle import LifecycleService
from bot.core.tickets import TicketService
from bot.discord import admin, panel_commands, settings_commands, ticket_commands
from bot.discord.channel_counts import ChannelCounts
from bot.discord.errors import explain_refusal
from bot.discord.members import MemberAwareBot, MemberIndex
from bot.discord.port import HikariDiscord
from bot.discord.router import InteractionRouter
from bot.errors import StartupError

# One lightbulb Loader per command module.
LOADERS = (admin.loader, panel_commands.loader, settings_commands.loader, ticket_commands.loader)

_LOG = logging.getLogger("rimpllee.discord")

CONNECT_TIMEOUT_S = 60.0
GUILDS_TIMEOUT_S = 30.0
# What the bot reads from hikari's cache, and nothing else: servers, their channels and threads
# (tickets in threads mode), roles and custom emojis (a panel button's emoji is checked against
# them), and the bot's own user. Members live in our compact index (bot/discord/members.py);
# messages, presences, voice states, invites, stickers and DM channels are never read, so never
# kept.
CACHE_COMPONENTS = (
    hikari.api.CacheComponents.GUILDS
    | hikari.api.CacheComponents.GUILD_CHANNELS
    | hikari.api.CacheComponents.GUILD_THREADS
    | hikari.api.CacheComponents.ROLES
    | hikari.api.CacheComponents.EMOJIS
    | hikari.api.CacheComponents.ME
)


class DiscordGateway:
    """Owns the `GatewayBot` and the slash-command client; start/stop in the right order.

    Starting checks the token and the REST URL first with a single request and no retries, so a
    wrong token or an unreachable URL fails in one clear line instead of a retry loop.
    """

    def __init__(
        self,
        config: DiscordConfig,
        *,
        max_retries: int = 3,
        cache_settings: hikari.impl.CacheSettings | None = None,
    ) -> None:
        """`cache_settings` is for the benchmark's baselines (hikari's defaults, or its member
        cache on)."""
        self._config = config
        if cache_settings is None:
            cache_settings = hikari.impl.CacheSettings(components=CACHE_COMPONENTS)
        self.bot = MemberAwareBot(
            config.token,
            intents=config.intents,
            rest_url=config.rest_url,
            banner=None,
            logs=None,
            max_retries=max_retries,
            cache_settings=cache_settings,
        )
        self.members: MemberIndex = self.bot.members
        if hikari.api.CacheComponents.MEMBERS not in cache_settings.components:
            self.members.install()
        self.client: lightbulb.GatewayEnabledClient = lightbulb.client_from_app(self.bot)
        self.shards = config.shards
        self.channels = ChannelCounts()
        self.channels.install(self.bot)
        self.port = HikariDiscord(
            self.bot, self.members, self.channels, cdn_url=config.cdn_url, shards=self.shards
        )
        self._client_error: Exception | None = None
        self.bot.subscribe(hikari.StartingEvent, self._start_client)
        self.bot.subscribe(hikari.StoppingEvent, self._stop_client)
        self._pending_guilds: set[int] = set()
        self._guilds_arrived = asyncio.Event()
        self.bot.subscribe(hikari.ShardReadyEvent, self._on_shard_ready)
        self.bot.subscribe(hikari.GuildAvailableEvent, self._on_guild_available)

    @property
    def connected(self) -> bool:
        bot = self.bot
        return bot.is_alive and bool(bot.shards) and all(s.is_alive for s in bot.shards.values())

    async def install_commands(self, *services: object) -> None:
        """The slash commands, and the services lightbulb injects into them (by their type)."""
        registry = self.client.di.registry_for(lightbulb.di.Contexts.DEFAULT)
        for service in services:
            registry.register_value(type(service), service)
        self.client.error_handler(explain_refusal)
        for loader in LOADERS:
            await loader.add_to_client(self.client)

    def route(self, router: InteractionRouter, lifecycle: LifecycleService) -> None:
        """Buttons, forms and vanished ticket channels: listened for before connecting."""
        self.bot.subscribe(hikari.InteractionCreateEvent, router.on_interaction)

        async def channel_deleted(event: hikari.GuildChannelDeleteEvent) -> None:
            await lifecycle.channel_gone(int(event.channel_id))

        async def guild_available(event: hikari.GuildAvailableEvent) -> None:
            await lifecycle.sweep(int(event.guild_id))

        async def thread_deleted(event: hikari.GuildThreadDeleteEvent) -> None:
            await lifecycle.channel_gone(int(event.thread_id))

        self.bot.subscribe(hikari.GuildChannelDeleteEvent, channel_deleted)
        self.bot.subscribe(hikari.GuildThreadDeleteEvent, thread_deleted)
        self.bot.subscribe(hikari.GuildAvailableEvent, guild_available)

    def watch_ticket_channels(self, tickets: TicketService) -> None:
        """A channel that shows up for an open that failed (a create Discord finished after the
        bot gave up) is deleted when it appears, and on each server's arrival (a sweep)."""

        async def channel_created(event: hikari.GuildChannelCreateEvent) -> None:
            await tickets.sweep(int(event.guild_id), only=int(event.channel_id))

        async def guild_available(event: hikari.GuildAvailableEvent) -> None:
            await tickets.sweep(int(event.guild_id))

        async def thread_created(event: hikari.GuildThreadCreateEvent) -> None:
            await tickets.sweep(int(event.guild_id), only=int(event.thread_id))

        self.bot.subscribe(hikari.GuildChannelCreateEvent, channel_created)
        self.bot.subscribe(hikari.GuildThreadCreateEvent, thread_created)
        self.bot.subscribe(hikari.GuildAvailableEvent, guild_available)

    def guild_ids(self) -> list[int]:
        return [int(g) for g in self.bot.cache.get_guilds_view()]

    async def start(self) -> None:
        if hikari.Intents.MESSAGE_CONTENT not in self._config.intents:
            _LOG.warning(
                "the MESSAGE_CONTENT intent is off: transcripts will not contain message text. "
                "Enable it in the Developer Portal and in discord.intents"
            )
        if hikari.Intents.GUILD_MEMBERS not in self._config.intents:
            _LOG.warning(
                "the GUILD_MEMBERS intent is off: every ticket costs one more Discord call "
                "to check that the user is a member"
            )
        await self._check_credentials()
        url = self._config.rest_url
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                await self.bot.start(check_for_updates=False, **self._shard_options())
        except TimeoutError:
            raise StartupError(
                f"Discord at {url} did not complete the gateway connection within "
                f"{CONNECT_TIMEOUT_S:.0f} s"
            ) from None
        except (aiohttp.ClientError, OSError, hikari.errors.HTTPError) as exc:
            raise StartupError(f"cannot connect to Discord at {url}: {exc}") from None
        if self._client_error is not None:
            raise StartupError(
                f"could not register slash commands with Discord at {url}: {self._client_error}"
            )
        await self._servers_arrived()

    def _shard_options(self) -> dict[str, Any]:
        """hikari's `shard_ids`/`shard_count`: none (as Discord recommends, every shard here),
        or this process's share of the configured total."""
        shards = self.shards
        if shards.count <= 0:
            return {}
        ids = sorted(shards.ids) if shards.ids else list(range(shards.count))
        return {"shard_ids": ids, "shard_count": shards.count}

    async def _servers_arrived(self) -> None:
        """Wait (briefly) until every server from READY has arrived and filled the cache, so
        membership checks don't refuse real members while the bot is still starting."""
        try:
            async with asyncio.timeout(GUILDS_TIMEOUT_S):
                await self._guilds_arrived.wait()
        except TimeoutError:
            _LOG.warning(
                "%d server(s) did not arrive within %.0f s; serving anyway",
                len(self._pending_guilds),
                GUILDS_TIMEOUT_S,
            )

    async def _on_shard_ready(self, event: hikari.ShardReadyEvent) -> None:
        self._pending_guilds.update(int(g) for g in event.unavailable_guilds)
        self._check_arrived()

    async def _on_guild_available(self, event: hikari.GuildAvailableEvent) -> None:
        self._pending_guilds.discard(int(event.guild_id))
        self._check_arrived()

    def _check_arrived(self) -> None:
        if not self._pending_guilds:
            self._guilds_arrived.set()

    async def close(self) -> None:
        await self.members.close()
        if self.bot.is_alive:
            with contextlib.suppress(hikari.ComponentStateConflictError):
                await self.bot.close()

    async def _check_credentials(self) -> None:
        url = self._config.rest_url
        rest = hikari.RESTApp(url=url, max_retries=0)
        await rest.start()
        try:
            async with rest.acquire(self._config.token, hikari.TokenType.BOT) as client:
                await client.fetch_my_user()
        except hikari.UnauthorizedError:
            raise StartupError(
                f"Discord at {url} rejected the bot token (401 Unauthorized): "
                "check discord.token or RIMPLLEE_TOKEN"
            ) from None
        except (aiohttp.ClientError, OSError, hikari.errors.HTTPError) as exc:
            raise StartupError(f"cannot reach Discord at {url}: {exc}") from None
        finally:
            await rest.close()

    async def _start_client(self, _: hikari.StartingEvent) -> None:
        # hikari only logs a failing listener; remember it so start() can fail loudly.
        try:
            await self.client.start()
        except Exception as exc:
            self._client_error = exc

    async def _stop_client(self, _: hikari.StoppingEvent) -> None:
        if self._client_error is None:
            await self.client.stop()
