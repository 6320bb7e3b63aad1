"""Who may see or do what on a server: one rule, asked by every door.

The rule is fed by the Discord side's view of the member (the gateway cache): permissions are
read per request, so a member who loses Manage Server loses the admin pages on their next request.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from bot.core.lifecycle import Actor
from bot.core.models import Ticket

# Discord's permission bits this rule reads (values are Discord's).
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5


class Right(enum.Enum):
    """What a member may do on a server through Rimpllee."""

    MANAGE_SERVER = "manage_server"  # API key, blacklist, settings, panels


@dataclass(frozen=True, slots=True)
class MemberView:
    """A member as Discord shows them to the bot: the server-wide permission bits of their roles."""

    guild_id: int
    user_id: int
    is_owner: bool
    permissions: int
    role_ids: frozenset[int]


def rights(member: MemberView | None) -> frozenset[Right]:
    """Everything `member` may do on their server; nothing for someone who is not a member."""
    if member is None:
        return frozenset()
    granted: set[Right] = set()
    if member.is_owner or member.permissions & (ADMINISTRATOR | MANAGE_GUILD):
        granted.add(Right.MANAGE_SERVER)
    return frozenset(granted)


def may(member: MemberView | None, right: Right) -> bool:
    return right in rights(member)


@dataclass(frozen=True, slots=True)
class TicketScope:
    """The tickets of one server a member may see, with their transcripts: all of them with
    Manage Server; else those whose support roles (as the ticket opened with them) the member
    holds, and the member's own. The store's list query is this same rule in SQL."""

    guild_id: int
    user_id: int
    everything: bool
    role_ids: frozenset[int]

    def covers(self, ticket: Ticket) -> bool:
        return ticket.guild_id == self.guild_id and (
            self.everything
            or ticket.user_id == self.user_id
            or not self.role_ids.isdisjoint(ticket.support_role_ids)
        )


def ticket_scope(member: MemberView | None) -> TicketScope | None:
    """What `member` may see of their server's tickets; None for someone who is not a member."""
    if member is None:
        return None
    return TicketScope(
        guild_id=member.guild_id,
        user_id=member.user_id,
        everything=may(member, Right.MANAGE_SERVER),
        role_ids=member.role_ids,
    )


def may_see_ticket(member: MemberView | None, ticket: Ticket) -> bool:
    """The one question every door asks before showing a ticket or its transcript."""
    scope = ticket_scope(member)
    return scope is not None and scope.covers(ticket)


def actor_of(member: MemberView) -> Actor:
    """The member as the ticket lifecycle judges them, as a slash command would."""
    manages = member.is_owner or bool(member.permissions & (ADMINISTRATOR | MANAGE_CHANNELS))
    return Actor(member.user_id, member.role_ids, manages_channels=manages)


@dataclass(frozen=True, slots=True)
class ServerRef:
    guild_id: int
    name: str


@dataclass(frozen=True, slots=True)
class NamedId:
    """Something a person picks from a list by name (a member, a channel, a category)."""

    id: int
    name: str


class MemberDirectory(Protocol):
    """The Discord side's view of servers and members, from its cache (no REST calls)."""

    def member(self, guild_id: int, user_id: int) -> MemberView | None: ...

    def servers_with(self, user_id: int) -> list[tuple[ServerRef, MemberView]]:
        """The servers the bot is in where `user_id` is a member, with their view there."""
        ...

    def server(self, guild_id: int) -> ServerRef | None: ...

    def member_name(self, guild_id: int, user_id: int) -> str | None: ...

    def members(self, guild_id: int) -> list[NamedId]: ...

    def text_channels(self, guild_id: int) -> list[NamedId]: ...

    def categories(self, guild_id: int) -> list[NamedId]: ...

    def roles(self, guild_id: int) -> list[NamedId]:
        """The roles a button's support team can be, highest first (not @everyone, not bots')."""
        ...


def servers_for(
    directory: MemberDirectory, user_id: int
) -> list[tuple[ServerRef, frozenset[Right]]]:
    """The server picker: servers with the bot where the user may do something, by name."""
    found = [(server, rights(view)) for server, view in directory.servers_with(user_id)]
    return sorted(
        ((server, granted) for server, granted in found if granted),
        key=lambda item: item[0].name.casefold(),
    )
