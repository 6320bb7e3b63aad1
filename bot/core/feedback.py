"""Feedback after close: the opener is asked by DM to rate the support 1 to 5, with an optional
comment (a form). The rating is stored on the ticket (once), added to the saved transcript's
header and posted to the log channel.

Asked by DM whatever the close mode: an archived ticket's channel is hidden from its opener.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Protocol

from bot.core.errors import AdminError, DiscordFailure, NotAllowed
from bot.core.lifecycle import EventLog, SettingsStore
from bot.core.limits import Clock
from bot.core.models import Ticket
from bot.core.numbers import ticket_tag
from bot.core.ports import PromptButton

_LOG = logging.getLogger("rimpllee.feedback")

RATE_PREFIX = "rmp:rate:"  # + "<ticket>:<stars>": a button of the DM
RATE_FORM_PREFIX = "rmp:rateform:"  # + "<ticket>:<stars>": the comment form after it
COMMENT_MAX = 1000


def rate_id(prefix: str, ticket_id: int, stars: int) -> str:
    return f"{prefix}{ticket_id}:{stars}"


def parse_rate_id(prefix: str, custom_id: str) -> tuple[int, int] | None:
    """(ticket, stars) from a rating button's or form's custom_id."""
    ticket, _, stars = custom_id.removeprefix(prefix).partition(":")
    if not (ticket.isdigit() and stars.isdigit() and 1 <= int(stars) <= 5):
        return None
    return int(ticket), int(stars)


class FeedbackPort(Protocol):
    def guild_name(self, guild_id: int) -> str: ...

    async def dm_prompt(self, user_id: int, text: str, buttons: Sequence[PromptButton]) -> bool:
        """False if the member doesn't accept DMs."""
        ...


class FeedbackStore(Protocol):
    async def ticket(self, ticket_id: int) -> Ticket | None: ...

    async def rating(self, ticket_id: int) -> int | None: ...

    async def rate(self, ticket_id: int, stars: int, comment: str | None, now: float) -> bool:
        """Store the rating unless the ticket has one; True if stored."""
        ...


class RatedTranscripts(Protocol):
    def add_rating(self, path: str, rating: int, comment: str | None) -> None: ...


class Feedback:
    def __init__(
        self,
        store: FeedbackStore,
        settings: SettingsStore,
        discord: FeedbackPort,
        transcripts: RatedTranscripts,
        events: EventLog,
        clock: Clock = time.time,
    ) -> None:
        self._store = store
        self._settings = settings
        self._discord = discord
        self._transcripts = transcripts
        self._events = events
        self._clock = clock

    async def ask(self, ticket: Ticket) -> None:
        """After a close, if the server wants feedback: the DM with five buttons."""
        if not (await self._settings.get(ticket.guild_id)).feedback:
            return
        server = self._discord.guild_name(ticket.guild_id)
        buttons = [
            PromptButton(rate_id(RATE_PREFIX, ticket.ticket_id, n), "★" * n, "secondary")
            for n in range(1, 6)
        ]
        try:
            await self._discord.dm_prompt(
                ticket.user_id,
                f"Your ticket {ticket_tag(ticket.number)} on {server} is closed. How was the "
                "support? Pick 1 to 5 stars (you can add a comment).",
                buttons,
            )
        except DiscordFailure as exc:
            _LOG.warning("ticket #%04d: could not ask for feedback: %s", ticket.number, exc)

    async def check(self, ticket_id: int, user_id: int) -> Ticket:
        """May this member rate this ticket now? (Before the comment form is shown.)"""
        ticket = await self._store.ticket(ticket_id)
        if ticket is None or ticket.user_id != user_id:
            raise NotAllowed("only the member who opened the ticket can rate it")
        if ticket.state != "closed":
            tag = ticket_tag(ticket.number)
            raise AdminError(f"ticket {tag} is open again: rate it when it closes")
        if await self._store.rating(ticket_id) is not None:
            raise AdminError(f"ticket {ticket_tag(ticket.number)} was already rated — thank you!")
        return ticket

    async def rate(self, ticket_id: int, user_id: int, stars: int, comment: str | None) -> Ticket:
        ticket = await self.check(ticket_id, user_id)
        comment = (comment or "").strip()[:COMMENT_MAX] or None
        if not await self._store.rate(ticket_id, stars, comment, self._clock()):
            raise AdminError(f"ticket {ticket_tag(ticket.number)} was already rated — thank you!")
        if ticket.transcript_path is not None:
            await asyncio.to_thread(
                self._transcripts.add_rating, ticket.transcript_path, stars, comment
            )
        said = f": “{comment}”" if comment else ""
        await self._events.post(
            ticket.guild_id,
            f"⭐ Ticket {ticket_tag(ticket.number)} of <@{ticket.user_id}> rated {stars}/5{said}",
        )
        return ticket
