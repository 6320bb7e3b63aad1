"""A ticket after it opens: claim, members, rename, transcripts, close, reopen, delete.

Who may do what is decided here: staff are the ticket button's support roles and members who
can manage channels; the opener may close their own ticket unless the server turned that off.
Everything that happens is posted to the server's log channel, which never breaks an action.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from bot.core.errors import AdminError, DiscordFailure, NotAllowed, TranscriptNotSaved
from bot.core.limits import Clock, KeyedLocks
from bot.core.models import ServerSettings, Ticket
from bot.core.numbers import UPLOAD_MAX_BYTES, ticket_number, ticket_tag
from bot.core.ports import NO_PERMS, Perm
from bot.core.tickets import OPENER_PERMS, SUPPORT_PERMS, sanitize_channel_name
from bot.core.transcript_assets import AssetLimits, AssetSink, TranscriptAssets
from bot.core.transcripts import Names, TranscriptHeader, TranscriptMessage, TranscriptRenderer

_LOG = logging.getLogger("rimpllee.lifecycle")

REASON_MAX = 500
# A server's arrival looks up its ticket threads missing from the cache this many at a time (at
# most, across servers arriving together).
THREAD_LOOKUPS = 4
Target = Literal["role", "member"]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting, as Discord told us in the interaction."""

    user_id: int
    role_ids: frozenset[int]
    manages_channels: bool


@dataclass(frozen=True, slots=True)
class TranscriptFile:
    """The transcript's HTML file, as saved (its assets stay in its folder)."""

    filename: str
    path: str
    size: int


class LifecyclePort(Protocol):
    """What the lifecycle asks of Discord (failures raise `DiscordFailure`)."""

    @property
    def bot_user_id(self) -> int: ...

    @property
    def content_visible(self) -> bool: ...

    def history(self, channel_id: int) -> AsyncIterator[list[TranscriptMessage]]:
        """Every message, oldest first, a page at a time."""
        ...

    async def fetch_file(self, url: str, max_bytes: int) -> bytes | None: ...

    def emoji_url(self, emoji_id: int, animated: bool) -> str: ...

    async def load_server(self, guild_id: int, user_ids: Sequence[int] = ()) -> None:
        """Have `names` and `guild_name` at hand for the server (a scaled-out process asks
        Discord for a server on another process's shards); never raises."""
        ...

    def names(self, guild_id: int) -> Names: ...

    def guild_name(self, guild_id: int) -> str: ...

    def channel_name(self, channel_id: int) -> str | None: ...

    def channel_ids(self, guild_id: int) -> set[int] | None: ...

    async def channel_exists(self, channel_id: int) -> bool:
        """Asks Discord (one REST call): False only when Discord says the channel is unknown;
        any other failure raises `DiscordFailure`."""
        ...

    async def delete_channel(self, channel_id: int) -> None: ...

    async def set_access(
        self, channel_id: int, target_id: int, target: Target, allow: Perm, deny: Perm
    ) -> None: ...

    async def remove_access(self, channel_id: int, target_id: int) -> None: ...

    async def move_channel(self, channel_id: int, category_id: int) -> None: ...

    async def rename_channel(self, channel_id: int, name: str) -> None: ...

    async def add_thread_member(self, thread_id: int, user_id: int) -> None: ...

    async def remove_thread_member(self, thread_id: int, user_id: int) -> None: ...

    async def set_thread_archived(self, thread_id: int, archived: bool) -> None:
        """Archive and lock a ticket's thread (only staff may unarchive it), or the reverse."""
        ...

    async def post(
        self, channel_id: int, text: str, file: TranscriptFile | None = None
    ) -> None: ...

    async def send_dm(self, user_id: int, text: str, file: TranscriptFile | None) -> bool: ...


class LifecycleStore(Protocol):
    async def by_channel(self, channel_id: int) -> Ticket | None: ...

    async def by_id(self, ticket_id: int) -> Ticket | None: ...

    async def kept_in_guild(self, guild_id: int) -> list[Ticket]: ...

    async def close(
        self,
        ticket_id: int,
        *,
        closed_at: float,
        closed_by: int | None,
        reason: str | None,
        archived: bool,
        transcript_path: str | None,
    ) -> None: ...

    async def reopen(self, ticket_id: int, *, now: float, by: int | None = None) -> None: ...

    async def forget_channel(
        self, ticket_id: int, *, now: float, by: int | None = None
    ) -> None: ...

    async def set_claimed(
        self, ticket_id: int, user_id: int | None, *, locked: bool, now: float
    ) -> None: ...

    async def set_transcript(self, ticket_id: int, path: str) -> None: ...


class SettingsStore(Protocol):
    async def get(self, guild_id: int) -> ServerSettings: ...


class ButtonLabels(Protocol):
    async def button_label(self, guild_id: int, button_id: str | None) -> str | None: ...


class TranscriptDraft(AssetSink, Protocol):
    """One transcript being written: its assets, its body a page at a time, then the whole."""

    def write_body(self, html: str) -> None: ...

    def finish(self, head: str, tail: str) -> tuple[str, int]:
        """Put the HTML in place; returns where it is (kept on the ticket row) and its size."""
        ...

    def discard(self) -> None: ...


class TranscriptArchive(Protocol):
    def open(self, ticket: Ticket, filename: str) -> TranscriptDraft: ...


class EventLog:
    """Posts to the server's log channel; a failure is reported once per server, never raised."""

    def __init__(self, settings: SettingsStore, discord: LifecyclePort) -> None:
        self._settings = settings
        self._discord = discord
        self._reported: set[int] = set()

    async def post(self, guild_id: int, text: str, file: TranscriptFile | None = None) -> None:
        channel_id = (await self._settings.get(guild_id)).log_channel_id
        if channel_id is None:
            return
        try:
            await self._discord.post(channel_id, text, file)
        except DiscordFailure as exc:
            if guild_id not in self._reported:
                self._reported.add(guild_id)
                _LOG.warning(
                    "server %d: cannot post to its log channel %d (%s); tickets keep working, "
                    "fix the log channel with /settings log-channel",
                    guild_id,
                    channel_id,
                    exc,
                )
        else:
            self._reported.discard(guild_id)


def _number(ticket: Ticket) -> str:
    return ticket_tag(ticket.number)


class LifecycleService:
    def __init__(
        self,
        store: LifecycleStore,
        settings: SettingsStore,
        labels: ButtonLabels,
        discord: LifecyclePort,
        archive: TranscriptArchive,
        events: EventLog,
        clock: Clock = time.time,
        asset_limits: AssetLimits | None = None,
    ) -> None:
        self._asset_limits = asset_limits or AssetLimits()
        self._store = store
        self._settings = settings
        self._labels = labels
        self._discord = discord
        self._archive = archive
        self._events = events
        self._clock = clock
        self._locks = KeyedLocks()  # one close / reopen / delete at a time per channel
        self._thread_lookups = asyncio.Semaphore(THREAD_LOOKUPS)
        self._thread_checks: dict[int, asyncio.Task[None]] = {}  # by server, in the background
        self._stopped = False
        # Run after every close, best effort (e.g. asking the opener for feedback).
        self.after_close: list[Callable[[Ticket], Awaitable[None]]] = []

    # -- lookups and permissions ----------------------------------------------------------------

    async def ticket(self, channel_id: int, *, state: str | None = "open") -> Ticket:
        ticket = await self._store.by_channel(channel_id)
        if ticket is None:
            raise AdminError("this channel is not a ticket")
        if state == "open" and ticket.state != "open":
            raise AdminError(f"ticket {_number(ticket)} is closed")
        return ticket

    async def is_staff(self, ticket: Ticket, actor: Actor) -> bool:
        if actor.manages_channels:
            return True
        return bool(actor.role_ids.intersection(ticket.support_role_ids))

    async def _require_staff(self, ticket: Ticket, actor: Actor) -> None:
        if not await self.is_staff(ticket, actor):
            raise NotAllowed(
                "only this ticket's support team or members with Manage Channels can do that"
            )

    async def can_close(self, ticket: Ticket, actor: Actor) -> None:
        if actor.user_id == ticket.user_id:
            if (await self._settings.get(ticket.guild_id)).opener_can_close:
                return
            raise NotAllowed("on this server only the staff can close tickets")
        await self._require_staff(ticket, actor)

    # -- transcripts ----------------------------------------------------------------------------

    async def make_transcript(
        self,
        ticket: Ticket,
        *,
        closed_by: int | None = None,
        reason: str | None = None,
        closed_at: float | None = None,
    ) -> tuple[str, TranscriptFile]:
        """Read the channel's history a page at a time, save its files, render it, store it."""
        assert ticket.channel_id is not None
        await self._discord.load_server(ticket.guild_id, (ticket.user_id,))
        names = self._discord.names(ticket.guild_id)
        name = (
            self._discord.channel_name(ticket.channel_id)
            or f"ticket-{ticket_number(ticket.number)}"
        )
        header = TranscriptHeader(
            server_name=self._discord.guild_name(ticket.guild_id),
            ticket_name=name,
            ticket_number=ticket.number,
            opener=names.users.get(ticket.user_id, str(ticket.user_id)),
            opener_id=ticket.user_id,
            source=ticket.source,
            button_label=await self._labels.button_label(ticket.guild_id, ticket.button_id),
            opened_at=ticket.opened_at,
            closed_at=closed_at,
            closed_by=names.users.get(closed_by, str(closed_by)) if closed_by else None,
            close_reason=reason,
            content_visible=self._discord.content_visible,
            made_at=self._clock(),
        )
        filename = f"transcript-{ticket_number(ticket.number)}-{name}.html"
        try:
            draft = await asyncio.to_thread(self._archive.open, ticket, filename)
            try:
                path, size = await self._write_transcript(ticket.channel_id, header, names, draft)
            except BaseException:
                await asyncio.to_thread(draft.discard)
                raise
        except OSError as exc:
            # The disk's own words name the path: for the host's admin, not for Discord.
            _LOG.error("ticket %s: could not save its transcript: %s", _number(ticket), exc)
            raise TranscriptNotSaved from exc
        await self._store.set_transcript(ticket.ticket_id, path)
        return path, TranscriptFile(filename, path, size)

    async def _write_transcript(
        self, channel_id: int, header: TranscriptHeader, names: Names, draft: TranscriptDraft
    ) -> tuple[str, int]:
        """A page of messages at a time: its files saved, then its HTML rendered and written
        (in a thread: thousands of messages take a second to render)."""
        assets = TranscriptAssets(self._discord, draft, self._asset_limits)
        renderer = TranscriptRenderer(header, names, assets.emoji)

        def write(page: list[TranscriptMessage]) -> None:
            draft.write_body("".join(renderer.message(m) for m in page))

        async for page in self._discord.history(channel_id):
            await asyncio.to_thread(write, await assets.save_page(page))
        if assets.saved_files:
            _LOG.info(
                "transcript of ticket #%04d: saved %d files (%.1f MB)",
                header.ticket_number,
                assets.saved_files,
                assets.saved_bytes / 1024 / 1024,
            )
        return await asyncio.to_thread(
            draft.finish, renderer.head(assets.summary()), renderer.tail()
        )

    async def transcript(self, channel_id: int, actor: Actor) -> TranscriptFile:
        ticket = await self.ticket(channel_id, state=None)
        await self._require_staff(ticket, actor)
        _, file = await self.make_transcript(ticket)
        return file

    # -- close, reopen, delete ------------------------------------------------------------------

    async def close(self, channel_id: int, actor: Actor, reason: str | None) -> Ticket:
        """One close at a time per channel; the second of two simultaneous closes is told the
        ticket is closed. After the row says closed, nothing can undo the close.

        Returns the ticket as closed (`archived` says whether its channel was kept)."""
        async with self._locks.hold(channel_id):
            return await self._close(channel_id, actor.user_id, reason, actor)

    async def close_for(self, channel_id: int, closed_by: int, reason: str) -> Ticket:
        """A close nobody has to be allowed to make here: the opener accepting a close request,
        or the bot itself (inactivity, the opener left). Otherwise a normal close."""
        async with self._locks.hold(channel_id):
            return await self._close(channel_id, closed_by, reason, None)

    async def _close(
        self, channel_id: int, closed_by: int, reason: str | None, actor: Actor | None
    ) -> Ticket:
        ticket = await self.ticket(channel_id)
        if actor is not None:
            await self.can_close(ticket, actor)
        reason = (reason or "").strip()[:REASON_MAX] or None
        settings = await self._settings.get(ticket.guild_id)
        now = self._clock()
        path, file = await self.make_transcript(
            ticket, closed_by=closed_by, reason=reason, closed_at=now
        )
        archive = settings.close_mode == "archive"
        if archive and ticket.is_thread:
            await self._discord.set_thread_archived(channel_id, True)
        elif archive:
            if ticket.claim_locked:  # a reopened ticket starts unclaimed, the team able to write
                await self._unlock(ticket)
            await self._archive_channel(ticket, settings)
        await self._store.close(
            ticket.ticket_id,
            closed_at=now,
            closed_by=closed_by,
            reason=reason,
            archived=archive,
            transcript_path=path,
        )
        closed = dataclasses.replace(
            ticket,
            state="closed",
            closed_at=now,
            closed_by=closed_by,
            close_reason=reason,
            archived=archive,
            claimed_by=None,
            claim_locked=False,
            transcript_path=path,
        )
        if not archive:
            try:
                await self._discord.delete_channel(channel_id)
            except DiscordFailure:
                await self._store.reopen(ticket.ticket_id, now=self._clock())
                raise
        why = f": {reason}" if reason else ""
        text = f"🔒 Ticket {_number(ticket)} of <@{ticket.user_id}> closed by <@{closed_by}>{why}"
        attachment = file if file.size <= UPLOAD_MAX_BYTES else None
        if attachment is None:
            text += f" (transcript too large to attach; saved at {path})"
        await self._events.post(ticket.guild_id, text, attachment)
        if settings.dm_transcript:
            await self._dm_transcript(ticket, why, attachment)
        for hook in self.after_close:
            try:
                await hook(closed)
            except Exception:
                _LOG.exception("ticket %s: a step after closing failed", _number(ticket))
        return closed

    async def _dm_transcript(self, ticket: Ticket, why: str, file: TranscriptFile | None) -> None:
        """Best effort: the ticket is closed whatever happens to the DM."""
        server = self._discord.guild_name(ticket.guild_id)
        try:
            sent = await self._discord.send_dm(
                ticket.user_id,
                f"Your ticket {_number(ticket)} on {server} was closed{why}."
                + (" Here is its transcript." if file else ""),
                file,
            )
        except DiscordFailure as exc:
            _LOG.warning("ticket %s: the transcript DM failed: %s", _number(ticket), exc)
            return
        if not sent:
            _LOG.info("ticket %s: the opener does not accept DMs", _number(ticket))

    async def _archive_channel(self, ticket: Ticket, settings: ServerSettings) -> None:
        assert ticket.channel_id is not None
        await self._discord.set_access(
            ticket.channel_id, ticket.user_id, "member", NO_PERMS, Perm.VIEW_CHANNEL
        )
        if settings.archive_category_id is not None:
            await self._move(ticket, settings.archive_category_id)

    async def _move(self, ticket: Ticket, category_id: int) -> None:
        """Moving is tidiness, not access: a full category (50 channels) leaves it in place."""
        assert ticket.channel_id is not None
        try:
            await self._discord.move_channel(ticket.channel_id, category_id)
        except DiscordFailure as exc:
            _LOG.warning("ticket %s stays where it is: %s", _number(ticket), exc)

    async def reopen(self, channel_id: int, actor: Actor) -> Ticket:
        async with self._locks.hold(channel_id):
            return await self._reopen(channel_id, actor)

    async def _reopen(self, channel_id: int, actor: Actor) -> Ticket:
        ticket = await self.ticket(channel_id, state=None)
        if ticket.state == "open":
            raise AdminError(f"ticket {_number(ticket)} is already open")
        await self._require_staff(ticket, actor)
        if ticket.is_thread:
            await self._discord.set_thread_archived(channel_id, False)
        else:
            await self._discord.set_access(
                channel_id, ticket.user_id, "member", OPENER_PERMS, NO_PERMS
            )
        if ticket.category_id is not None:
            await self._move(ticket, ticket.category_id)
        await self._store.reopen(ticket.ticket_id, now=self._clock(), by=actor.user_id)
        await self._events.post(
            ticket.guild_id, f"🔓 Ticket {_number(ticket)} reopened by <@{actor.user_id}>"
        )
        return ticket

    async def delete(self, channel_id: int, actor: Actor) -> Ticket:
        async with self._locks.hold(channel_id):
            return await self._delete(channel_id, actor)

    async def _delete(self, channel_id: int, actor: Actor) -> Ticket:
        ticket = await self.ticket(channel_id, state=None)
        if ticket.state == "open":
            raise AdminError(f"ticket {_number(ticket)} is open: close it first")
        await self._require_staff(ticket, actor)
        await self._discord.delete_channel(channel_id)
        await self._store.forget_channel(ticket.ticket_id, now=self._clock(), by=actor.user_id)
        await self._events.post(
            ticket.guild_id, f"🗑️ Ticket {_number(ticket)} deleted by <@{actor.user_id}>"
        )
        return ticket

    # -- working a ticket -----------------------------------------------------------------------

    async def claim(self, channel_id: int, actor: Actor) -> Ticket:
        ticket = await self.ticket(channel_id)
        await self._require_staff(ticket, actor)
        if ticket.claimed_by == actor.user_id:
            raise AdminError("you already handle this ticket")
        if ticket.claimed_by is not None:
            raise AdminError(f"<@{ticket.claimed_by}> already handles this ticket")
        locked = (await self._settings.get(ticket.guild_id)).claim_locks and not ticket.is_thread
        if ticket.is_thread:
            # A private thread has no per-role access to narrow: the claimer joins it.
            await self._discord.add_thread_member(channel_id, actor.user_id)
        elif locked:
            await self._lock_to(ticket, actor.user_id)
        await self._store.set_claimed(
            ticket.ticket_id, actor.user_id, locked=locked, now=self._clock()
        )
        await self._events.post(
            ticket.guild_id, f"🙋 Ticket {_number(ticket)} claimed by <@{actor.user_id}>"
        )
        return ticket

    async def unclaim(self, channel_id: int, actor: Actor) -> Ticket:
        ticket = await self.ticket(channel_id)
        if ticket.claimed_by is None:
            raise AdminError("nobody handles this ticket yet")
        if ticket.claimed_by != actor.user_id and not actor.manages_channels:
            raise NotAllowed(f"only <@{ticket.claimed_by}> or a manager can unclaim it")
        if ticket.claim_locked:  # as it was claimed, whatever the setting says now
            await self._unlock(ticket)
        await self._store.set_claimed(ticket.ticket_id, None, locked=False, now=self._clock())
        return ticket

    async def _lock_to(self, ticket: Ticket, claimer: int) -> None:
        """Only the claimer (and admins) may write; the rest of the team may still read."""
        assert ticket.channel_id is not None
        readers = Perm.VIEW_CHANNEL | Perm.READ_MESSAGE_HISTORY
        for role in ticket.support_role_ids:
            await self._discord.set_access(
                ticket.channel_id, role, "role", readers, Perm.SEND_MESSAGES
            )
        await self._discord.set_access(
            ticket.channel_id, claimer, "member", SUPPORT_PERMS, NO_PERMS
        )

    async def _unlock(self, ticket: Ticket) -> None:
        """The team may write again. The claimer keeps their own overwrite: they are staff, and
        they may have been added to the ticket before they claimed it."""
        assert ticket.channel_id is not None
        for role in ticket.support_role_ids:
            await self._discord.set_access(ticket.channel_id, role, "role", SUPPORT_PERMS, NO_PERMS)

    def _check_target(self, ticket: Ticket, target_id: int) -> None:
        if target_id == ticket.guild_id:
            raise AdminError("@everyone's access is what keeps the ticket private; it can't change")
        if target_id == self._discord.bot_user_id:
            raise AdminError("the bot's own access can't change: it needs it to run the ticket")

    async def add(self, channel_id: int, actor: Actor, target_id: int, target: Target) -> Ticket:
        ticket = await self.ticket(channel_id)
        await self._require_staff(ticket, actor)
        self._check_target(ticket, target_id)
        if ticket.is_thread:
            if target == "role":
                raise AdminError(
                    "this ticket is a private thread, which takes members, not roles: "
                    "add the members one by one"
                )
            await self._discord.add_thread_member(channel_id, target_id)
        else:
            await self._discord.set_access(channel_id, target_id, target, OPENER_PERMS, NO_PERMS)
        return ticket

    async def remove(self, channel_id: int, actor: Actor, target_id: int) -> Ticket:
        ticket = await self.ticket(channel_id)
        await self._require_staff(ticket, actor)
        if target_id == ticket.user_id:
            raise AdminError("the opener can't be removed from their own ticket; close it instead")
        self._check_target(ticket, target_id)
        if ticket.is_thread:
            await self._discord.remove_thread_member(channel_id, target_id)
        else:
            await self._discord.remove_access(channel_id, target_id)
        return ticket

    async def rename(self, channel_id: int, actor: Actor, name: str) -> str:
        ticket = await self.ticket(channel_id)
        await self._require_staff(ticket, actor)
        clean = sanitize_channel_name(name)
        if not re.search(r"[a-z0-9]", clean):
            raise AdminError("that name has no letters or digits Discord would keep")
        await self._discord.rename_channel(channel_id, clean)
        return clean

    # -- channels that vanished -----------------------------------------------------------------

    async def channel_gone(self, channel_id: int) -> None:
        """A ticket channel was deleted (by hand, or while the bot was offline)."""
        ticket = await self._store.by_channel(channel_id)
        if ticket is None:
            return
        if ticket.state == "open":
            await self._store.close(
                ticket.ticket_id,
                closed_at=self._clock(),
                closed_by=None,
                reason="channel deleted",
                archived=False,
                transcript_path=None,
            )
            await self._events.post(
                ticket.guild_id,
                f"🗑️ Ticket {_number(ticket)} of <@{ticket.user_id}> closed: "
                "its channel was deleted",
            )
        elif ticket.archived:
            await self._store.forget_channel(ticket.ticket_id, now=self._clock())

    async def sweep(self, guild_id: int) -> int:
        """Close tickets whose channel no longer exists; run when a server becomes available.

        Returns how many channels were gone. An open ticket's thread missing from the cache may
        only be archived (Discord sends a server's active threads only), so each is looked up
        over REST in the background (`THREAD_LOOKUPS` at a time) and closed the same way if
        Discord says it is gone; a lookup that fails leaves its ticket as it is until the next
        arrival. Closed tickets' archived threads are not looked up: they grow with history."""
        existing = self._discord.channel_ids(guild_id)
        if existing is None:
            return 0
        missing = [
            t
            for t in await self._store.kept_in_guild(guild_id)
            if t.channel_id is not None and t.channel_id not in existing
        ]
        gone = [t.channel_id for t in missing if t.channel_id is not None and not t.is_thread]
        for channel_id in gone:
            await self.channel_gone(channel_id)
        if gone:
            _LOG.warning(
                "server %d: %d ticket channel(s) were deleted while offline", guild_id, len(gone)
            )
        # Open tickets only: they hold their opener's limits, and there are few of them. An
        # archived ticket's thread (history, one per closed ticket) is noticed when acted on.
        threads = [
            t.channel_id
            for t in missing
            if t.channel_id is not None and t.is_thread and t.state == "open"
        ]
        # One check at a time per server (a running one covers these); none once stopping.
        if threads and guild_id not in self._thread_checks and not self._stopped:
            task = asyncio.create_task(
                self._check_threads(guild_id, threads), name=f"thread check of server {guild_id}"
            )
            self._thread_checks[guild_id] = task
            task.add_done_callback(lambda done: self._thread_check_done(guild_id, done))
        return len(gone)

    async def _check_threads(self, guild_id: int, thread_ids: list[int]) -> None:
        pending = iter(thread_ids)  # shared by the workers
        gone: list[int] = []
        failures: list[DiscordFailure] = []

        async def worker() -> None:
            for thread_id in pending:
                async with self._thread_lookups:
                    try:
                        exists = await self._discord.channel_exists(thread_id)
                    except DiscordFailure as exc:
                        failures.append(exc)
                        continue
                if not exists:
                    gone.append(thread_id)
                    await self.channel_gone(thread_id)

        async with asyncio.TaskGroup() as workers:
            for _ in range(min(THREAD_LOOKUPS, len(thread_ids))):
                workers.create_task(worker())
        _LOG.log(
            logging.WARNING if gone or failures else logging.INFO,
            "server %d: looked up %d ticket thread(s) missing from the gateway's cache: %d were "
            "deleted while offline, %d could not be checked%s",
            guild_id,
            len(thread_ids),
            len(gone),
            len(failures),
            f" ({failures[0]}; checked again at the server's next arrival)" if failures else "",
        )

    def _thread_check_done(self, guild_id: int, task: asyncio.Task[None]) -> None:
        if self._thread_checks.get(guild_id) is task:
            del self._thread_checks[guild_id]
        if not task.cancelled() and (exc := task.exception()) is not None:
            _LOG.error("server %d: checking its ticket threads failed", guild_id, exc_info=exc)

    async def stop(self) -> None:
        """Cut short the thread checks still running (a close cut short is rolled back; the
        next arrival checks again)."""
        self._stopped = True
        checks = list(self._thread_checks.values())
        for task in checks:
            task.cancel()
        await asyncio.gather(*checks, return_exceptions=True)
