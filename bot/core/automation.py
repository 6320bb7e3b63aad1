"""Tickets that look after themselves: close requests, inactivity auto-close, openers who leave.

Every "later" is a row in `ticket_timers`, written in the same transaction as what causes it, and
worked by the one background runner (`bot.core.scheduler`) as its "timers" job: a batch of due
rows is claimed at a time and worked a few at once, so a restart after a long downtime catches up
without a storm (hikari waits out Discord's rate limits on each call). A close that a timer makes
is a normal close (transcript, log, DM), closed by the bot with a reason ("inactive", …).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from bot.core.cleanups import backoff
from bot.core.errors import AdminError, DiscordFailure, NotAllowed, TicketError
from bot.core.lifecycle import Actor, LifecycleService, SettingsStore
from bot.core.limits import Clock
from bot.core.models import Ticket
from bot.core.numbers import ticket_tag
from bot.core.ports import CloseRequest, PromptButton, Timer, TimerKind

_LOG = logging.getLogger("rimpllee.automation")

CLOSE_REQUEST_PREFIX = "rmp:creq:"  # + "yes:<ticket>" or "no:<ticket>"
BATCH = 50  # due timers claimed at a time
CONCURRENCY = 4  # worked at once: a catch-up after downtime is a queue, not a storm
LEASE_S = 300.0  # a claimed timer comes back after this if the process died working it
AFTER_MAX_S = 30 * 24 * 3600.0
HOURS_MAX = 24 * 365.0  # inactivity hours a server or button may set: a year at most
INACTIVE = "inactive"
OPENER_LEFT = "opener left"


def close_request_id(answer: str, ticket_id: int) -> str:
    return f"{CLOSE_REQUEST_PREFIX}{answer}:{ticket_id}"


def parse_close_request_id(custom_id: str) -> tuple[bool, int] | None:
    """(accepted, ticket) from a close request button's custom_id."""
    answer, _, ticket = custom_id.removeprefix(CLOSE_REQUEST_PREFIX).partition(":")
    if answer not in ("yes", "no") or not ticket.isdigit():
        return None
    return answer == "yes", int(ticket)


def _relative(at: float) -> str:
    return f"<t:{int(at)}:R>"


def _hours(hours: float) -> str:
    return f"{hours:g} hour" + ("" if hours == 1 else "s")


class AutomationStore(Protocol):
    async def claim_due(self, now: float, lease: float, limit: int) -> list[Timer]: ...

    async def next_at(self) -> float | None: ...

    async def done(self, timer_id: int) -> None: ...

    async def retry_at(self, timer_id: int, due_at: float, error: str) -> None: ...

    async def warned(self, timer_id: int, ticket_id: int, close_at: float, now: float) -> None: ...

    async def timers(self, ticket_id: int) -> dict[TimerKind, float]: ...

    async def inactivity_hours(self, ticket_id: int) -> tuple[float, float] | None: ...

    async def ticket(self, ticket_id: int) -> Ticket | None: ...

    async def open_ticket_in(self, channel_id: int) -> tuple[int, int] | None: ...

    async def opener_spoke(self, ticket_id: int, now: float) -> bool: ...

    async def set_exempt(self, ticket_id: int, exempt: bool, now: float) -> None: ...

    async def is_exempt(self, ticket_id: int) -> bool: ...

    async def reschedule_server(self, guild_id: int, now: float) -> int: ...

    async def put_request(self, request: CloseRequest, now: float) -> None: ...

    async def request(self, ticket_id: int) -> CloseRequest | None: ...

    async def take_request(self, ticket_id: int) -> CloseRequest | None: ...

    async def openers(self, guild_id: int) -> dict[int, list[int]]: ...

    async def mark_left(self, ticket_id: int, now: float) -> bool: ...


class AutomationPort(Protocol):
    """What this asks of Discord (failures raise `DiscordFailure`)."""

    @property
    def bot_user_id(self) -> int: ...

    async def post_prompt(
        self,
        channel_id: int,
        text: str,
        mention_user_id: int | None,
        buttons: Sequence[PromptButton] = (),
    ) -> int: ...

    def member_ids(self, guild_id: int) -> set[int] | None:
        """The server's members the bot holds (its member index); None if the server isn't there."""
        ...

    async def is_member(self, guild_id: int, user_id: int) -> bool:
        """Asked of Discord itself (the index may not hold every member yet)."""
        ...


class Automation:
    name = "timers"

    def __init__(
        self,
        store: AutomationStore,
        lifecycle: LifecycleService,
        discord: AutomationPort,
        settings: SettingsStore,
        clock: Clock = time.time,
        wake: Callable[[], None] = lambda: None,
        *,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self._store = store
        self._lifecycle = lifecycle
        self._discord = discord
        self._settings = settings
        self._clock = clock
        self._wake = wake
        self._slots = asyncio.Semaphore(concurrency)

    # -- the scheduler's job --------------------------------------------------------------------

    async def next_at(self) -> float | None:
        return await self._store.next_at()

    async def run_due(self) -> int:
        """Work the due timers, a batch at a time, a few at once; how many were done."""
        done = 0
        while True:
            timers = await self._store.claim_due(self._clock(), LEASE_S, BATCH)
            if not timers:
                return done
            results = await asyncio.gather(*(self._guarded(t) for t in timers))
            done += sum(results)

    async def _guarded(self, timer: Timer) -> bool:
        async with self._slots:
            try:
                await self._fire(timer)
            except Exception as exc:
                delay = backoff(timer.attempts)
                if not isinstance(exc, DiscordFailure):
                    _LOG.exception("ticket timer %d (%s) failed", timer.timer_id, timer.kind)
                _LOG.warning(
                    "ticket timer %d (%s): %s; retrying in %.0f s",
                    timer.timer_id,
                    timer.kind,
                    exc,
                    delay,
                )
                await self._store.retry_at(timer.timer_id, self._clock() + delay, str(exc))
                return False
        return True

    async def _fire(self, timer: Timer) -> None:
        ticket = await self._store.ticket(timer.ticket_id)
        if ticket is None or ticket.state != "open" or ticket.channel_id is None:
            await self._store.done(timer.timer_id)  # closed meanwhile: nothing to do
            return
        channel_id = ticket.channel_id
        if timer.kind == "inactivity_warn":
            hours = await self._store.inactivity_hours(ticket.ticket_id)
            if hours is None:  # turned off meanwhile
                await self._store.done(timer.timer_id)
                return
            warn, close = hours
            close_at = self._clock() + close * 3600
            await self._discord.post_prompt(
                channel_id,
                f"⏰ <@{ticket.user_id}>, this ticket has had no message from you for "
                f"{_hours(warn)}. It closes {_relative(close_at)} unless you write here.",
                ticket.user_id,
            )
            await self._store.warned(timer.timer_id, ticket.ticket_id, close_at, self._clock())
            return
        if timer.kind == "inactivity_close":
            await self._close(ticket, INACTIVE)
        else:
            request = await self._store.request(ticket.ticket_id)
            await self._close(ticket, (request.reason if request else None) or "no answer")
            await self._store.take_request(ticket.ticket_id)
        await self._store.done(timer.timer_id)

    async def _close(self, ticket: Ticket, reason: str) -> None:
        assert ticket.channel_id is not None
        try:
            await self._lifecycle.close_for(ticket.channel_id, self._discord.bot_user_id, reason)
        except AdminError:
            return  # closed by someone else in the meantime
        _LOG.info("ticket #%04d closed by itself: %s", ticket.number, reason)

    # -- close requests -------------------------------------------------------------------------

    async def request_close(
        self, channel_id: int, actor: Actor, reason: str | None, after_s: float | None
    ) -> Ticket:
        """Staff ask the opener: Accept closes the ticket, Keep open keeps it; with `after_s`
        it closes by itself unless the opener answers or writes in the ticket first."""
        ticket = await self._lifecycle.ticket(channel_id)
        if not await self._lifecycle.is_staff(ticket, actor):
            raise NotAllowed(
                "only this ticket's support team or members with Manage Channels can do that"
            )
        if after_s is not None and not 60 <= after_s <= AFTER_MAX_S:
            raise AdminError("`after` must be between 1 minute and 30 days (e.g. 30m, 12h, 2d)")
        reason = (reason or "").strip()[:500] or None
        now = self._clock()
        close_at = None if after_s is None else now + after_s
        request = CloseRequest(ticket.ticket_id, actor.user_id, reason, close_at)
        await self._store.put_request(request, now)
        why = f": {reason}" if reason else "."
        text = f"<@{ticket.user_id}>, <@{actor.user_id}> asks to close this ticket{why}"
        if close_at is not None:
            text += f"\nIt closes by itself {_relative(close_at)} unless you answer or write here."
        try:
            await self._discord.post_prompt(
                channel_id,
                text,
                ticket.user_id,
                (
                    PromptButton(close_request_id("yes", ticket.ticket_id), "Accept", "success"),
                    PromptButton(
                        close_request_id("no", ticket.ticket_id), "Keep open", "secondary"
                    ),
                ),
            )
        except BaseException:
            # The opener never saw it: it must not close their ticket by itself.
            await self._store.take_request(ticket.ticket_id)
            raise
        self._wake()
        return ticket

    async def take_answer(self, ticket_id: int, channel_id: int, user_id: int) -> CloseRequest:
        """The opener's click on Accept or Keep open: the pending request, now answered (the
        timer goes with it). Anyone else, or a request already answered, is refused."""
        ticket = await self._store.ticket(ticket_id)
        if ticket is None or ticket.channel_id != channel_id:
            raise AdminError("this close request belongs to another ticket")
        if ticket.user_id != user_id:
            raise NotAllowed(f"only <@{ticket.user_id}>, who opened this ticket, can answer")
        if ticket.state != "open":
            raise AdminError(f"ticket {ticket_tag(ticket.number)} is already closed")
        request = await self._store.take_request(ticket_id)
        if request is None:
            raise AdminError("this close request was already answered")
        return request

    async def accept(self, request: CloseRequest, channel_id: int, user_id: int) -> Ticket:
        """A normal close (transcript, log, DM), by the opener, with the request's reason."""
        return await self._lifecycle.close_for(
            channel_id, user_id, request.reason or "close request accepted"
        )

    async def keep(self, request: CloseRequest, channel_id: int, user_id: int) -> None:
        await self._discord.post_prompt(
            channel_id,
            f"<@{request.requested_by}>, <@{user_id}> would like to keep this ticket open.",
            request.requested_by,
        )

    # -- messages, exemptions, settings ---------------------------------------------------------

    async def message(self, channel_id: int, author_id: int) -> None:
        """A member wrote somewhere: in a ticket, by its opener, it counts as activity."""
        found = await self._store.open_ticket_in(channel_id)
        if found is None or found[1] != author_id:
            return
        if await self._store.opener_spoke(found[0], self._clock()):
            await self._discord.post_prompt(
                channel_id,
                f"⏱️ <@{author_id}> wrote here, so this ticket won't close by itself. "
                "The close request can still be accepted.",
                None,
            )
        self._wake()

    async def exempt(self, channel_id: int, actor: Actor, exempt: bool) -> Ticket:
        ticket = await self._lifecycle.ticket(channel_id)
        if not await self._lifecycle.is_staff(ticket, actor):
            raise NotAllowed(
                "only this ticket's support team or members with Manage Channels can do that"
            )
        await self._store.set_exempt(ticket.ticket_id, exempt, self._clock())
        self._wake()
        return ticket

    async def settings_changed(self, guild_id: int) -> int:
        """Inactivity settings changed: every open ticket of the server counts from now."""
        count = await self._store.reschedule_server(guild_id, self._clock())
        self._wake()
        return count

    # -- openers who leave ----------------------------------------------------------------------

    async def member_left(self, guild_id: int, user_id: int) -> int:
        """The gateway said a member left: their open tickets, as the server wants."""
        tickets = (await self._store.openers(guild_id)).get(user_id, [])
        for ticket_id in tickets:
            await self._opener_left(ticket_id)
        return len(tickets)

    async def check_leavers(self, guild_ids: Iterable[int]) -> int:
        """At startup: openers who left while the bot was offline. The member index names the
        suspects (openers it doesn't hold); Discord confirms each before anything happens."""
        count = 0
        for guild_id in guild_ids:
            cached = self._discord.member_ids(guild_id)
            if cached is None:
                continue
            for user_id, tickets in (await self._store.openers(guild_id)).items():
                if user_id in cached:
                    continue
                try:
                    if await self._discord.is_member(guild_id, user_id):
                        continue
                except DiscordFailure as exc:
                    _LOG.warning("server %d: cannot check member %d: %s", guild_id, user_id, exc)
                    continue
                for ticket_id in tickets:
                    await self._opener_left(ticket_id)
                    count += 1
        if count:
            _LOG.warning("%d ticket(s) whose opener left while the bot was offline", count)
        return count

    async def _opener_left(self, ticket_id: int) -> None:
        ticket = await self._store.ticket(ticket_id)
        if ticket is None or ticket.state != "open" or ticket.channel_id is None:
            return
        try:
            if (await self._settings.get(ticket.guild_id)).opener_left == "close":
                await self._close(ticket, OPENER_LEFT)
                return
            if await self._store.mark_left(ticket_id, self._clock()):
                await self._discord.post_prompt(
                    ticket.channel_id,
                    f"👋 <@{ticket.user_id}> left the server. The ticket stays open; "
                    "staff can `/ticket close` it.",
                    None,
                )
        except TicketError as exc:
            _LOG.warning("ticket #%04d: the opener left, and %s", ticket.number, exc)


_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_after(text: str | None) -> float | None:
    """`30m`, `12h`, `2d` (or a bare number of minutes) as seconds; None for no timer."""
    if text is None or not text.strip():
        return None
    raw = text.strip().lower().replace(" ", "")
    unit = raw[-1] if raw[-1] in _UNITS else "m"
    number = raw[:-1] if raw[-1] in _UNITS else raw
    try:
        value = float(number)
    except ValueError:
        raise AdminError(f"`after` {text!r} is not a duration: write e.g. 30m, 12h or 2d") from None
    return value * _UNITS[unit]
