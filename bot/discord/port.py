"""The domain's Discord, implemented with hikari: the cache and the member index for reads, REST
for the two writes.

Every hikari failure leaves here as a `DiscordFailure` whose reason tells an admin what to fix.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

import hikari

from bot.core.errors import DiscordFailure
from bot.core.lifecycle import Target, TranscriptFile
from bot.core.models import Panel
from bot.core.ports import (
    CachedChannel,
    CachedThread,
    CategoryLoad,
    ChannelSpec,
    MemberInfo,
    Perm,
    PromptButton,
    ThreadSpec,
    Welcome,
)
from bot.core.shards import EVERY_SHARD, Shards
from bot.core.transcripts import Names, TranscriptAuthor, TranscriptMessage
from bot.discord.channel_counts import ChannelCounts
from bot.discord.members import MemberIndex
from bot.discord.render import close_custom_id, panel_embed, panel_rows
from bot.discord.transcript_messages import download, transcript_message

_LOG = logging.getLogger("rimpllee.discord")

T = TypeVar("T")

CALL_TIMEOUT_S = 15.0
LATE_CREATE_CHECKS = 5
LATE_CREATE_INTERVAL_S = 0.5
DISCORD_CDN_URL = hikari.urls.CDN_URL
UNBOUNDED_S = 24 * 3600.0
# Servers on another process's shards: members confirmed over REST are believed this long.
FOREIGN_MEMBER_TTL_S = 60.0
FOREIGN_MEMBER_MAX = 10_000
FOREIGN_SERVER_MAX = 1_000
UNKNOWN_GUILD = 10004  # Discord's JSON error codes
UNKNOWN_CHANNEL = 10003
# Discord's "Unknown …" codes (10001 Unknown Account … 10070-odd): only these say a thing is gone.
# A 404 without one (a proxy's, or a route Discord doesn't know) proves nothing.
_UNKNOWN_ENTITY = 10001
THREAD_ARCHIVE_MINUTES = 10080  # a week: the longest Discord keeps a quiet thread active
WELCOME_SEARCH_LIMIT = 50  # members may write before a crashed open's welcome is recovered
_BUTTON_STYLES: dict[
    str,
    Literal[
        hikari.ButtonStyle.PRIMARY,
        hikari.ButtonStyle.SECONDARY,
        hikari.ButtonStyle.SUCCESS,
        hikari.ButtonStyle.DANGER,
    ],
] = {
    "primary": hikari.ButtonStyle.PRIMARY,
    "secondary": hikari.ButtonStyle.SECONDARY,
    "success": hikari.ButtonStyle.SUCCESS,
    "danger": hikari.ButtonStyle.DANGER,
}
_OVERWRITE_TYPES = {
    "role": hikari.PermissionOverwriteType.ROLE,
    "member": hikari.PermissionOverwriteType.MEMBER,
}
GRANTED = ", ".join(
    p.name.replace("_", " ").title()
    for p in (
        Perm.VIEW_CHANNEL,
        Perm.SEND_MESSAGES,
        Perm.READ_MESSAGE_HISTORY,
        Perm.ATTACH_FILES,
        Perm.EMBED_LINKS,
        Perm.MANAGE_MESSAGES,
    )
    if p.name
)


class RecentMembers:
    """Members Discord confirmed over REST for servers on another process's shards, kept for
    `ttl` seconds so a burst of opens (and their refusals) costs one lookup per member, not one
    per request. Only confirmations are kept: someone who just joined is never refused from
    memory. A member who left is believed for at most `ttl` more seconds."""

    def __init__(
        self,
        ttl: float = FOREIGN_MEMBER_TTL_S,
        max_entries: int = FOREIGN_MEMBER_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[tuple[int, int], tuple[float, MemberInfo]] = OrderedDict()

    def get(self, guild_id: int, user_id: int) -> MemberInfo | None:
        found = self._entries.get((guild_id, user_id))
        if found is None:
            return None
        at, member = found
        if self._clock() - at > self._ttl:
            del self._entries[(guild_id, user_id)]
            return None
        return member

    def put(self, guild_id: int, member: MemberInfo) -> None:
        key = (guild_id, member.user_id)
        self._entries.pop(key, None)
        self._entries[key] = (self._clock(), member)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)


@dataclass(frozen=True, slots=True)
class ForeignServer:
    """A server on another process's shards as REST told it, for a transcript's names."""

    at: float
    name: str
    roles: dict[int, str]
    channels: dict[int, str]
    users: dict[int, str]


class HikariDiscord:
    def __init__(
        self,
        bot: hikari.GatewayBot,
        members: MemberIndex,
        channels: ChannelCounts,
        *,
        timeout: float = CALL_TIMEOUT_S,
        cdn_url: str = DISCORD_CDN_URL,
        shards: Shards = EVERY_SHARD,
    ) -> None:
        self._bot = bot
        self._members = members
        self._channels = channels
        self.timeout = timeout
        self._cdn_url = cdn_url.rstrip("/")
        self.shards = shards
        self.foreign_members = RecentMembers()
        self._foreign_servers: OrderedDict[int, ForeignServer] = OrderedDict()

    def serves(self, guild_id: int) -> bool:
        """Whether the server is on one of this process's shards (its cache holds it)."""
        return self.shards.owns(guild_id)

    @property
    def bot_user_id(self) -> int:
        me = self._bot.get_me()
        if me is None:
            raise DiscordFailure("the bot is not connected to Discord yet")
        return int(me.id)

    async def find_member(self, guild_id: int, user_id: int) -> MemberInfo | None:
        """From the member index once the server's members are all known (with the members
        intent); until then, or without the intent, a miss is settled by one REST lookup. A
        server on another process's shards is asked over REST (see `_foreign_member`)."""
        index = self._members
        if index.tracks_membership:  # the usual answer first: a member of a server it indexes
            username = index.username(guild_id, user_id)  # (only its own shards' servers)
            if username is not None:
                return MemberInfo(user_id=user_id, username=username)
        if not self.serves(guild_id):
            return await self._foreign_member(guild_id, user_id)
        if not index.has_server(guild_id) and self._bot.cache.get_guild(guild_id) is None:
            raise DiscordFailure(
                f"the bot is not in server {guild_id} (it was removed, or the server is "
                "unavailable): invite it again"
            )
        if index.tracks_membership and index.is_known(guild_id):
            return None  # every member is known, and this user is not one
        try:
            member = await self._call(
                self._bot.rest.fetch_member(guild_id, user_id), "look up the member", None
            )
        except DiscordFailure as exc:
            if isinstance(exc.__cause__, hikari.NotFoundError):
                return None
            raise
        index.remember(guild_id, member)
        return MemberInfo(user_id=int(member.id), username=member.username)

    def departures(self, guild_id: int) -> int | None:
        index = self._members
        if not index.tracks_membership or not self.serves(guild_id):
            return None
        if not index.has_server(guild_id):  # unavailable, or not loaded yet: members by REST
            return None
        return index.departures(guild_id)

    async def _foreign_member(self, guild_id: int, user_id: int) -> MemberInfo | None:
        """One REST lookup (or a confirmation of the last minute): Discord's 10004 Unknown Guild
        means the bot is not in the server, 10007 Unknown Member that the user is not."""
        member = self.foreign_members.get(guild_id, user_id)
        if member is not None:
            return member
        try:
            found = await self._call(
                self._bot.rest.fetch_member(guild_id, user_id), "look up the member", None
            )
        except DiscordFailure as exc:
            cause = exc.__cause__
            if isinstance(cause, hikari.NotFoundError) and cause.code == UNKNOWN_GUILD:
                raise DiscordFailure(
                    f"the bot is not in server {guild_id} (it was removed, or the server is "
                    "unavailable): invite it again"
                ) from exc
            if isinstance(cause, hikari.NotFoundError):
                return None
            raise
        member = MemberInfo(user_id=int(found.id), username=found.username)
        self.foreign_members.put(guild_id, member)
        return member

    async def create_ticket_channel(self, spec: ChannelSpec) -> int:
        overwrites = [
            hikari.PermissionOverwrite(
                id=o.target_id,
                type=hikari.PermissionOverwriteType.ROLE
                if o.target == "role"
                else hikari.PermissionOverwriteType.MEMBER,
                allow=hikari.Permissions(int(o.allow)),
                deny=hikari.Permissions(int(o.deny)),
            )
            for o in spec.overwrites
        ]
        channel = await self._call(
            self._bot.rest.create_guild_text_channel(
                spec.guild_id,
                spec.name,
                category=spec.category_id if spec.category_id else hikari.UNDEFINED,
                permission_overwrites=overwrites,
                topic=spec.topic,
            ),
            "create the ticket channel",
            spec.category_id,
        )
        return int(channel.id)

    async def create_ticket_thread(self, spec: ThreadSpec) -> int:
        thread = await self._call(
            self._bot.rest.create_thread(
                spec.parent_id,
                hikari.ChannelType.GUILD_PRIVATE_THREAD,
                spec.name,
                auto_archive_duration=THREAD_ARCHIVE_MINUTES,
                invitable=False,
            ),
            "create the ticket's private thread (it needs Create Private Threads, Send "
            "Messages in Threads and Manage Threads there)",
            spec.parent_id,
        )
        return int(thread.id)

    async def add_thread_member(self, thread_id: int, user_id: int) -> None:
        await self._call(
            self._bot.rest.add_thread_member(thread_id, user_id),
            "add a member to the ticket's thread",
            thread_id,
        )

    async def remove_thread_member(self, thread_id: int, user_id: int) -> None:
        await self._call(
            self._bot.rest.remove_thread_member(thread_id, user_id),
            "remove a member from the ticket's thread",
            thread_id,
        )

    async def set_thread_archived(self, thread_id: int, archived: bool) -> None:
        await self._call(
            self._bot.rest.edit_channel(thread_id, archived=archived, locked=archived),
            "archive the ticket's thread" if archived else "reopen the ticket's thread",
            thread_id,
        )

    def ticket_threads(self, guild_id: int) -> list[CachedThread] | None:
        if self._bot.cache.get_guild(guild_id) is None:
            return None
        me = self.bot_user_id
        return [
            CachedThread(int(t.id), int(t.parent_id))
            for t in self._bot.cache.get_threads_view_for_guild(guild_id).values()
            if isinstance(t, hikari.GuildPrivateThread) and t.owner_id == me
        ]

    def role_member_ids(self, guild_id: int, role_ids: Sequence[int], limit: int) -> list[int]:
        server = self._members.servers.get(guild_id)
        if server is None:
            return []
        wanted = set(role_ids)
        found: list[int] = []
        for user_id in server.ids():
            entry = server.get(user_id)
            if entry is not None and wanted.intersection(entry.role_ids):
                found.append(user_id)
                if len(found) >= limit:
                    break
        return found

    async def send_welcome(self, welcome: Welcome) -> int:
        embed = hikari.Embed(
            title=welcome.title,
            description=welcome.description,
            colour=welcome.colour,
        )
        for answer in welcome.fields:
            embed.add_field(answer.label, answer.value)
        row = self._bot.rest.build_message_action_row()
        row.add_interactive_button(
            hikari.ButtonStyle.DANGER, close_custom_id(welcome.ticket_id), label="Close", emoji="🔒"
        )
        message = await self._call(
            self._bot.rest.create_message(
                welcome.channel_id,
                welcome.content,
                embed=embed,
                component=row,
                user_mentions=list(welcome.mention_user_ids),
                role_mentions=list(welcome.mention_role_ids),
                mentions_everyone=False,
            ),
            "send the welcome message in the new ticket channel",
            welcome.channel_id,
        )
        return int(message.id)

    async def delete_channel(self, channel_id: int) -> None:
        """Already gone counts as deleted."""
        try:
            await self._call(
                self._bot.rest.delete_channel(channel_id), "delete the ticket channel", channel_id
            )
        except DiscordFailure as exc:
            if not isinstance(exc.__cause__, hikari.NotFoundError):
                raise

    async def find_channel(self, guild_id: int, topic: str) -> int | None:
        """From the cache, after giving a late CHANNEL_CREATE a moment to arrive; for a server on
        another process's shards, from one REST listing of its channels."""
        if not self.serves(guild_id):
            channels = await self._call(
                self._bot.rest.fetch_guild_channels(guild_id), "list the server's channels", None
            )
            for channel in channels:
                if isinstance(channel, hikari.GuildTextChannel) and channel.topic == topic:
                    return int(channel.id)
            return None
        for _ in range(LATE_CREATE_CHECKS):
            for channel in self._bot.cache.get_guild_channels_view_for_guild(guild_id).values():
                if isinstance(channel, hikari.GuildTextChannel) and channel.topic == topic:
                    return int(channel.id)
            await asyncio.sleep(LATE_CREATE_INTERVAL_S)
        return None

    async def channel_exists(self, channel_id: int) -> bool:
        """One REST lookup: only Discord's 10003 Unknown Channel means gone; any other failure
        raises (a 404 without that code, a 403, a 5xx or no answer prove nothing)."""
        try:
            await self._call(
                self._bot.rest.fetch_channel(channel_id), "look up the channel", channel_id
            )
        except DiscordFailure as exc:
            cause = exc.__cause__
            if isinstance(cause, hikari.NotFoundError) and cause.code == UNKNOWN_CHANNEL:
                return False
            raise
        return True

    def text_channels(self, guild_id: int, only: int | None = None) -> list[CachedChannel] | None:
        cache = self._bot.cache
        if cache.get_guild(guild_id) is None:
            return None
        # The cache copies each channel it hands out (overwrites included): with `only`, one.
        if only is None:
            found: Iterable[hikari.GuildChannel] = cache.get_guild_channels_view_for_guild(
                guild_id
            ).values()
        else:
            one = cache.get_guild_channel(only)
            found = [one] if one is not None and int(one.guild_id) == guild_id else []
        return [
            CachedChannel(
                channel_id=int(channel.id),
                topic=channel.topic,
                member_overwrite_ids=frozenset(
                    int(o.id)
                    for o in channel.permission_overwrites.values()
                    if o.type == hikari.PermissionOverwriteType.MEMBER
                ),
            )
            for channel in found
            if isinstance(channel, hikari.GuildTextChannel)
        ]

    async def find_welcome(self, channel_id: int, ticket_id: int) -> int | None:
        """The channel's first messages (a welcome is the first one the bot sends there)."""
        custom_id = close_custom_id(ticket_id)

        async def look() -> int | None:
            me = self.bot_user_id
            pages = self._bot.rest.fetch_messages(channel_id, after=hikari.Snowflake.min())
            async for message in pages.limit(WELCOME_SEARCH_LIMIT):
                if message.author.id == me and custom_id in _custom_ids(message):
                    return int(message.id)
            return None

        return await self._call(look(), "look for the ticket's welcome message", channel_id)

    async def post_panel(self, channel_id: int, panel: Panel) -> int:
        message = await self._call(
            self._bot.rest.create_message(
                channel_id, embed=panel_embed(panel), components=panel_rows(self._bot.rest, panel)
            ),
            "post the panel",
            channel_id,
        )
        return int(message.id)

    async def edit_panel(self, panel: Panel) -> bool:
        assert panel.channel_id is not None
        assert panel.message_id is not None
        try:
            await self._call(
                self._bot.rest.edit_message(
                    panel.channel_id,
                    panel.message_id,
                    embed=panel_embed(panel),
                    components=panel_rows(self._bot.rest, panel),
                ),
                "refresh the posted panel",
                panel.channel_id,
            )
        except DiscordFailure as exc:
            if isinstance(exc.__cause__, hikari.NotFoundError):
                return False
            raise
        return True

    async def delete_panel_message(self, panel: Panel) -> None:
        if panel.channel_id is None or panel.message_id is None:
            return
        try:
            await self._call(
                self._bot.rest.delete_message(panel.channel_id, panel.message_id),
                "delete the old panel message",
                panel.channel_id,
            )
        except DiscordFailure as exc:
            if not isinstance(exc.__cause__, hikari.NotFoundError):
                raise

    # -- the lifecycle's Discord ----------------------------------------------------------------

    @property
    def content_visible(self) -> bool:
        return hikari.Intents.MESSAGE_CONTENT in self._bot.intents

    async def history(self, channel_id: int) -> AsyncIterator[list[TranscriptMessage]]:
        """Every message, oldest first, a page (100) at a time: a long ticket is never held
        whole. Each page has its own time limit."""
        cache = self._bot.cache
        channel = cache.get_guild_channel(channel_id) or cache.get_thread(channel_id)
        guild_id = channel.guild_id if channel else None
        pages = aiter(
            self._bot.rest.fetch_messages(channel_id, after=hikari.Snowflake.min()).chunk(100)
        )
        while True:
            try:
                page = await self._call(anext(pages), "read the ticket's messages", channel_id)
            except StopAsyncIteration:
                return
            yield [transcript_message(m, lambda u: self._author(guild_id, u)) for m in page]

    def _display_name(self, guild_id: int | None, user: hikari.User) -> str:
        member = self._members.get(guild_id, int(user.id)) if guild_id else None
        return member.display_name if member else user.global_name or user.username

    def _author(self, guild_id: int | None, user: hikari.User) -> TranscriptAuthor:
        url = str(user.make_avatar_url(file_format="PNG", size=128) or user.default_avatar_url)
        return TranscriptAuthor(
            id=int(user.id),
            name=self._display_name(guild_id, user),
            avatar_url=self._on_cdn(url),
            bot=user.is_bot,
        )

    def _on_cdn(self, url: str) -> str:
        """hikari builds CDN links on Discord's CDN; the configured one (a sandbox's) wins."""
        if url.startswith(DISCORD_CDN_URL):
            return self._cdn_url + url.removeprefix(DISCORD_CDN_URL)
        return url

    def emoji_url(self, emoji_id: int, animated: bool) -> str:
        return f"{self._cdn_url}/emojis/{emoji_id}.{'gif' if animated else 'png'}"

    async def fetch_file(self, url: str, max_bytes: int) -> bytes | None:
        """A file from Discord's CDN (or wherever an attachment lives), read up to `max_bytes`.
        The caller bounds the time (per file and per transcript)."""
        return await self._call(
            download(url, max_bytes), "download a file for a transcript", None, UNBOUNDED_S
        )

    async def load_server(self, guild_id: int, user_ids: Sequence[int] = ()) -> None:
        """A server on another process's shards: its name, roles, channels and these members'
        names over REST (three calls and one per member, kept a minute), so that a transcript
        made here names them as the server's own process would. Never raises: without them a
        transcript shows IDs."""
        if self.serves(guild_id):
            return
        known = self._foreign_servers.get(guild_id)
        if known is not None and time.monotonic() - known.at < FOREIGN_MEMBER_TTL_S:
            return
        try:
            guild = await self._call(self._bot.rest.fetch_guild(guild_id), "read the server", None)
            channels = await self._call(
                self._bot.rest.fetch_guild_channels(guild_id), "list the server's channels", None
            )
            users = {}
            for user_id in user_ids:
                member = await self._foreign_member(guild_id, user_id)
                if member is not None:
                    users[user_id] = member.username
        except DiscordFailure as exc:
            _LOG.warning("server %d: names for a transcript unavailable (%s)", guild_id, exc)
            return
        self._foreign_servers[guild_id] = ForeignServer(
            at=time.monotonic(),
            name=guild.name,
            roles={int(i): r.name for i, r in guild.roles.items()},
            channels={int(c.id): c.name or str(c.id) for c in channels},
            users=users,
        )
        while len(self._foreign_servers) > FOREIGN_SERVER_MAX:
            self._foreign_servers.popitem(last=False)

    def names(self, guild_id: int) -> Names:
        foreign = self._foreign_servers.get(guild_id)
        if foreign is not None and not self.serves(guild_id):
            return Names(users=foreign.users, roles=foreign.roles, channels=foreign.channels)
        cache = self._bot.cache
        return Names(
            users=self._members.display_names(guild_id),
            roles={int(i): r.name for i, r in cache.get_roles_view_for_guild(guild_id).items()},
            channels={
                int(i): c.name or str(i)
                for i, c in cache.get_guild_channels_view_for_guild(guild_id).items()
            },
        )

    def guild_name(self, guild_id: int) -> str:
        guild = self._bot.cache.get_guild(guild_id)
        foreign = self._foreign_servers.get(guild_id)
        return guild.name if guild else foreign.name if foreign else str(guild_id)

    def channel_name(self, channel_id: int) -> str | None:
        channel = self._bot.cache.get_guild_channel(channel_id) or self._bot.cache.get_thread(
            channel_id
        )
        if channel is not None:
            return channel.name
        for foreign in self._foreign_servers.values():
            if channel_id in foreign.channels:
                return foreign.channels[channel_id]
        return None

    def channel_ids(self, guild_id: int) -> set[int] | None:
        if self._bot.cache.get_guild(guild_id) is None:
            return None
        cache = self._bot.cache
        return {int(i) for i in cache.get_guild_channels_view_for_guild(guild_id)} | {
            int(i) for i in cache.get_threads_view_for_guild(guild_id)
        }

    async def set_access(
        self, channel_id: int, target_id: int, target: Target, allow: Perm, deny: Perm
    ) -> None:
        await self._call(
            self._bot.rest.edit_permission_overwrite(
                channel_id,
                target_id,
                target_type=_OVERWRITE_TYPES[target],
                allow=hikari.Permissions(int(allow)),
                deny=hikari.Permissions(int(deny)),
            ),
            "change who can see the ticket",
            channel_id,
        )

    async def remove_access(self, channel_id: int, target_id: int) -> None:
        await self._call(
            self._bot.rest.delete_permission_overwrite(channel_id, target_id),
            "change who can see the ticket",
            channel_id,
        )

    async def move_channel(self, channel_id: int, category_id: int) -> None:
        await self._call(
            self._bot.rest.edit_channel(channel_id, parent_category=category_id),
            "move the ticket channel",
            category_id,
        )

    async def rename_channel(self, channel_id: int, name: str) -> None:
        await self._call(
            self._bot.rest.edit_channel(channel_id, name=name), "rename the ticket", channel_id
        )

    async def post(self, channel_id: int, text: str, file: TranscriptFile | None = None) -> None:
        await self._call(
            self._bot.rest.create_message(
                channel_id,
                text,
                attachment=_attachment(file),
                user_mentions=False,
                role_mentions=False,
                mentions_everyone=False,
            ),
            "post in the log channel",
            channel_id,
        )

    async def send_dm(self, user_id: int, text: str, file: TranscriptFile | None) -> bool:
        try:
            dm = await self._call(self._bot.rest.create_dm_channel(user_id), "open a DM", None)
            await self._call(
                self._bot.rest.create_message(dm.id, text, attachment=_attachment(file)),
                "send a DM",
                None,
            )
        except DiscordFailure as exc:
            if isinstance(exc.__cause__, hikari.ForbiddenError):
                return False  # the member closed their DMs: not an error
            raise
        return True

    # -- automation: prompts, leavers, categories -----------------------------------------------

    async def post_prompt(
        self,
        channel_id: int,
        text: str,
        mention_user_id: int | None,
        buttons: Sequence[PromptButton] = (),
    ) -> int:
        """A message in a ticket, pinging at most the one member it speaks to, with buttons."""
        components: list[hikari.api.ComponentBuilder] = []
        if buttons:
            row = self._bot.rest.build_message_action_row()
            for button in buttons:
                row.add_interactive_button(
                    _BUTTON_STYLES[button.style], button.custom_id, label=button.label
                )
            components.append(row)
        message = await self._call(
            self._bot.rest.create_message(
                channel_id,
                text,
                components=components or hikari.UNDEFINED,
                user_mentions=[mention_user_id] if mention_user_id else False,
                role_mentions=False,
                mentions_everyone=False,
            ),
            "post in the ticket",
            channel_id,
        )
        return int(message.id)

    async def dm_prompt(self, user_id: int, text: str, buttons: Sequence[PromptButton]) -> bool:
        """A DM with buttons; False if the member doesn't accept DMs."""
        row = self._bot.rest.build_message_action_row()
        for button in buttons:
            row.add_interactive_button(
                _BUTTON_STYLES[button.style], button.custom_id, label=button.label
            )
        try:
            dm = await self._call(self._bot.rest.create_dm_channel(user_id), "open a DM", None)
            await self._call(
                self._bot.rest.create_message(dm.id, text, component=row), "send a DM", None
            )
        except DiscordFailure as exc:
            if isinstance(exc.__cause__, hikari.ForbiddenError):
                return False
            raise
        return True

    def member_ids(self, guild_id: int) -> set[int] | None:
        """The members the index holds (hikari's member cache is off); None before the server
        has arrived."""
        server = self._members.servers.get(guild_id)
        if self._bot.cache.get_guild(guild_id) is None or server is None:
            return None
        return set(server.ids())

    async def is_member(self, guild_id: int, user_id: int) -> bool:
        """One REST lookup; a member Discord confirms joins the index."""
        try:
            member = await self._call(
                self._bot.rest.fetch_member(guild_id, user_id), "look up the member", None
            )
        except DiscordFailure as exc:
            if isinstance(exc.__cause__, hikari.NotFoundError):
                return False
            raise
        self._members.remember(guild_id, member)
        return True

    async def category_load(self, guild_id: int) -> CategoryLoad | None:
        """From the counts the gateway keeps; for a server on another process's shards, from
        one REST listing."""
        if self.serves(guild_id):
            server = self._channels.get(guild_id)
            if server is None:
                return None
            return CategoryLoad(server.per_category(), server.total)
        channels: Collection[hikari.GuildChannel] = await self._call(
            self._bot.rest.fetch_guild_channels(guild_id), "list the server's channels", None
        )
        per_category = {int(c.id): 0 for c in channels if isinstance(c, hikari.GuildCategory)}
        total = 0
        for channel in channels:
            total += 1
            parent = channel.parent_id
            if parent is not None and int(parent) in per_category:
                per_category[int(parent)] += 1
        return CategoryLoad(per_category, total)

    def category_name(self, category_id: int) -> str | None:
        category = self._bot.cache.get_guild_channel(category_id)
        return category.name if isinstance(category, hikari.GuildCategory) else None

    async def create_category_like(self, guild_id: int, name: str, like_id: int) -> int:
        like: hikari.PartialChannel | None = self._bot.cache.get_guild_channel(like_id)
        if like is None and not self.serves(guild_id):  # another process's server: ask Discord
            like = await self._call(
                self._bot.rest.fetch_channel(like_id), "read the ticket category", like_id
            )
        overwrites = (
            list(like.permission_overwrites.values())
            if isinstance(like, hikari.PermissibleGuildChannel)
            else hikari.UNDEFINED
        )
        category = await self._call(
            self._bot.rest.create_guild_category(guild_id, name, permission_overwrites=overwrites),
            "create an overflow category for tickets",
            None,
        )
        return int(category.id)

    async def _call(
        self,
        call: Awaitable[T],
        action: str,
        where_id: int | None,
        timeout: float | None = None,
    ) -> T:
        limit = timeout or self.timeout
        try:
            async with asyncio.timeout(limit):
                return await call
        except TimeoutError as exc:
            raise DiscordFailure(
                f"Discord did not answer within {limit:.0f} s when the bot tried to {action}",
                may_have_happened=True,
            ) from exc
        except hikari.HTTPError as exc:
            raise DiscordFailure(self._describe(exc, action, where_id)) from exc

    def _where(self, channel_id: int | None) -> str:
        if channel_id is None:
            return "the server"
        channel = self._bot.cache.get_guild_channel(channel_id)
        kind = "category" if isinstance(channel, hikari.GuildCategory) else "channel"
        return f"{kind} {channel.name!r} ({channel_id})" if channel else f"channel {channel_id}"

    def _describe(self, exc: hikari.HTTPError, action: str, where_id: int | None) -> str:
        """The one place hikari's errors become an admin's reason."""
        where = self._where(where_id)
        code = getattr(exc, "code", 0)
        text = str(getattr(exc, "errors", "") or "")
        if isinstance(exc, hikari.ForbiddenError) and code == 50001:
            return f"the bot cannot see {where} (Missing Access) and could not {action}"
        if isinstance(exc, hikari.ForbiddenError):
            return (
                f"the bot lacks permissions in {where} to {action}: it needs Manage Channels "
                f"there and every permission it grants in ticket channels ({GRANTED})"
            )
        if "CHANNEL_PARENT_MAX_CHANNELS" in text:
            return f"{where} is full (50 channels): could not {action}"
        if code == 30013:
            return f"the server has reached Discord's limit of 500 channels: could not {action}"
        if isinstance(exc, hikari.NotFoundError) and _UNKNOWN_ENTITY <= code < 20000:
            return f"{where} no longer exists: could not {action}"
        if isinstance(exc, hikari.HTTPResponseError):
            return f"Discord answered {int(exc.status)} when the bot tried to {action}"
        _LOG.warning("could not reach Discord to %s: %s", action, exc)
        return f"could not reach Discord to {action}"


def _custom_ids(message: hikari.Message) -> set[str]:
    return {
        str(getattr(component, "custom_id", ""))
        for row in message.components
        for component in getattr(row, "components", ())
    }


def _attachment(file: TranscriptFile | None) -> hikari.UndefinedOr[hikari.Resourceish]:
    if file is None:
        return hikari.UNDEFINED
    return hikari.File(file.path, file.filename)
