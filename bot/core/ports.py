"""The two narrow interfaces the domain is handed: its store and its Discord.

`bot/store/` and `bot/discord/` implement them; tests use the real implementations (SQLite files,
hikari against the emulator), never fakes of these protocols.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Literal, NamedTuple, Protocol

from bot.core.models import (
    Answer,
    ApiKeyInfo,
    BlacklistEntry,
    Panel,
    Source,
    Ticket,
)


class Perm(enum.IntFlag):
    """Discord's permission bits the ticket channels use (values are Discord's)."""

    MANAGE_CHANNELS = 1 << 4
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MANAGE_ROLES = 1 << 28


NO_PERMS = Perm(0)


@dataclass(frozen=True, slots=True)
class Overwrite:
    target_id: int
    target: Literal["role", "member"]
    allow: Perm = NO_PERMS
    deny: Perm = NO_PERMS


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    guild_id: int
    name: str
    category_id: int | None
    overwrites: tuple[Overwrite, ...]
    topic: str


@dataclass(frozen=True, slots=True)
class ThreadSpec:
    """A ticket as a private thread of `parent_id` (threads mode)."""

    guild_id: int
    parent_id: int
    name: str


@dataclass(frozen=True, slots=True)
class CachedThread:
    """A private thread the bot created, as the gateway cache has it (active threads only)."""

    thread_id: int
    parent_id: int


@dataclass(frozen=True, slots=True)
class Welcome:
    """The first message of a ticket: who is pinged, what they answered, and a Close button."""

    channel_id: int
    content: str
    mention_user_ids: tuple[int, ...]
    mention_role_ids: tuple[int, ...]
    title: str
    description: str
    fields: tuple[Answer, ...]
    ticket_id: int  # the Close button under the welcome names the ticket
    colour: int | None


@dataclass(frozen=True, slots=True)
class CachedChannel:
    """A text channel as the gateway cache has it: enough to recognise a ticket's channel."""

    channel_id: int
    topic: str | None
    member_overwrite_ids: frozenset[int]  # members with a permission overwrite of their own


@dataclass(frozen=True, slots=True)
class ChannelRef:
    guild_id: int
    channel_id: int


@dataclass(frozen=True, slots=True)
class Cleanup:
    """A channel to delete (an outbox row), and how many deletes of it failed so far."""

    channel: ChannelRef
    attempts: int


class MemberInfo(NamedTuple):
    """A named tuple: every open and every API refusal past the panel check builds one."""

    user_id: int
    username: str


class DiscordPort(Protocol):
    """What the domain asks of Discord. Failures raise `DiscordFailure` with an admin's reason."""

    @property
    def bot_user_id(self) -> int: ...

    async def find_member(self, guild_id: int, user_id: int) -> MemberInfo | None: ...

    def departures(self, guild_id: int) -> int | None:
        """A count that moves whenever someone `find_member` found in the server may have left
        it (a leave, the bot's own removal, a reconnection that reloads the server). None where
        no event would say so (members not followed by the gateway, another process's server,
        a server unavailable or not loaded yet): then only a lookup can tell."""
        ...

    async def create_ticket_channel(self, spec: ChannelSpec) -> int: ...

    async def send_welcome(self, welcome: Welcome) -> int: ...

    async def create_ticket_thread(self, spec: ThreadSpec) -> int:
        """A private thread nobody can invite others to; the bot is its first member."""
        ...

    async def add_thread_member(self, thread_id: int, user_id: int) -> None: ...

    def ticket_threads(self, guild_id: int) -> list[CachedThread] | None:
        """The server's active private threads the bot created, from the gateway cache; None
        if the server isn't there."""
        ...

    def role_member_ids(self, guild_id: int, role_ids: Sequence[int], limit: int) -> list[int]:
        """Up to `limit` members holding any of the roles, from the member index."""
        ...

    async def delete_channel(self, channel_id: int) -> None: ...

    async def channel_exists(self, channel_id: int) -> bool: ...

    async def find_channel(self, guild_id: int, topic: str) -> int | None:
        """A channel of the server with exactly this topic (a ticket's topic is unique)."""
        ...

    def text_channels(self, guild_id: int, only: int | None = None) -> list[CachedChannel] | None:
        """The server's text channels from the gateway cache (`only`: that one channel, if it is
        one of them); None if the server isn't there."""
        ...

    async def find_welcome(self, channel_id: int, ticket_id: int) -> int | None:
        """The bot's message in the channel carrying this ticket's Close button, if it was sent."""
        ...


@dataclass(frozen=True, slots=True)
class OpenRef:
    """One of the user's open tickets, as the limit checks see it."""

    button_id: str | None
    channel_id: int | None


class LimitFacts(NamedTuple):
    """What the limit checks need about one user on one server, read in one statement (so
    it is one consistent snapshot even without a transaction). A named tuple rather than a
    frozen dataclass: every open and every API answer builds one, and a tuple builds faster."""

    blacklisted: bool
    open_tickets: tuple[OpenRef, ...]
    user_max_open: int | None
    opened_in_window: int
    oldest_in_window: float | None
    last_open: float | None


class LimitView(Protocol):
    async def facts(self, user_id: int, since: float) -> LimitFacts:
        """The user's open tickets, the server's setting, opens after `since`, the user's last."""
        ...


class Reservation(LimitView, Protocol):
    """One atomic limit-check-and-reserve step: what `facts` read can't change before the insert."""

    async def insert_opening(
        self,
        *,
        user_id: int,
        panel_id: str,
        button_id: str,
        source: Source,
        answers: Sequence[Answer],
        support_role_ids: Sequence[int],
        now: float,
        thread_parent_id: int | None = None,
    ) -> Ticket: ...


class TicketStore(Protocol):
    async def version(self) -> int | None:
        """Moves whenever anything an open's checks read is committed, by any process (keys,
        panels, servers, the blacklist, tickets); None where the store can't tell."""
        ...

    async def get_panel(self, guild_id: int, panel_id: str) -> Panel | None: ...

    async def panel_for_button(self, guild_id: int, button_id: str) -> Panel | None:
        """The panel holding the button, if it is on this server (one read)."""
        ...

    def reserve(self, guild_id: int) -> AbstractAsyncContextManager[Reservation]: ...

    def view(self, guild_id: int) -> LimitView:
        """The same facts from committed data, without the write lock (for fast refusals)."""
        ...

    async def set_channel(
        self, ticket_id: int, channel_id: int, category_id: int | None = None
    ) -> None: ...

    async def mark_open(self, ticket_id: int, welcome_message_id: int) -> None: ...

    async def drop(
        self, ticket_id: int, leftover: ChannelRef | None = None, now: float = 0
    ) -> None:
        """Delete the row; `leftover` (a channel the open made) is queued for cleanup in the
        same transaction."""
        ...

    async def opening_tickets(self) -> list[Ticket]: ...

    async def thread_owners(
        self, guild_id: int, thread_ids: Iterable[int]
    ) -> tuple[set[int], set[int]]:
        """Of these threads, those a ticket row names; and the channels where an open of a
        threads-mode ticket is in progress (its row 'opening')."""
        ...

    async def by_numbers(self, guild_id: int, numbers: Iterable[int]) -> dict[int, Ticket]: ...


class CleanupStore(Protocol):
    """The outbox of channels to delete, worked by the cleanup runner."""

    async def add(self, channel: ChannelRef, now: float) -> None: ...

    async def due(self, now: float, limit: int = 50) -> list[Cleanup]: ...

    async def next_at(self) -> float | None: ...

    async def done(self, channel_id: int) -> None: ...

    async def retry_at(self, channel_id: int, next_at: float, error: str) -> None: ...


class KeyStore(Protocol):
    async def guild_for_key_hash(self, key_hash: str) -> int | None: ...

    async def key_info(self, guild_id: int) -> ApiKeyInfo | None: ...

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
        """Store the server's key; with replace=False only if it has none. True if stored."""
        ...

    async def delete_key(self, guild_id: int) -> bool: ...


class BlacklistStore(Protocol):
    async def add(
        self, guild_id: int, user_id: int, now: float, by: int | None, reason: str | None
    ) -> bool: ...

    async def remove(self, guild_id: int, user_id: int) -> bool: ...

    async def entries(self, guild_id: int) -> list[BlacklistEntry]: ...


TimerKind = Literal["close_request", "inactivity_warn", "inactivity_close"]


@dataclass(frozen=True, slots=True)
class Timer:
    """A ticket timer claimed by the runner; `attempts` counts this one."""

    timer_id: int
    ticket_id: int
    kind: TimerKind
    attempts: int


@dataclass(frozen=True, slots=True)
class CloseRequest:
    ticket_id: int
    requested_by: int
    reason: str | None
    close_at: float | None  # None: only the opener's answer closes it


@dataclass(frozen=True, slots=True)
class PromptButton:
    custom_id: str
    label: str
    style: Literal["primary", "secondary", "success", "danger"]


@dataclass(frozen=True, slots=True)
class CategoryLoad:
    """How full a server is, as the gateway's events keep it: channels per category and in all."""

    per_category: dict[int, int]
    total: int
