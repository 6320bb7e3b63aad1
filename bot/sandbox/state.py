"""The emulated Discord's world: users, guilds, roles, members, channels, messages.

Plain data plus the rules Discord applies to it (permission arithmetic, snowflakes). The REST and
gateway halves of the emulator read and change this state; nothing here knows about HTTP.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.cdn import CdnSigner

JSON = dict[str, Any]

DISCORD_EPOCH_MS = 1_420_070_400_000

# Permission bits (https://discord.com/developers/docs/topics/permissions).
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MANAGE_ROLES = 1 << 28
MANAGE_THREADS = 1 << 34
CREATE_PRIVATE_THREADS = 1 << 36
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 51) - 1

# Channel types.
GUILD_TEXT = 0
DM = 1
GUILD_CATEGORY = 4
PRIVATE_THREAD = 12

OVERWRITE_ROLE = 0
OVERWRITE_MEMBER = 1


def iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat()


class Snowflakes:
    """Unique IDs shaped like Discord's: time-ordered, or from a fixed instant (`fixed_ms`) so a
    seeded world gets the same IDs every run."""

    def __init__(self, fixed_ms: int | None = None) -> None:
        self._counter = itertools.count(1)
        self._fixed_ms = fixed_ms

    def next(self) -> int:
        now_ms = self._fixed_ms if self._fixed_ms is not None else int(time.time() * 1000)
        return ((now_ms - DISCORD_EPOCH_MS) << 22) | (next(self._counter) & 0x3FFFFF)


def bot_token_for(user_id: int, tail: str = "sandbox.emulated") -> str:
    """A token shaped like Discord's: base64 of the bot's user ID, then two opaque parts."""
    return base64.b64encode(str(user_id).encode()).decode().rstrip("=") + "." + tail


@dataclass
class User:
    id: int
    username: str
    bot: bool = False
    global_name: str | None = None
    accepts_dms: bool = True  # False: the user closed DMs from server members
    avatar: bytes | None = None  # a custom avatar (PNG); None: Discord's default one

    @property
    def avatar_hash(self) -> str | None:
        return hashlib.md5(self.avatar).hexdigest() if self.avatar else None  # noqa: S324

    def payload(self) -> JSON:
        return {
            "id": str(self.id),
            "username": self.username,
            "global_name": self.global_name,
            "discriminator": "0",
            "avatar": self.avatar_hash,
            "bot": self.bot,
            "system": False,
            "public_flags": 0,
            "flags": 0,
            "mfa_enabled": False,
            "locale": "en-US",
            "premium_type": 0,
            "banner": None,
            "accent_color": None,
            "primary_guild": None,
        }


@dataclass
class Role:
    id: int
    guild_id: int
    name: str
    permissions: int
    position: int = 0
    color: int = 0

    def payload(self) -> JSON:
        return {
            "id": str(self.id),
            "name": self.name,
            "color": self.color,
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "colors": {
                "primary_color": self.color,
                "secondary_color": None,
                "tertiary_color": None,
            },
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": False,
            "mentionable": True,
            "flags": 0,
        }


@dataclass
class Member:
    user: User
    guild_id: int
    role_ids: list[int]
    joined_at: float
    nick: str | None = None

    def payload(self, *, with_guild_id: bool = False) -> JSON:
        body: JSON = {
            "user": self.user.payload(),
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "roles": [str(r) for r in self.role_ids],
            "joined_at": iso(self.joined_at),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_guild_id:
            body["guild_id"] = str(self.guild_id)
        return body


@dataclass
class Overwrite:
    id: int
    type: int
    allow: int
    deny: int

    def payload(self) -> JSON:
        return {
            "id": str(self.id),
            "type": self.type,
            "allow": str(self.allow),
            "deny": str(self.deny),
        }


@dataclass
class Channel:
    id: int
    guild_id: int
    type: int
    name: str
    position: int
    parent_id: int | None = None
    topic: str | None = None
    overwrites: dict[int, Overwrite] = field(default_factory=dict)
    last_message_id: int | None = None
    recipient_id: int = 0  # DM channels only
    thread: ThreadState | None = None  # threads only

    def payload(self) -> JSON:
        if self.thread is not None:
            return self.thread_payload()
        if self.type == DM:
            return {
                "id": str(self.id),
                "type": DM,
                "flags": 0,
                "last_message_id": str(self.last_message_id) if self.last_message_id else None,
                "recipients": [{"id": str(self.recipient_id)}],
            }
        return {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "parent_id": str(self.parent_id) if self.parent_id else None,
            "topic": self.topic,
            "nsfw": False,
            "flags": 0,
            "rate_limit_per_user": 0,
            "last_message_id": str(self.last_message_id) if self.last_message_id else None,
            "permission_overwrites": [o.payload() for o in self.overwrites.values()],
        }

    def thread_payload(self) -> JSON:
        """A thread's shape (docs: resources/channel#thread-metadata-object)."""
        thread = self.thread
        assert thread is not None
        return {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "parent_id": str(self.parent_id),
            "name": self.name,
            "owner_id": str(thread.owner_id),
            "flags": 0,
            "rate_limit_per_user": 0,
            "last_message_id": str(self.last_message_id) if self.last_message_id else None,
            "message_count": thread.message_count,
            "total_message_sent": thread.message_count,
            "member_count": min(len(thread.members), 50),
            "thread_metadata": {
                "archived": thread.archived,
                "archive_timestamp": iso(thread.archived_at),
                "auto_archive_duration": thread.auto_archive_duration,
                "locked": thread.locked,
                "invitable": thread.invitable,
                "create_timestamp": iso(thread.created_at),
            },
        }

    def thread_member(self, user_id: int) -> JSON:
        assert self.thread is not None
        return {
            "id": str(self.id),
            "user_id": str(user_id),
            "join_timestamp": iso(self.thread.members[user_id]),
            "flags": 0,
        }


@dataclass
class ThreadState:
    """What a thread has beyond a channel (docs: topics/threads)."""

    owner_id: int
    created_at: float
    members: dict[int, float] = field(default_factory=dict)  # user ID → joined at
    archived: bool = False
    locked: bool = False
    invitable: bool = True
    archived_at: float = 0.0
    auto_archive_duration: int = 10080
    message_count: int = 0


_FILE_IDS = Snowflakes()


@dataclass
class Attachment:
    filename: str
    data: bytes
    content_type: str
    id: int = field(default_factory=_FILE_IDS.next)
    cdn: CdnSigner | None = None  # set when the message is stored: its links are then signed

    def payload(self, channel_id: int) -> JSON:
        url = (
            self.cdn.attachment_url(channel_id, self.id, self.filename)
            if self.cdn is not None
            else f"https://cdn.discordapp.com/attachments/{channel_id}/{self.id}/{self.filename}"
        )
        return {
            "id": str(self.id),
            "filename": self.filename,
            "size": len(self.data),
            "url": url,
            "proxy_url": url,
            "content_type": self.content_type,
        }


@dataclass
class Message:
    id: int
    channel_id: int
    guild_id: int | None
    author: User
    content: str
    created_at: float
    embeds: list[JSON] = field(default_factory=list)
    components: list[JSON] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    flags: int = 0
    allowed_mentions: JSON | None = None
    edited_at: float | None = None
    webhook_id: int | None = None
    application_id: int | None = None
    type: int = 0  # 19 a reply, 6 a pin, ...
    reply_to: Message | None = None
    forwarded: Message | None = None
    sticker_names: list[str] = field(default_factory=list)

    def readable_without_intent(self, bot_id: int) -> bool:
        """What Discord shows a bot without Message Content: its own messages, messages that
        mention it, and DMs."""
        return self.author.id == bot_id or f"<@{bot_id}>" in self.content or self.guild_id is None

    def payload(self, *, with_content: bool = True) -> JSON:
        body: JSON = {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "author": self.author.payload(),
            "content": self.content if with_content else "",
            "timestamp": iso(self.created_at),
            "edited_timestamp": iso(self.edited_at) if self.edited_at else None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [a.payload(self.channel_id) for a in self.attachments]
            if with_content
            else [],
            "embeds": self.embeds if with_content else [],
            "components": self.components if with_content else [],
            "pinned": False,
            "type": self.type,
            "flags": self.flags,
        }
        self._add_references(body, with_content)
        if self.guild_id is not None:
            body["guild_id"] = str(self.guild_id)
        if self.webhook_id is not None:
            body["webhook_id"] = str(self.webhook_id)
        if self.application_id is not None:
            body["application_id"] = str(self.application_id)
        return body

    def _add_references(self, body: JSON, with_content: bool) -> None:
        """Replies, forwards and stickers, in Discord's shapes."""
        if self.sticker_names:
            body["sticker_items"] = [
                {"id": str(1000 + i), "name": name, "format_type": 1}
                for i, name in enumerate(self.sticker_names)
            ]
        if self.reply_to is not None:
            body["message_reference"] = self.reply_to.reference(0)
            body["referenced_message"] = self.reply_to.payload(with_content=with_content)
        if self.forwarded is not None:
            body["message_reference"] = self.forwarded.reference(1)
            snapshot = self.forwarded.payload(with_content=with_content)
            body["message_snapshots"] = [
                {
                    "message": {
                        k: snapshot[k]
                        for k in (
                            "type", "content", "embeds", "attachments", "timestamp",
                            "edited_timestamp", "flags", "mentions", "mention_roles",
                            "components",
                        )
                    }
                }
            ]  # fmt: skip

    def reference(self, kind: int) -> JSON:
        ref: JSON = {"type": kind, "message_id": str(self.id), "channel_id": str(self.channel_id)}
        if self.guild_id is not None:
            ref["guild_id"] = str(self.guild_id)
        return ref


@dataclass
class Emoji:
    id: int
    name: str
    image: bytes  # PNG
    animated: bool = False

    def payload(self) -> JSON:
        return {
            "id": str(self.id),
            "name": self.name,
            "roles": [],
            "require_colons": True,
            "managed": False,
            "animated": self.animated,
            "available": True,
        }


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    # Threads don't count toward the 500 channels and aren't listed with the channels.
    threads: dict[int, Channel] = field(default_factory=dict)
    emojis: dict[int, Emoji] = field(default_factory=dict)

    @property
    def everyone(self) -> Role:
        return self.roles[self.id]

    def payload(self) -> JSON:
        """The REST shape of a guild (GET /guilds/{id})."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "widget_enabled": False,
            "widget_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "max_members": 500000,
            "max_presences": None,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "nsfw": False,
            "premium_progress_bar_enabled": False,
            "region": "deprecated",
            "home_header": None,
            "incidents_data": None,
            "safety_alerts_channel_id": None,
            "features": [],
            "roles": [r.payload() for r in self.roles.values()],
            "emojis": [e.payload() for e in self.emojis.values()],
            "stickers": [],
        }

    def gateway_payload(self, *, members: list[Member], large: bool) -> JSON:
        """The GUILD_CREATE shape: the REST guild plus channels, the given members, join data."""
        body = self.payload()
        body.update(
            {
                "joined_at": iso(time.time()),
                "large": large,
                "unavailable": False,
                "member_count": len(self.members),
                "members": [m.payload() for m in members],
                "channels": [c.payload() for c in self.channels.values()],
                # Active threads the bot can see (gateway-events.mdx, Guild Create).
                "threads": [
                    t.payload()
                    for t in self.threads.values()
                    if t.thread is not None and not t.thread.archived
                ],
                "presences": [],
                "voice_states": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
            }
        )
        return body

    def permissions(self, user_id: int, channel: Channel | None = None) -> int:
        """Discord's permission computation: base from roles, then channel overwrites."""
        if user_id == self.owner_id:
            return ALL_PERMISSIONS
        member = self.members.get(user_id)
        if member is None:
            return 0
        perms = self.everyone.permissions
        for role_id in member.role_ids:
            if role := self.roles.get(role_id):
                perms |= role.permissions
        if perms & ADMINISTRATOR:
            return ALL_PERMISSIONS
        if channel is None:
            return perms
        if channel.thread is not None:
            return self._thread_permissions(user_id, perms, channel)
        overwrites = channel.overwrites
        if ow := overwrites.get(self.id):
            perms = (perms & ~ow.deny) | ow.allow
        allow = deny = 0
        for role_id in member.role_ids:
            if (ow := overwrites.get(role_id)) and ow.type == OVERWRITE_ROLE:
                allow |= ow.allow
                deny |= ow.deny
        perms = (perms & ~deny) | allow
        if (ow := overwrites.get(user_id)) and ow.type == OVERWRITE_MEMBER:
            perms = (perms & ~ow.deny) | ow.allow
        return perms

    def _thread_permissions(self, user_id: int, base: int, thread: Channel) -> int:
        """docs: topics/threads#permissions: a thread takes its parent's permissions; sending
        needs Send Messages in Threads; a private thread is seen only by its members and by
        those who may Manage Threads."""
        assert thread.thread is not None
        parent = self.channels.get(thread.parent_id or 0)
        perms = self.permissions(user_id, parent) if parent is not None else base
        if perms == ALL_PERMISSIONS:
            return perms
        if not perms & VIEW_CHANNEL:
            return 0
        if (
            thread.type == PRIVATE_THREAD
            and user_id not in thread.thread.members
            and not perms & MANAGE_THREADS
        ):
            return 0
        if perms & SEND_MESSAGES_IN_THREADS:
            return perms | SEND_MESSAGES
        return perms & ~SEND_MESSAGES


class DiscordState:
    """Every guild, user and message the emulator knows, with the bot's own identity."""

    def __init__(self, bot_name: str = "Rimpllee", *, fixed_ids_ms: int | None = None) -> None:
        self.ids = Snowflakes(fixed_ids_ms)
        self.bot = User(id=self.ids.next(), username=bot_name, bot=True)
        self.application_id = self.bot.id
        self.users: dict[int, User] = {self.bot.id: self.bot}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, dict[int, Message]] = {}
        self.commands: dict[int | None, list[JSON]] = {}
        self.cdn = CdnSigner()

    def add_user(self, username: str, *, bot: bool = False) -> User:
        user = User(id=self.ids.next(), username=username, bot=bot)
        self.users[user.id] = user
        return user

    def add_guild(
        self,
        name: str,
        owner: User,
        *,
        bot_permissions: int = ADMINISTRATOR,
        shard: tuple[int, int] | None = None,
    ) -> Guild:
        """A guild with @everyone, the owner, and the bot as a member holding `bot_permissions`.
        `shard` = (shard ID, shard count): an ID that Discord's formula puts on that shard (its
        timestamp moved a few milliseconds on)."""
        guild_id = self.ids.next()
        if shard is not None:
            shard_id, count = shard
            guild_id += ((shard_id - (guild_id >> 22)) % count) << 22
        guild = Guild(id=guild_id, name=name, owner_id=owner.id)
        guild.roles[guild.id] = Role(
            id=guild.id,
            guild_id=guild.id,
            name="@everyone",
            permissions=VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY,
        )
        self.guilds[guild.id] = guild
        self.add_member(guild, owner)
        bot_role = self.add_role(guild, "Rimpllee", bot_permissions, position=10)
        self.add_member(guild, self.bot, roles=[bot_role.id])
        return guild

    def add_role(self, guild: Guild, name: str, permissions: int = 0, *, position: int = 1) -> Role:
        role = Role(
            id=self.ids.next(),
            guild_id=guild.id,
            name=name,
            permissions=permissions,
            position=position,
        )
        guild.roles[role.id] = role
        return role

    def add_member(self, guild: Guild, user: User, *, roles: list[int] | None = None) -> Member:
        self.users[user.id] = user
        member = Member(user=user, guild_id=guild.id, role_ids=list(roles or []), joined_at=0.0)
        member.joined_at = time.time()
        guild.members[user.id] = member
        return member

    def add_channel(
        self,
        guild: Guild,
        name: str,
        *,
        type: int = GUILD_TEXT,
        parent_id: int | None = None,
        overwrites: list[Overwrite] | None = None,
        topic: str | None = None,
    ) -> Channel:
        channel = Channel(
            id=self.ids.next(),
            guild_id=guild.id,
            type=type,
            name=name,
            position=len(guild.channels),
            parent_id=parent_id,
            topic=topic,
            overwrites={o.id: o for o in overwrites or []},
        )
        guild.channels[channel.id] = channel
        self.channels[channel.id] = channel
        self.messages[channel.id] = {}
        return channel

    def add_thread(
        self, parent: Channel, name: str, owner_id: int, *, type: int = PRIVATE_THREAD
    ) -> Channel:
        """A thread in `parent`; its creator is its first member."""
        guild = self.guilds[parent.guild_id]
        now = time.time()
        thread = Channel(
            id=self.ids.next(),
            guild_id=guild.id,
            type=type,
            name=name,
            position=0,
            parent_id=parent.id,
            thread=ThreadState(owner_id=owner_id, created_at=now, archived_at=now),
        )
        assert thread.thread is not None
        thread.thread.members[owner_id] = now
        guild.threads[thread.id] = thread
        self.channels[thread.id] = thread
        self.messages[thread.id] = {}
        return thread

    def dm_channel(self, user: User) -> Channel:
        """The bot's DM channel with `user` (one per user, like Discord's)."""
        for channel in self.channels.values():
            if channel.type == DM and channel.recipient_id == user.id:
                return channel
        channel = Channel(
            id=self.ids.next(), guild_id=0, type=DM, name="", position=0, recipient_id=user.id
        )
        self.channels[channel.id] = channel
        self.messages[channel.id] = {}
        return channel

    def remove_channel(self, channel: Channel) -> None:
        if guild := self.guilds.get(channel.guild_id):
            guild.channels.pop(channel.id, None)
            guild.threads.pop(channel.id, None)
        self.channels.pop(channel.id, None)
        self.messages.pop(channel.id, None)

    def add_message(self, channel: Channel, author: User, content: str, **fields: Any) -> Message:
        message = Message(
            id=self.ids.next(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=author,
            content=content,
            created_at=time.time(),
            **fields,
        )
        return self.store_message(channel, message)

    def add_emoji(self, guild: Guild, name: str, image: bytes) -> Emoji:
        emoji = Emoji(id=self.ids.next(), name=name, image=image)
        guild.emojis[emoji.id] = emoji
        return emoji

    def message_created(self, message: Message) -> JSON:
        """MESSAGE_CREATE as the gateway sends it: in a server, the author's member (without its
        user, which is the author) rides along, as on Discord (not for webhooks)."""
        body = message.payload()
        guild = self.guilds.get(message.guild_id) if message.guild_id is not None else None
        member = guild.members.get(message.author.id) if guild is not None else None
        if member is not None and message.webhook_id is None:
            body["member"] = {k: v for k, v in member.payload().items() if k != "user"}
        return body

    def store_message(self, channel: Channel, message: Message) -> Message:
        for attachment in message.attachments:
            attachment.cdn = self.cdn
        self.messages[channel.id][message.id] = message
        channel.last_message_id = message.id
        if channel.thread is not None:
            channel.thread.message_count += 1
        return message
