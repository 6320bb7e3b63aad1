"""`open_ticket`: the one routine behind a button click and an API call.

Order: resolve panel/button → answers → membership → blacklist → (per user, serialized) max open,
rate limits and the reservation as one atomic step → create the channel → welcome → mark open.
Any failure after the reservation undoes what it did: the row is dropped and the channel it
created goes to the cleanup outbox (deleted at once, or retried until Discord confirms), so no
budget is spent and nothing is left behind. A crash at any point is settled at the next start
(`reconcile`): a ticket's channel is found by its topic (the marker only the bot writes) in the
gateway cache, and either gets its one welcome message and opens, or is deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import time
from collections.abc import Coroutine, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from bot.core.cleanups import CleanupRunner
from bot.core.errors import (
    Blacklisted,
    ButtonNotFound,
    DiscordFailure,
    InvalidRequest,
    NotMember,
    PanelNotFound,
    RateLimited,
    TicketError,
    TooManyOpen,
)
from bot.core.limits import Clock, KeyedLocks
from bot.core.models import Answer, Button, OpenedTicket, Panel, Source, Ticket
from bot.core.numbers import ticket_number, ticket_tag
from bot.core.overflow import Placement
from bot.core.panels import ANSWER_MAX
from bot.core.ports import (
    CachedChannel,
    ChannelRef,
    ChannelSpec,
    DiscordPort,
    LimitView,
    MemberInfo,
    Overwrite,
    Perm,
    ThreadSpec,
    TicketStore,
    Welcome,
)
from bot.core.shards import EVERY_SHARD, Shards

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
# The longest an open can be between its reservation and its welcome (or its undo): its Discord
# calls are each bounded (15 s), and there are at most five. An 'opening' row older than this is
# in no process's hands any more.
OPEN_BOUND_S = 120.0
SETTLE_RETRY_S = 30.0
# Threads mode reaches staff by adding support-role members to the private thread one by one
# (after the open has answered); members who may Manage Threads see every private thread anyway.
THREAD_STAFF_MAX = 10


class EventSink(Protocol):
    """The server's log channel (never raises)."""

    async def post(self, guild_id: int, text: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Limits:
    server_per_minute: int = 30
    user_cooldown: float = 20.0
    user_max_open: int = 3
    window: float = 60.0


def ticket_topic(number: int, label: str, user_id: int) -> str:
    """A ticket channel's topic; unique in its server (the number) and the marker by which a
    crashed or timed-out open finds its channel again."""
    return f"Ticket {ticket_tag(number)} · {label} · opened by <@{user_id}>"


_TOPIC_MARKER = re.compile(r"Ticket #(\d+) · .* · opened by <@(\d+)>", re.DOTALL)


def ticket_marker(channel: CachedChannel) -> tuple[int, int] | None:
    """(ticket number, opener) of a channel the bot made for a ticket: its topic says so and
    the opener has the overwrite the bot gave them. None for any other channel."""
    match = _TOPIC_MARKER.fullmatch(channel.topic or "")
    if match is None or int(match[2]) not in channel.member_overwrite_ids:
        return None
    return int(match[1]), int(match[2])


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
    if answers:
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
    if not answers and not button.questions:
        return ()
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


async def _share(opening: asyncio.Task[OpenedTicket]) -> OpenedTicket:
    """The answer of an open another request started. A refusal it ends in was decided on what
    held before this request looked: it is marked `shared`, so nothing keeps it as this
    request's own (`bot.core.refusals`)."""
    try:
        return await asyncio.shield(opening)
    except TicketError as exc:
        exc.shared = True
        raise


def _retrieved(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()


class TicketService:
    name = "interrupted opens"  # as a scheduler job (several processes share the database)

    def __init__(
        self,
        store: TicketStore,
        discord: DiscordPort,
        limits: Limits,
        clock: Clock = time.time,
        events: EventSink | None = None,
        cleanups: CleanupRunner | None = None,
        placement: Placement | None = None,
        shards: Shards = EVERY_SHARD,
    ) -> None:
        self._placement = placement
        self._shards = shards
        self._store = store
        self._discord = discord
        self._limits = limits
        self._clock = clock
        self._events = events
        self._cleanups = cleanups
        self._locks = KeyedLocks()
        self._in_flight: set[int] = set()  # tickets this process is opening right now
        self._tasks: set[asyncio.Task[object]] = set()  # opens and log posts to finish on stop
        # Opens in progress by (server, member, button): a second one at the same time (a
        # double click) gets the first one's answer instead of opening another ticket.
        self._opening: dict[tuple[int, int, str], asyncio.Task[OpenedTicket]] = {}

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
        key = (guild_id, user_id, button.button_id)
        same = self._opening.get(key)
        if same is not None:
            return await _share(same)  # the same member, the same button, right now
        # Refuse from committed data first, so a flood of refusals never queues on the write lock.
        try:
            await self._check_limits(self._store.view(guild_id), user_id, button)
        except TooManyOpen:
            # The open that started while this read ran (its row is committed, its channel not
            # yet made) is the one this request asked for: share its answer.
            same = self._opening.get(key)
            if same is None:
                raise
            return await _share(same)
        same = self._opening.get(key)
        if same is not None:
            return await _share(same)
        # Shielded and tracked: a caller that goes away doesn't stop the open halfway, and
        # shutdown waits for it (see `drain`).
        opening = self._track(self._reserve_and_create(panel, button, member, checked, source))
        self._opening[key] = opening
        opening.add_done_callback(lambda _: self._opening.pop(key, None))
        return await asyncio.shield(opening)

    async def _reserve_and_create(
        self,
        panel: Panel,
        button: Button,
        member: MemberInfo,
        checked: tuple[Answer, ...],
        source: Source,
    ) -> OpenedTicket:
        guild_id, user_id = panel.guild_id, member.user_id
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
                    thread_parent_id=button.thread_channel_id,
                )
            self._in_flight.add(ticket.ticket_id)
            return await self._create(panel, button, member, ticket)

    def _track(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_retrieved)  # its caller may have gone: the answer goes nowhere
        return task

    @property
    def opening(self) -> int:
        """How many opens are between their reservation and their welcome message right now."""
        return len(self._in_flight)

    async def drain(self, timeout: float | None = None) -> int:
        """Let opens in progress (and their log posts) finish: the shutdown's last step before
        the gateway closes. After `timeout` seconds the rest are cancelled and left to the next
        start's `reconcile` (a cancelled open undoes nothing); returns how many were."""
        try:
            async with asyncio.timeout(timeout):
                while self._tasks:
                    await asyncio.gather(*list(self._tasks), return_exceptions=True)
        except TimeoutError:
            pass
        left = list(self._tasks)
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)
        if left:
            _LOG.warning(
                "stopped with %d open(s) in progress: the next start settles them", len(left)
            )
        return len(left)

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
        if open_now:
            same_button = [t for t in open_now if t.button_id == button.button_id]
            if len(same_button) >= button.max_open:
                raise TooManyOpen("button", button.max_open, same_button[0].channel_id)
        server_max = facts.user_max_open or limits.user_max_open
        if len(open_now) >= server_max:
            raise TooManyOpen("server", server_max, open_now[0].channel_id)
        oldest = facts.oldest_in_window
        if facts.opened_in_window >= limits.server_per_minute and oldest is not None:
            raise RateLimited("server", oldest + limits.window - now, facts, now)
        last = facts.last_open
        if last is not None and now - last < limits.user_cooldown:
            raise RateLimited("user", last + limits.user_cooldown - now, facts, now)
        return now

    async def _create(
        self,
        panel: Panel,
        button: Button,
        member: MemberInfo,
        ticket: Ticket,
    ) -> OpenedTicket:
        channel_id: int | None = None
        spec = self._channel_spec(button, member, ticket)
        try:
            if ticket.thread_parent_id is not None:
                # Threads mode: create, add the opener, welcome: three calls, no category.
                channel_id = await self._discord.create_ticket_thread(
                    ThreadSpec(ticket.guild_id, ticket.thread_parent_id, spec.name)
                )
                await self._store.set_channel(ticket.ticket_id, channel_id, None)
                await self._discord.add_thread_member(channel_id, member.user_id)
            else:
                async with self._place(ticket.guild_id, button) as category_id:
                    spec = dataclasses.replace(spec, category_id=category_id)
                    channel_id = await self._discord.create_ticket_channel(spec)
                await self._store.set_channel(ticket.ticket_id, channel_id, spec.category_id)
            welcome_id = await self._discord.send_welcome(
                self._welcome(panel, button, ticket, channel_id)
            )
            await self._store.mark_open(ticket.ticket_id, welcome_id)
        except asyncio.CancelledError:
            raise  # shutdown gave up waiting: the row stays 'opening' for the next start
        except BaseException as exc:
            unsure = isinstance(exc, DiscordFailure) and exc.may_have_happened
            left = await self._undo(ticket, spec, channel_id, search=unsure)
            if left is not None and isinstance(exc, DiscordFailure):
                raise DiscordFailure(exc.reason, left_behind=left) from exc
            raise
        finally:
            self._in_flight.discard(ticket.ticket_id)
        if ticket.thread_parent_id is not None and ticket.support_role_ids:
            self._track(self._add_staff(ticket, channel_id))
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

    async def _add_staff(self, ticket: Ticket, thread_id: int) -> None:
        """Support-role members join the ticket's private thread (at most `THREAD_STAFF_MAX`,
        from the member index): a private thread takes members, not roles."""
        staff = self._discord.role_member_ids(
            ticket.guild_id, ticket.support_role_ids, THREAD_STAFF_MAX
        )
        for user_id in staff:
            if user_id == ticket.user_id:
                continue
            try:
                await self._discord.add_thread_member(thread_id, user_id)
            except DiscordFailure as exc:
                _LOG.warning("ticket #%d: could not add staff %d: %s", ticket.number, user_id, exc)
                return

    def _place(self, guild_id: int, button: Button) -> AbstractAsyncContextManager[int | None]:
        """The button's first category with room (see `bot.core.overflow`)."""
        if self._placement is None:
            return contextlib.nullcontext(button.category_id)
        return self._placement.place(guild_id, button)

    async def _undo(
        self, ticket: Ticket, spec: ChannelSpec, channel_id: int | None, *, search: bool
    ) -> int | None:
        """Drop the failed open's row and delete the channel it made. A delete Discord doesn't
        confirm stays in the cleanup outbox (retried until it does): returns that channel."""
        if channel_id is None and search and ticket.thread_parent_id is None:
            # A timed-out create may still have happened: look for it by its unique topic. If it
            # shows up later still, the channel-create event or the next sweep deletes it (a
            # thread, which has no topic, is always left to those).
            channel_id = await self._discord.find_channel(spec.guild_id, spec.topic)
        if channel_id is None:
            await self._store.drop(ticket.ticket_id)
            return None
        left = ChannelRef(ticket.guild_id, channel_id)
        await self._store.drop(ticket.ticket_id, left, self._clock())
        if self._cleanups is not None and await self._cleanups.attempt(left):
            return None
        return channel_id

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
            topic=ticket_topic(ticket.number, button.label, member.user_id),
        )

    def _welcome(
        self, panel: Panel | None, button: Button | None, ticket: Ticket, channel_id: int
    ) -> Welcome:
        """From the ticket's row (and its button, when it still exists), so a welcome sent by
        `reconcile` after a crash is the one the open would have sent."""
        user_id = ticket.user_id
        mentions = [f"<@{user_id}>"] + [f"<@&{r}>" for r in ticket.support_role_ids]
        description = (button.welcome_text if button else None) or (
            f"Thanks for reaching out, <@{user_id}>. The team will be with you shortly. "
            "Press **Close** when the matter is settled."
        )
        title = f"Ticket {ticket_tag(ticket.number)}"
        return Welcome(
            channel_id=channel_id,
            content=" ".join(mentions),
            mention_user_ids=(user_id,),
            mention_role_ids=ticket.support_role_ids,
            title=f"{title} · {button.label}" if button else title,
            description=description,
            fields=ticket.answers,
            ticket_id=ticket.ticket_id,
            colour=panel.colour if panel else None,
        )

    async def _unsettled(self) -> list[Ticket]:
        """The 'opening' rows this process settles: its own shards' servers only. When other
        processes share the database, a row may be one of their opens in progress (any process
        opens for any server): only rows older than an open can take (`OPEN_BOUND_S`) are a
        crash's. Alone, every such row is (its own opens in progress it knows)."""
        rows = [t for t in await self._store.opening_tickets() if self._shards.owns(t.guild_id)]
        if self._shards.every:
            return rows
        before = self._clock() - OPEN_BOUND_S
        return [t for t in rows if t.opened_at <= before]

    async def run_due(self) -> int:
        """A scheduler job when several processes share the database: a process that crashed
        mid-open is not there to settle it at its next start (the row's server may be ours)."""
        if self._shards.every:
            return 0
        opened, dropped = await self.reconcile()
        return opened + dropped

    async def next_at(self) -> float | None:
        if self._shards.every:
            return None
        rows = await self._store.opening_tickets()
        mine = [t.opened_at for t in rows if self._shards.owns(t.guild_id)]
        if not mine:
            return None
        at, now = min(mine) + OPEN_BOUND_S, self._clock()
        # A row past its bound that the last pass could not settle: try again later, not now.
        return at if at > now else now + SETTLE_RETRY_S

    async def reconcile(self) -> tuple[int, int]:
        """Settle rows a crash left 'opening', from the gateway cache (no REST call to find a
        channel): a row whose channel exists gets its welcome message, exactly one, and opens;
        a row without a channel is dropped."""
        opened = dropped = 0
        for ticket in await self._unsettled():
            # An open holds its user's lock from its reservation to its welcome message, so
            # under that lock a row is either this process's open in progress or a crash's.
            async with self._locks.hold((ticket.guild_id, ticket.user_id)):
                still = {t.ticket_id: t for t in await self._store.opening_tickets()}
                if ticket.ticket_id in self._in_flight or ticket.ticket_id not in still:
                    continue
                try:
                    kept = await self._recover(still[ticket.ticket_id])
                except DiscordFailure as exc:
                    _LOG.warning("ticket #%d: left for the next start (%s)", ticket.number, exc)
                    continue
                if kept is None:
                    continue
                opened += kept
                dropped += not kept
        if opened or dropped:
            _LOG.warning(
                "reconciled tickets interrupted while opening: %d kept, %d dropped",
                opened,
                dropped,
            )
        return opened, dropped

    async def settle(self, guild_ids: Iterable[int]) -> None:
        """At start, once the cache is warm: settle crashed opens, then delete stray channels."""
        await self.reconcile()
        for guild_id in guild_ids:
            await self.sweep(guild_id)
        if self._cleanups is not None:
            await self._cleanups.run_due()

    async def _recover(self, ticket: Ticket) -> bool | None:
        """True: opened with its welcome; False: dropped; None: its server isn't cached yet."""
        if ticket.thread_parent_id is not None:
            return await self._recover_thread(ticket)
        channels = self._discord.text_channels(ticket.guild_id)
        if channels is None:
            return None
        present = {c.channel_id for c in channels}
        channel_id = ticket.channel_id
        if channel_id is None:
            mine = [
                c.channel_id
                for c in channels
                if ticket_marker(c) == (ticket.number, ticket.user_id)
            ]
            channel_id = min(mine, default=None)  # any twin is swept as a stray below
            if channel_id is not None:
                await self._store.set_channel(ticket.ticket_id, channel_id, ticket.category_id)
        if channel_id is None or channel_id not in present:
            await self._store.drop(ticket.ticket_id)
            return False
        await self._welcome_once(ticket, channel_id)
        return True

    async def _recover_thread(self, ticket: Ticket) -> bool | None:
        """A thread has no topic to find it by: a crash before its ID was recorded drops the
        row (the sweep then deletes the thread); after, the open completes."""
        threads = self._discord.ticket_threads(ticket.guild_id)
        if threads is None:
            return None
        channel_id = ticket.channel_id
        if channel_id is None or channel_id not in {t.thread_id for t in threads}:
            await self._store.drop(ticket.ticket_id)
            return False
        await self._discord.add_thread_member(channel_id, ticket.user_id)  # idempotent
        await self._welcome_once(ticket, channel_id)
        return True

    async def _welcome_once(self, ticket: Ticket, channel_id: int) -> None:
        # A crash after the welcome was sent but before it was recorded must not send a second.
        welcome_id = await self._discord.find_welcome(channel_id, ticket.ticket_id)
        if welcome_id is None:
            panel = await self._store.get_panel(ticket.guild_id, ticket.panel_id or "")
            button = panel.button(ticket.button_id or "") if panel else None
            welcome_id = await self._discord.send_welcome(
                self._welcome(panel, button, ticket, channel_id)
            )
        await self._store.mark_open(ticket.ticket_id, welcome_id)
        _LOG.info("ticket #%d: opened after a restart (channel %d)", ticket.number, channel_id)

    async def _stray_threads(self, guild_id: int, only: int | None) -> list[int]:
        """Private threads the bot made that no ticket names, in channels where no threads-mode
        open is in progress (a half-made thread of a failed or crashed open)."""
        threads = [
            t
            for t in self._discord.ticket_threads(guild_id) or []
            if only is None or t.thread_id == only
        ]
        if not threads:
            return []
        named, opening = await self._store.thread_owners(guild_id, [t.thread_id for t in threads])
        return [
            t.thread_id for t in threads if t.thread_id not in named and t.parent_id not in opening
        ]

    async def sweep(self, guild_id: int, only: int | None = None) -> int:
        """Queue for deletion every channel the bot made for a ticket that has no row (an open
        that failed or was dropped before its channel appeared) or whose row has another
        channel (a twin). `only`: look at that one channel (a channel-create event)."""
        channels = self._discord.text_channels(guild_id, only)
        if channels is None or self._cleanups is None:
            return 0
        strays = await self._stray_threads(guild_id, only)
        marked = {
            c.channel_id: m
            for c in channels
            if (only is None or c.channel_id == only) and (m := ticket_marker(c)) is not None
        }
        if not marked and not strays:
            return 0
        rows = await self._store.by_numbers(guild_id, {n for n, _ in marked.values()})
        for channel_id, (number, user_id) in marked.items():
            row = rows.get(number)
            # A row without a channel yet is an open in progress, or a crash's for `reconcile`.
            theirs = row is not None and row.user_id == user_id
            if not theirs or (row and row.channel_id not in (None, channel_id)):
                strays.append(channel_id)
        for channel_id in strays:
            _LOG.warning("server %d: channel %d has no ticket: deleting it", guild_id, channel_id)
            await self._cleanups.enqueue(ChannelRef(guild_id, channel_id))
        return len(strays)
