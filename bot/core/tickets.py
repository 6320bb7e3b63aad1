"""`open_ticket`: the one routine behind a button click and an API call.

Order: resolve panel/button → answers → membership → blacklist → (per user, serialized) max open,
rate limits and the reservation as one atomic step → create the channel → welcome → mark open.
Any failure after the reservation undoes what it did: the channel it created is deleted and the
row dropped, so no budget is spent and nothing is left behind.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from bot.core.errors import (
    Blacklisted,
    ButtonNotFound,
    DiscordFailure,
    InvalidRequest,
    NotMember,
    PanelNotFound,
    RateLimited,
    TooManyOpen,
)
from bot.core.limits import Clock, KeyedLocks
from bot.core.models import Answer, Button, OpenedTicket, Panel, Source, Ticket
from bot.core.numbers import ticket_number, ticket_tag
from bot.core.panels import ANSWER_MAX
from bot.core.ports import (
    ChannelSpec,
    DiscordPort,
    LimitView,
    MemberInfo,
    Overwrite,
    Perm,
    TicketStore,
    Welcome,
)

_LOG = logging.getLogger("rimpllee.tickets")
T = TypeVar("T")

OPENER_PERMS = (
    Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.ATTACH_FILES
    | Perm.EMBED_LINKS
)
SUPPORT_PERMS = OPENER_PERMS | Perm.MANAGE_MESSAGES
BOT_PERMS = SUPPORT_PERMS | Perm.MANAGE_CHANNELS

CHANNEL_NAME_MAX = 100


class EventSink(Protocol):
    """The server's log channel (never raises)."""

    async def post(self, guild_id: int, text: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Limits:
    server_per_minute: int = 30
    user_cooldown: float = 20.0
    user_max_open: int = 3
    window: float = 60.0


def sanitize_channel_name(raw: str) -> str:
    """What Discord keeps of a text channel name: lowercase letters, digits, `-` and `_`."""
    name = re.sub(r"[^a-z0-9_-]+", "-", raw.lower())
    return re.sub(r"-{2,}", "-", name).strip("-")[:CHANNEL_NAME_MAX]


def channel_name(pattern: str, number: int, member: MemberInfo) -> str:
    """The button's pattern filled in and made a valid Discord text channel name."""
    raw = pattern.replace("{number}", ticket_number(number)).replace("{user}", member.username)
    return sanitize_channel_name(raw) or f"ticket-{ticket_number(number)}"


EMBED_TOTAL_MAX = 6000  # Discord's limit on all of an embed's text together
# The default welcome text, its title and a mention: what a welcome needs besides the answers.
WELCOME_OVERHEAD = 400


def check_welcome_fits(button: Button, answers: Sequence[Answer]) -> None:
    """Refuse answers the welcome embed can't hold, before anything is created in Discord."""
    size = len(button.welcome_text or "") + len(button.label) + WELCOME_OVERHEAD
    size += sum(len(a.label) + len(a.value) for a in answers)
    if size > EMBED_TOTAL_MAX:
        room = max(0, EMBED_TOTAL_MAX - (size - sum(len(a.value) for a in answers)))
        raise InvalidRequest(
            "answers_too_long",
            "answers",
            f"the answers are too long for the welcome message: at most {room} characters "
            "of answers in total for this button",
        )


def answer_limits(button: Button) -> tuple[int, ...]:
    """The most characters each question's text input takes, so that a form filled to the brim
    still fits the welcome embed (`check_welcome_fits`): a member is never refused after typing.

    Each question keeps its own maximum if all fit; otherwise the room is shared out evenly, a
    question asking for less than its share leaving the rest to the others (never below its own
    minimum: a button whose minimums alone overflow is refused after the form, as by the API).
    """
    questions = button.questions
    room = EMBED_TOTAL_MAX - len(button.welcome_text or "") - len(button.label) - WELCOME_OVERHEAD
    room -= sum(len(q.label) for q in questions)
    caps = [q.max_length or ANSWER_MAX for q in questions]
    floors = [min(cap, max(q.min_length or 0, 1)) for q, cap in zip(questions, caps, strict=True)]

    def filled(level: int) -> list[int]:
        return [min(cap, max(low, level)) for cap, low in zip(caps, floors, strict=True)]

    low, high = 0, ANSWER_MAX  # the highest level whose form still fits the room
    while low < high:
        mid = (low + high + 1) // 2
        if sum(filled(mid)) <= room:
            low = mid
        else:
            high = mid - 1
    limits = filled(low)
    spare = room - sum(limits)  # fewer than one a question: to the first that can take it
    for i, cap in enumerate(caps):
        if spare > 0 and limits[i] < cap:
            limits[i] += 1
            spare -= 1
    return tuple(limits)


def check_answers(button: Button, answers: Sequence[Answer]) -> tuple[Answer, ...]:
    """Answers matched to the button's questions (by label, case-insensitively), in its order."""
    questions = {q.label.strip().casefold(): q for q in button.questions}
    given: dict[str, str] = {}
    for i, answer in enumerate(answers):
        key = answer.label.strip().casefold()
        if key not in questions:
            asked = ", ".join(repr(q.label) for q in button.questions) or "no questions"
            raise InvalidRequest(
                "unknown_question",
                f"answers[{i}].label",
                f"answers[{i}].label {answer.label!r} is not a question of button "
                f"{button.button_id!r} (it asks: {asked})",
            )
        if key in given:
            raise InvalidRequest(
                "duplicate_answer",
                f"answers[{i}].label",
                f"answers[{i}] answers {answer.label!r} a second time",
            )
        given[key] = answer.value
    checked = []
    for question in button.questions:
        value = given.get(question.label.strip().casefold(), "").strip()
        if not value:
            if question.required:
                raise InvalidRequest(
                    "missing_answer",
                    "answers",
                    f"the required question {question.label!r} has no answer",
                )
            continue
        low, high = question.min_length or 0, question.max_length
        if len(value) < low or (high is not None and len(value) > high):
            bounds = f"{low}..{high}" if high is not None else f"at least {low}"
            raise InvalidRequest(
                "invalid_answer",
                "answers",
                f"the answer to {question.label!r} must be {bounds} characters, got {len(value)}",
            )
        checked.append(Answer(question.label, value))
    return tuple(checked)


class TicketService:
    def __init__(
        self,
        store: TicketStore,
        discord: DiscordPort,
        limits: Limits,
        clock: Clock = time.time,
        events: EventSink | None = None,
    ) -> None:
        self._store = store
        self._discord = discord
        self._limits = limits
        self._clock = clock
        self._events = events
        self._locks = KeyedLocks()
        self._in_flight: set[int] = set()  # tickets this process is opening right now
        self._tasks: set[asyncio.Task[object]] = set()  # opens and log posts to finish on stop

    async def open_ticket(
        self,
        guild_id: int,
        user_id: int,
        panel_id: str,
        button_id: str,
        answers: Sequence[Answer],
        source: Source,
    ) -> OpenedTicket:
        panel, button = await self._resolve(guild_id, panel_id, button_id)
        return await self.open_from(panel, button, user_id, answers, source)

    async def open_from(
        self,
        panel: Panel,
        button: Button,
        user_id: int,
        answers: Sequence[Answer],
        source: Source,
    ) -> OpenedTicket:
        """`open_ticket` for a button already found (`find_button`): the panel is read once."""
        guild_id = panel.guild_id
        checked = check_answers(button, answers)
        check_welcome_fits(button, checked)
        member = await self._admit(guild_id, user_id)
        # Refuse from committed data first, so a flood of refusals never queues on the write lock.
        await self._check_limits(self._store.view(guild_id), user_id, button)
        async with self._locks.hold((guild_id, user_id)):
            async with self._store.reserve(guild_id) as tx:
                now = await self._check_limits(tx, user_id, button)
                ticket = await tx.insert_opening(
                    user_id=user_id,
                    panel_id=button.panel_id,
                    button_id=button.button_id,
                    source=source,
                    answers=checked,
                    support_role_ids=button.support_role_ids,
                    now=now,
                )
            # Shielded and tracked: a caller that goes away doesn't stop the open halfway, and
            # shutdown waits for it (see `drain`).
            self._in_flight.add(ticket.ticket_id)
            creating = self._track(self._create(panel, button, member, ticket, checked))
            return await asyncio.shield(creating)

    def _track(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def opening(self) -> int:
        """How many opens are between their reservation and their welcome message right now."""
        return len(self._in_flight)

    async def drain(self) -> None:
        """Let opens in progress (and their log posts) finish: the shutdown's last step before
        the gateway closes."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def find_button(self, guild_id: int, button_id: str) -> tuple[Panel, Button]:
        """The button a click names, with its panel, in one read; `ButtonNotFound` if the server
        has no such button (any more)."""
        panel = await self._store.panel_for_button(guild_id, button_id)
        button = panel.button(button_id) if panel is not None else None
        if panel is None or button is None:
            raise ButtonNotFound(None, button_id)
        return panel, button

    async def precheck(self, guild_id: int, user_id: int, button: Button) -> None:
        """Every refusal that doesn't depend on answers, before a member fills in a form.

        Nothing is reserved: the open after the form checks everything again, atomically.
        """
        await self._admit(guild_id, user_id)
        await self._check_limits(self._store.view(guild_id), user_id, button)

    async def _resolve(self, guild_id: int, panel_id: str, button_id: str) -> tuple[Panel, Button]:
        panel = await self._store.get_panel(guild_id, panel_id)
        if panel is None:
            raise PanelNotFound(panel_id)
        button = panel.button(button_id)
        if button is None:
            raise ButtonNotFound(panel_id, button_id)
        return panel, button

    async def _admit(self, guild_id: int, user_id: int) -> MemberInfo:
        member = await self._discord.find_member(guild_id, user_id)
        if member is None:
            raise NotMember(user_id)
        return member

    async def _check_limits(self, view: LimitView, user_id: int, button: Button) -> float:
        """Blacklist, max open, the server's rate, the user's cooldown; returns the time used."""
        limits = self._limits
        now = self._clock()
        facts = await view.facts(user_id, now - limits.window)
        if facts.blacklisted:
            raise Blacklisted(user_id)
        open_now = facts.open_tickets
        same_button = [t for t in open_now if t.button_id == button.button_id]
        if len(same_button) >= button.max_open:
            raise TooManyOpen("button", button.max_open, same_button[0].channel_id)
        server_max = facts.user_max_open or limits.user_max_open
        if len(open_now) >= server_max:
            raise TooManyOpen("server", server_max, open_now[0].channel_id)
        oldest = facts.oldest_in_window
        if facts.opened_in_window >= limits.server_per_minute and oldest is not None:
            raise RateLimited("server", oldest + limits.window - now)
        last = facts.last_open
        if last is not None and now - last < limits.user_cooldown:
            raise RateLimited("user", last + limits.user_cooldown - now)
        return now

    async def _create(
        self,
        panel: Panel,
        button: Button,
        member: MemberInfo,
        ticket: Ticket,
        answers: tuple[Answer, ...],
    ) -> OpenedTicket:
        channel_id: int | None = None
        spec = self._channel_spec(button, member, ticket)
        try:
            channel_id = await self._discord.create_ticket_channel(spec)
            await self._store.set_channel(ticket.ticket_id, channel_id, spec.category_id)
            await self._discord.send_welcome(
                self._welcome(panel, button, member, ticket, channel_id, answers)
            )
            await self._store.mark_open(ticket.ticket_id)
        except BaseException as exc:
            unsure = isinstance(exc, DiscordFailure) and exc.may_have_happened
            await self._undo(ticket, spec, channel_id, search=unsure)
            raise
        finally:
            self._in_flight.discard(ticket.ticket_id)
        if self._events is not None:
            via = "the API" if ticket.source == "api" else "the panel"
            # After the answer, not before it: the log channel costs the opener nothing.
            self._track(
                self._events.post(
                    ticket.guild_id,
                    f"📥 Ticket {ticket_tag(ticket.number)} opened for <@{member.user_id}> with "
                    f"“{button.label}” via {via}: <#{channel_id}>",
                )
            )
        _LOG.info(
            "opened ticket #%d in guild %d for user %d (%s, channel %d)",
            ticket.number,
            ticket.guild_id,
            ticket.user_id,
            ticket.source,
            channel_id,
        )
        return OpenedTicket(ticket.guild_id, channel_id, ticket.ticket_id, ticket.number)

    async def _undo(
        self, ticket: Ticket, spec: ChannelSpec, channel_id: int | None, *, search: bool
    ) -> None:
        """Delete what the failed open made; the row goes whatever happens to the channel."""
        try:
            if channel_id is None and search:
                # A timed-out create may still have happened: look for it by its unique topic.
                channel_id = await self._discord.find_channel(spec.guild_id, spec.topic)
            if channel_id is not None:
                await self._discord.delete_channel(channel_id)
        except Exception as exc:
            _LOG.error(
                "ticket #%d failed and its channel %s could not be deleted: %s",
                ticket.number,
                channel_id,
                exc,
            )
        finally:
            await self._store.drop(ticket.ticket_id)

    def _channel_spec(self, button: Button, member: MemberInfo, ticket: Ticket) -> ChannelSpec:
        overwrites = [
            Overwrite(ticket.guild_id, "role", deny=Perm.VIEW_CHANNEL),
            Overwrite(member.user_id, "member", allow=OPENER_PERMS),
            Overwrite(self._discord.bot_user_id, "member", allow=BOT_PERMS),
        ]
        overwrites += [Overwrite(r, "role", allow=SUPPORT_PERMS) for r in button.support_role_ids]
        return ChannelSpec(
            guild_id=ticket.guild_id,
            name=channel_name(button.name_pattern, ticket.number, member),
            category_id=button.category_id,
            overwrites=tuple(overwrites),
            topic=(
                f"Ticket {ticket_tag(ticket.number)} · {button.label} · "
                f"opened by <@{member.user_id}>"
            ),
        )

    def _welcome(
        self,
        panel: Panel,
        button: Button,
        member: MemberInfo,
        ticket: Ticket,
        channel_id: int,
        answers: tuple[Answer, ...],
    ) -> Welcome:
        mentions = [f"<@{member.user_id}>"] + [f"<@&{r}>" for r in button.support_role_ids]
        description = button.welcome_text or (
            f"Thanks for reaching out, <@{member.user_id}>. The team will be with you shortly. "
            "Press **Close** when the matter is settled."
        )
        return Welcome(
            channel_id=channel_id,
            content=" ".join(mentions),
            mention_user_ids=(member.user_id,),
            mention_role_ids=button.support_role_ids,
            title=f"Ticket {ticket_tag(ticket.number)} · {button.label}",
            description=description,
            fields=answers,
            ticket_id=ticket.ticket_id,
            colour=panel.colour,
        )

    async def reconcile(self) -> tuple[int, int]:
        """Settle rows a crash left 'opening': open if Discord has the channel, else drop them."""
        opened = dropped = 0
        for ticket in await self._store.opening_tickets():
            # An open holds its user's lock from its reservation to its welcome message, so
            # under that lock a row is either this process's open in progress or a crash's.
            async with self._locks.hold((ticket.guild_id, ticket.user_id)):
                still = {t.ticket_id for t in await self._store.opening_tickets()}
                if ticket.ticket_id in self._in_flight or ticket.ticket_id not in still:
                    continue
                try:
                    exists = ticket.channel_id is not None and await self._discord.channel_exists(
                        ticket.channel_id
                    )
                except DiscordFailure as exc:
                    _LOG.warning("ticket #%d: left for the next start (%s)", ticket.number, exc)
                    continue
                if exists:
                    await self._store.mark_open(ticket.ticket_id)
                    opened += 1
                else:
                    await self._store.drop(ticket.ticket_id)
                    dropped += 1
        if opened or dropped:
            _LOG.warning(
                "reconciled tickets interrupted while opening: %d kept, %d dropped",
                opened,
                dropped,
            )
        return opened, dropped
