"""The ticket desk: a server's tickets as the dashboard lists and works them.

Who sees what is `access.ticket_scope` (the list) and `access.may_see_ticket` (one ticket), read
from the Discord side's view of the member on every call. Staff actions go through the same
`LifecycleService` as the ticket commands, with the member judged as a command would judge them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, Protocol

from bot.core.access import (
    MemberDirectory,
    MemberView,
    Right,
    ServerRef,
    TicketScope,
    actor_of,
    may,
    may_see_ticket,
    ticket_scope,
)
from bot.core.errors import NotAllowed
from bot.core.lifecycle import LifecycleService
from bot.core.models import Source, Ticket

PAGE_SIZE = 50
OWN_TICKETS_SHOWN = 200
NAME_MATCHES_MAX = 100  # a search by name looks for at most this many members' tickets

StateFilter = Literal["all", "open", "closed", "archived"]
STATE_FILTERS: tuple[StateFilter, ...] = ("all", "open", "closed", "archived")


@dataclass(frozen=True, slots=True)
class TicketFilter:
    """What the list is narrowed to; every field empty lists everything in scope."""

    state: StateFilter = "all"
    button_id: str | None = None
    source: Source | None = None
    opener_id: int | None = None
    claimed_by: int | None = None
    unclaimed: bool = False  # open tickets nobody has claimed yet
    opened_from: float | None = None  # unix seconds, inclusive
    opened_before: float | None = None  # unix seconds, exclusive
    number: int | None = None
    opener_ids: tuple[int, ...] | None = None  # from a search by name: one of these opened it


@dataclass(frozen=True, slots=True)
class TicketPage:
    """Tickets by number, newest first; pages are found by number (`before` / `after` the
    numbers shown), so a deep page costs what the first does and its URL stays the same page."""

    tickets: list[Ticket]
    has_newer: bool = False
    has_older: bool = False

    @property
    def newest(self) -> int | None:
        return self.tickets[0].number if self.tickets else None

    @property
    def oldest(self) -> int | None:
        return self.tickets[-1].number if self.tickets else None


@dataclass(frozen=True, slots=True)
class Desk:
    """A server where the member may see tickets other than their own."""

    server: ServerRef
    everything: bool


@dataclass(frozen=True, slots=True)
class OwnTickets:
    server: ServerRef
    tickets: list[Ticket] = field(default_factory=list)


class TicketListStore(Protocol):
    async def list_tickets(
        self,
        scope: TicketScope,
        filters: TicketFilter,
        *,
        limit: int,
        before: int | None = None,
        after: int | None = None,
    ) -> list[Ticket]:
        """Numbers below `before`, newest first; or, given `after`, the `limit` numbers just
        above it, oldest first."""
        ...

    async def by_number(self, guild_id: int, number: int) -> Ticket | None: ...

    async def own_tickets(self, user_id: int, guild_ids: list[int], limit: int) -> list[Ticket]:
        """The user's tickets on these servers, newest first."""
        ...

    async def support_role_ids(self, guild_id: int) -> set[int]:
        """The roles that are a support role of one of the server's buttons."""
        ...

    async def claims(self, ticket_id: int) -> list[tuple[int, float]]:
        """Who claimed the ticket and when, oldest first (kept after it closes)."""
        ...


_NUMBER = re.compile(r"#?0*(\d{1,9})")


class TicketDesk:
    def __init__(
        self, store: TicketListStore, lifecycle: LifecycleService, directory: MemberDirectory
    ) -> None:
        self._store = store
        self._lifecycle = lifecycle
        self._directory = directory

    def search(self, guild_id: int, text: str) -> TicketFilter:
        """A search box's text: a ticket number (`12`, `#0012`), else part of an opener's name."""
        text = text.strip()
        if not text:
            return TicketFilter()
        if found := _NUMBER.fullmatch(text):
            return TicketFilter(number=int(found.group(1)))
        wanted = text.casefold()
        ids = [m.id for m in self._directory.members(guild_id) if wanted in m.name.casefold()]
        return TicketFilter(opener_ids=tuple(ids[:NAME_MATCHES_MAX]))

    async def page(
        self,
        member: MemberView | None,
        filters: TicketFilter,
        *,
        before: int | None = None,
        after: int | None = None,
    ) -> TicketPage:
        """A page of the tickets `member` may see, newest first: the first page, the one below
        number `before`, or the one just above number `after`; empty for a non-member."""
        scope = ticket_scope(member)
        if scope is None or filters.opener_ids == ():
            return TicketPage([])
        if after is not None:
            found = await self._store.list_tickets(scope, filters, limit=PAGE_SIZE + 1, after=after)
            shown = found[:PAGE_SIZE][::-1]
            older = await self._store.list_tickets(scope, filters, limit=1, before=after + 1)
            return TicketPage(shown, has_newer=len(found) > PAGE_SIZE, has_older=bool(older))
        found = await self._store.list_tickets(scope, filters, limit=PAGE_SIZE + 1, before=before)
        newer = (
            []
            if before is None
            else await self._store.list_tickets(scope, filters, limit=1, after=before - 1)
        )
        return TicketPage(
            found[:PAGE_SIZE], has_newer=bool(newer), has_older=len(found) > PAGE_SIZE
        )

    async def ticket(self, member: MemberView | None, guild_id: int, number: int) -> Ticket | None:
        """The ticket, or None alike when it does not exist and when `member` may not see it."""
        ticket = await self._store.by_number(guild_id, number)
        if ticket is None or ticket.state == "opening" or not may_see_ticket(member, ticket):
            return None
        return ticket

    async def desks(self, user_id: int) -> list[Desk]:
        """The servers where the user may see more tickets than their own."""
        found = []
        for server, view in self._directory.servers_with(user_id):
            everything = may(view, Right.MANAGE_SERVER)
            if everything or not view.role_ids.isdisjoint(
                await self._store.support_role_ids(server.guild_id)
            ):
                found.append(Desk(server, everything))
        return sorted(found, key=lambda d: d.server.name.casefold())

    async def own(self, user_id: int) -> list[OwnTickets]:
        """The user's own tickets on every server where they still are a member."""
        servers = {s.guild_id: s for s, _ in self._directory.servers_with(user_id)}
        tickets = await self._store.own_tickets(user_id, list(servers), OWN_TICKETS_SHOWN)
        grouped = {guild_id: OwnTickets(server) for guild_id, server in servers.items()}
        for ticket in tickets:
            if ticket.state != "opening":
                grouped[ticket.guild_id].tickets.append(ticket)
        return sorted(
            (g for g in grouped.values() if g.tickets), key=lambda g: g.server.name.casefold()
        )

    # -- staff actions: the lifecycle decides who may, as for the commands ----------------------

    def _channel(self, ticket: Ticket) -> int:
        if ticket.channel_id is None:
            raise NotAllowed("this ticket has no channel")
        return ticket.channel_id

    async def claim(self, member: MemberView, ticket: Ticket) -> Ticket:
        return await self._lifecycle.claim(self._channel(ticket), actor_of(member))

    async def unclaim(self, member: MemberView, ticket: Ticket) -> Ticket:
        return await self._lifecycle.unclaim(self._channel(ticket), actor_of(member))

    async def close(self, member: MemberView, ticket: Ticket, reason: str | None) -> Ticket:
        return await self._lifecycle.close(self._channel(ticket), actor_of(member), reason)

    async def reopen(self, member: MemberView, ticket: Ticket) -> Ticket:
        return await self._lifecycle.reopen(self._channel(ticket), actor_of(member))

    async def delete(self, member: MemberView, ticket: Ticket) -> Ticket:
        return await self._lifecycle.delete(self._channel(ticket), actor_of(member))

    async def claims(self, ticket: Ticket) -> list[tuple[int, float]]:
        return await self._store.claims(ticket.ticket_id)

    async def is_staff(self, member: MemberView, ticket: Ticket) -> bool:
        return await self._lifecycle.is_staff(ticket, actor_of(member))
