"""A ticket's thread deleted while the bot was stopped is noticed when its server arrives.

Discord sends only a server's active threads when it arrives, so a ticket thread missing from the
gateway's cache may be deleted or only archived (auto-archived after a quiet spell, or a ticket
closed in archive mode). The bot asks Discord about each such thread (GET /channels/{id}) in the
background, a few at a time: 10003 Unknown Channel closes the ticket as a deleted channel does, a
thread that is there changes nothing, and a failed lookup leaves the ticket as it was.

Real hikari against the emulator over a real socket; the bot is stopped, Discord changes behind
its back (no gateway event reaches a stopped bot), and the bot starts again on the same database.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from bot.app import Rimpllee
from bot.core.lifecycle import THREAD_LOOKUPS
from bot.core.models import Ticket
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import HELP_BUTTON_ID, REPORT_BUTTON_ID, SandboxWorld, seed_database
from bot.sandbox.state import (
    Channel,
)
from bot.store.automation import SqliteAutomationStore
from tests.conftest import FakeClock, LoopErrors, running
from tests.helpers import (
    change_settings,
    post,
    row,
    run,
    settings,
    threads_parent,
    ticket,
    wait_for,
)

pytestmark = pytest.mark.asyncio

CHANNEL_ROUTE = "/channels/{channel_id}"
Start = Callable[[], contextlib.AbstractAsyncContextManager[Rimpllee]]


@pytest.fixture
def log_channel(emulator: DiscordEmulator, world: SandboxWorld) -> Channel:
    return emulator.state.add_channel(world.guild, "ticket-log")


@pytest_asyncio.fixture
async def start(
    emulator: DiscordEmulator,
    world: SandboxWorld,
    loop_errors: LoopErrors,
    tmp_path: Path,
    clock: FakeClock,
    log_channel: Channel,
) -> Start:
    """Starts the bot on one database, again and again. The first start puts the report button
    in threads mode (private threads of #support) and sets the log channel."""
    parent = threads_parent(emulator, world)
    database = tmp_path / "rimpllee.db"
    await seed_database(database, world)
    first = True

    @contextlib.asynccontextmanager
    async def one_run() -> AsyncIterator[Rimpllee]:
        nonlocal first
        async with running(emulator, database, loop_errors, clock=clock) as app:
            if first:
                first = False
                text = await run(
                    emulator,
                    world,
                    world.panel_channel_id,
                    "panel button threads",
                    button=REPORT_BUTTON_ID,
                    channel=parent,
                )
                assert f"private threads of <#{parent.id}>" in text, text
                await change_settings(app, world, log_channel_id=log_channel.id)
            yield app

    return one_run


@pytest.fixture
def lookups_logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="rimpllee.lifecycle")
    return caplog


async def open_one(app: Rimpllee, user_id: int, button: str, clock: FakeClock) -> Ticket:
    status, body, _ = await post(app, ticket(user_id, button))
    assert status == 200, body
    clock.advance(21)  # the member's cooldown
    return await row(app, int(body["ticket"]["channelId"]))


async def by_id(app: Rimpllee, ticket_id: int) -> Ticket:
    assert app.db is not None
    found = await SqliteAutomationStore(app.db).ticket(ticket_id)
    assert found is not None
    return found


def lookups(emulator: DiscordEmulator, channel_id: int) -> list[int]:
    """The statuses Discord answered the bot's GET of this channel with."""
    return [
        r.status
        for r in emulator.calls("GET", CHANNEL_ROUTE)
        if r.path.endswith(f"/channels/{channel_id}")
    ]


async def thread_check(caplog: pytest.LogCaptureFixture, guild_id: int) -> logging.LogRecord:
    """The line the server's thread check ends with (it runs in the background)."""
    prefix = f"server {guild_id}: looked up "

    def line() -> logging.LogRecord | None:
        return next((r for r in caplog.records if r.getMessage().startswith(prefix)), None)

    await wait_for(lambda: line() is not None)
    found = line()
    assert found is not None
    return found


def deleted_lines(emulator: DiscordEmulator, log_channel: Channel) -> list[str]:
    """The log channel's lines about tickets closed for a deleted channel."""
    return [
        m.content
        for m in emulator.state.messages[log_channel.id].values()
        if m.content.startswith("🗑️")
    ]


def archive_by_discord(emulator: DiscordEmulator, thread_id: int) -> None:
    """What Discord does to a quiet thread after its auto-archive duration."""
    thread = emulator.state.channels[thread_id].thread
    assert thread is not None
    thread.archived = True
    thread.archived_at = time.time()


async def test_an_open_tickets_thread_deleted_while_stopped_closes_it_like_a_channel(
    start: Start,
    emulator: DiscordEmulator,
    world: SandboxWorld,
    clock: FakeClock,
    log_channel: Channel,
    lookups_logged: pytest.LogCaptureFixture,
) -> None:
    in_channel, in_thread = world.members[0].id, world.members[1].id
    async with start() as app:
        channel_ticket = await open_one(app, in_channel, HELP_BUTTON_ID, clock)
        thread_ticket = await open_one(app, in_thread, REPORT_BUTTON_ID, clock)
        assert (channel_ticket.is_thread, thread_ticket.is_thread) == (False, True)
    thread_id = thread_ticket.channel_id
    assert channel_ticket.channel_id is not None
    assert thread_id is not None
    # The thread went quiet (archived), then someone deleted it; the bot heard nothing.
    archive_by_discord(emulator, thread_id)
    emulator.state.remove_channel(emulator.state.channels[thread_id])
    emulator.state.remove_channel(emulator.state.channels[channel_ticket.channel_id])
    async with start() as again:
        record = await thread_check(lookups_logged, world.guild.id)
        assert record.levelno == logging.WARNING
        assert "1 were deleted while offline, 0 could not be checked" in record.getMessage()
        assert lookups(emulator, thread_id) == [404]
        closed = await by_id(again, thread_ticket.ticket_id)
        assert (closed.state, closed.close_reason, closed.archived) == (
            "closed",
            "channel deleted",
            False,
        )
        channel_closed = await by_id(again, channel_ticket.ticket_id)
        assert (channel_closed.state, channel_closed.close_reason) == ("closed", "channel deleted")
        # The log channel reads the same for both.
        await wait_for(lambda: len(deleted_lines(emulator, log_channel)) >= 2)
        assert sorted(deleted_lines(emulator, log_channel)) == [
            f"🗑️ Ticket #0001 of <@{in_channel}> closed: its channel was deleted",
            f"🗑️ Ticket #0002 of <@{in_thread}> closed: its channel was deleted",
        ]
        # Its limit is freed: the opener may open again at once.
        assert (await post(again, ticket(in_thread, REPORT_BUTTON_ID)))[0] == 200


async def test_an_auto_archived_thread_stays_open_for_one_lookup(
    start: Start,
    emulator: DiscordEmulator,
    world: SandboxWorld,
    clock: FakeClock,
    log_channel: Channel,
    lookups_logged: pytest.LogCaptureFixture,
) -> None:
    async with start() as app:
        quiet = await open_one(app, world.members[0].id, REPORT_BUTTON_ID, clock)
        active = await open_one(app, world.members[1].id, REPORT_BUTTON_ID, clock)
    assert quiet.channel_id is not None
    assert active.channel_id is not None
    archive_by_discord(emulator, quiet.channel_id)
    async with start() as again:
        record = await thread_check(lookups_logged, world.guild.id)
        assert record.levelno == logging.INFO
        assert record.getMessage() == (
            f"server {world.guild.id}: looked up 1 ticket thread(s) missing from the gateway's "
            "cache: 0 were deleted while offline, 0 could not be checked"
        )
        assert lookups(emulator, quiet.channel_id) == [200]  # exactly one, and it is there
        assert lookups(emulator, active.channel_id) == []  # in the cache: no lookup at all
        for kept in (quiet, active):
            assert (await by_id(again, kept.ticket_id)).state == "open"
        assert deleted_lines(emulator, log_channel) == []


async def test_closed_tickets_archived_threads_cost_no_lookup_at_arrival(
    start: Start,
    emulator: DiscordEmulator,
    world: SandboxWorld,
    clock: FakeClock,
    lookups_logged: pytest.LogCaptureFixture,
) -> None:
    """They grow with history (one per closed ticket in archive mode): an arrival looks up
    open tickets' threads only, so its cost stays bounded by the open tickets."""
    async with start() as app:
        await settings(emulator, world, "close-mode", mode="archive")
        done = await open_one(app, world.members[0].id, REPORT_BUTTON_ID, clock)
        kept = await open_one(app, world.members[1].id, REPORT_BUTTON_ID, clock)
        for closing in (done, kept):
            assert closing.channel_id is not None
            await run(emulator, world, closing.channel_id, "ticket close", reason="done")
            await wait_for(lambda c=closing: _archived(app, c.ticket_id))
        still_open = await open_one(app, world.members[2].id, REPORT_BUTTON_ID, clock)
    assert done.channel_id is not None
    assert kept.channel_id is not None
    assert still_open.channel_id is not None
    emulator.state.remove_channel(emulator.state.channels[done.channel_id])
    archive_by_discord(emulator, still_open.channel_id)
    async with start() as again:
        record = await thread_check(lookups_logged, world.guild.id)
        assert "looked up 1 ticket thread(s)" in record.getMessage()
        assert lookups(emulator, still_open.channel_id) == [200]
        assert lookups(emulator, done.channel_id) == []
        assert lookups(emulator, kept.channel_id) == []
        for ticket_id in (done.ticket_id, kept.ticket_id):
            assert await _archived(again, ticket_id)


async def _archived(app: Rimpllee, ticket_id: int) -> bool:
    found = await by_id(app, ticket_id)
    return found.state == "closed" and found.archived


@pytest.mark.parametrize(
    ("status", "code", "reason"),
    [
        (500, 0, "Discord answered 500 when the bot tried to look up the channel"),
        (403, 50001, "(Missing Access) and could not look up the channel"),
    ],
)
async def test_a_lookup_that_fails_leaves_the_ticket_as_it_was(
    status: int,
    code: int,
    reason: str,
    start: Start,
    emulator: DiscordEmulator,
    world: SandboxWorld,
    clock: FakeClock,
    log_channel: Channel,
    lookups_logged: pytest.LogCaptureFixture,
) -> None:
    async with start() as app:
        opened = await open_one(app, world.members[0].id, REPORT_BUTTON_ID, clock)
    thread_id = opened.channel_id
    assert thread_id is not None
    # Deleted indeed, but Discord fails to say so: a failure is never taken for "gone".
    emulator.state.remove_channel(emulator.state.channels[thread_id])
    emulator.inject_fault("GET", CHANNEL_ROUTE, status, code=code)
    async with start() as again:
        record = await thread_check(lookups_logged, world.guild.id)
        assert record.levelno == logging.WARNING
        message = record.getMessage()
        assert "0 were deleted while offline, 1 could not be checked" in message
        assert reason in message
        assert "checked again at the server's next arrival" in message
        assert lookups(emulator, thread_id) == [status]
        still = await by_id(again, opened.ticket_id)
        assert (still.state, still.channel_id, still.close_reason) == ("open", thread_id, None)
        assert deleted_lines(emulator, log_channel) == []
    # The next arrival asks again, and Discord answers this time.
    async with start() as third:
        await wait_for(lambda: lookups(emulator, thread_id) == [status, 404])
        await wait_for(lambda: _closed_as_deleted(third, opened.ticket_id))


async def _closed_as_deleted(app: Rimpllee, ticket_id: int) -> bool:
    found = await by_id(app, ticket_id)
    return (found.state, found.close_reason) == ("closed", "channel deleted")


async def test_lookups_run_a_few_at_a_time_off_the_start(
    start: Start,
    emulator: DiscordEmulator,
    world: SandboxWorld,
    clock: FakeClock,
    lookups_logged: pytest.LogCaptureFixture,
) -> None:
    count = THREAD_LOOKUPS + 3
    async with start() as app:
        opened = [
            await open_one(app, world.members[i].id, REPORT_BUTTON_ID, clock) for i in range(count)
        ]
    thread_ids = [one.channel_id for one in opened if one.channel_id is not None]
    for thread_id in thread_ids:
        archive_by_discord(emulator, thread_id)
    # Discord is slow to answer the first lookup: the bot is ready before it ends.
    emulator.inject_fault("GET", CHANNEL_ROUTE, None, delay=4.0)
    answered_when_ready: list[int] = []

    class Ready(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("ready:"):
                answered_when_ready.append(len(emulator.calls("GET", CHANNEL_ROUTE)))

    lookups_logged.set_level(logging.INFO, logger="rimpllee")
    ready = Ready()
    logging.getLogger("rimpllee").addHandler(ready)
    try:
        async with start():
            await thread_check(lookups_logged, world.guild.id)
            assert answered_when_ready == [0]
            assert [s for t in thread_ids for s in lookups(emulator, t)] == [200] * count
            # The server comes back from an outage (a second arrival), and each lookup takes a
            # second now: never more than THREAD_LOOKUPS are in flight.
            lookups_logged.clear()
            slow = emulator.inject_fault("GET", CHANNEL_ROUTE, None, delay=1.0, times=count)
            bot = world.guild.members[emulator.state.bot.id]
            await emulator.publish(
                "GUILD_CREATE", world.guild.gateway_payload(members=[bot], large=False)
            )
            most = 0
            before = len(emulator.calls("GET", CHANNEL_ROUTE))

            def in_flight() -> int:
                nonlocal most
                answered = len(emulator.calls("GET", CHANNEL_ROUTE)) - before
                most = max(most, count - slow.remaining - answered)  # arrived, unanswered
                return answered

            await wait_for(lambda: in_flight() == count)
            record = await thread_check(lookups_logged, world.guild.id)
            assert f"looked up {count} ticket thread(s)" in record.getMessage()
            assert most == THREAD_LOOKUPS
    finally:
        logging.getLogger("rimpllee").removeHandler(ready)
