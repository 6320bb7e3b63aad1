"""Opens that fail on any step, or are cut short, leave Discord and the database agreeing."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from bot.app import Rimpllee
from bot.core.tickets import ticket_topic
from bot.discord.render import close_custom_id
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import (
    REPORT_BUTTON_ID,
    SandboxWorld,
    sandbox_config,
    seed_database,
)
from bot.sandbox.state import Overwrite
from bot.store.tickets import SqliteTicketStore
from tests.conftest import FakeClock, LoopErrors, running
from tests.helpers import (
    answer,
    click,
    cut_short_opens,
    error,
    hold_events_from,
    outbox,
    post,
    posted_panel,
    ticket,
    wait_for,
)

pytestmark = pytest.mark.asyncio

CREATE = ("POST", "/guilds/{guild_id}/channels")
WELCOME = ("POST", "/channels/{channel_id}/messages")
DELETE = ("DELETE", "/channels/{channel_id}")


def ticket_channels(world: SandboxWorld) -> list[int]:
    return [c.id for c in world.guild.channels.values() if (c.topic or "").startswith("Ticket #")]


@pytest.mark.parametrize("step", [CREATE, WELCOME], ids=["create", "welcome"])
@pytest.mark.parametrize(
    ("status", "code", "says"),
    [
        (403, 50013, "lacks permissions"),
        (404, 10003, "no longer exists"),
        (404, 0, "Discord answered 404"),  # no Unknown … code: it proves nothing is gone
        (500, 0, "Discord answered 500"),
        (None, 0, "did not answer within"),  # no answer in time
    ],
    ids=["403", "404", "404-no-code", "500", "timeout"],
)
async def test_each_discord_fault_on_each_step_leaves_nothing(
    app: Rimpllee,
    emulator: DiscordEmulator,
    world: SandboxWorld,
    step: tuple[str, str],
    status: int | None,
    code: int,
    says: str,
) -> None:
    if status is None:
        app.discord.port.timeout = 0.3
    emulator.inject_fault(*step, status, code=code, delay=0.6 if status is None else 0.0)
    reply = await post(app, ticket(world.members[0].id))
    assert reply[0] == 500
    assert says in error(reply)["message"]
    assert "could not be deleted" not in error(reply)["message"]
    await asyncio.sleep(0.7 if status is None else 0)  # let a late answer land, then look
    assert ticket_channels(world) == []
    assert app.db is not None
    assert await SqliteTicketStore(app.db).tickets(world.guild.id) == []
    assert await outbox(app) == []


async def test_a_sweep_that_still_sees_a_failed_opens_channel_leaves_nothing(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    """The failed open deleted its channel, but the gateway's CHANNEL_DELETE is late: the
    server's sweep still finds the channel in the cache with no ticket row. It must not queue
    a channel already deleted (an outbox row and a DELETE for nothing)."""
    hold_events_from(emulator, "CHANNEL_DELETE")
    emulator.inject_fault(*WELCOME, 500)
    reply = await post(app, ticket(world.members[0].id))
    assert reply[0] == 500
    assert "could not be deleted" not in error(reply)["message"]
    (deleted,) = emulator.calls(*DELETE)
    left = int(deleted.path.rsplit("/", 1)[1])
    await wait_for(lambda: app.discord.bot.cache.get_guild_channel(left) is not None)
    assert app.tickets is not None
    assert app.cleanups is not None
    await app.tickets.sweep(world.guild.id)  # as at the server's arrival
    assert await outbox(app) == []
    assert await app.cleanups.run_due() == 0
    await emulator.gateway.release_events()
    await wait_for(lambda: app.discord.bot.cache.get_guild_channel(left) is None)
    assert len(emulator.calls(*DELETE)) == 1
    assert ticket_channels(world) == []


async def test_a_failed_cleanup_is_kept_retried_and_told_honestly(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld, clock: FakeClock
) -> None:
    emulator.inject_fault(*WELCOME, 403, code=50013)
    emulator.inject_fault(*DELETE, 500, times=2)
    reply = await post(app, ticket(world.members[0].id))
    assert reply[0] == 500
    message = error(reply)["message"]
    assert "could not be deleted yet: the bot keeps trying until Discord confirms" in message
    (left,) = ticket_channels(world)
    assert str(left) in message
    assert await outbox(app) == [left]
    assert app.db is not None
    assert await SqliteTicketStore(app.db).tickets(world.guild.id) == []
    assert app.cleanups is not None
    assert await app.cleanups.run_due() == 0  # not due yet: backoff
    clock.advance(2)
    assert await app.cleanups.run_due() == 0  # Discord fails it again
    clock.advance(4)
    assert await app.cleanups.run_due() == 1
    assert ticket_channels(world) == []
    assert await outbox(app) == []


async def test_a_cleanup_left_by_a_stopped_bot_is_done_at_the_next_start(
    app: Rimpllee,
    emulator: DiscordEmulator,
    world: SandboxWorld,
    loop_errors: LoopErrors,
    tmp_path: Path,
    clock: FakeClock,
) -> None:
    emulator.inject_fault(*WELCOME, 403, code=50013)
    emulator.inject_fault(*DELETE, 500)
    assert (await post(app, ticket(world.members[0].id)))[0] == 500
    assert len(ticket_channels(world)) == 1
    await app.stop()
    clock.advance(2)  # its retry is due
    async with running(emulator, tmp_path / "rimpllee.db", loop_errors, clock=clock) as again:
        assert ticket_channels(world) == []
        assert await outbox(again) == []


async def test_a_channel_created_after_the_bot_gave_up_is_deleted_when_it_appears(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    """Discord finishes the create after the timeout and after the bot's search: the
    channel-create event matches it to the dropped open, and it goes."""
    app.discord.port.timeout = 0.2
    emulator.inject_fault(*CREATE, None, delay=3.2)  # after the 2.5 s search too
    reply = await post(app, ticket(world.members[0].id))
    assert "did not answer" in error(reply)["message"]
    async with asyncio.timeout(5):  # it appears, is deleted, and the outbox is told so
        while not emulator.calls(*DELETE) or await outbox(app):
            await asyncio.sleep(0.05)
    assert ticket_channels(world) == []
    assert len(emulator.calls(*DELETE)) == 1
    app.discord.port.timeout = 15
    assert (await post(app, ticket(world.members[1].id)))[0] == 200  # others open as usual


async def test_a_double_click_opens_one_ticket_without_a_cooldown(
    emulator: DiscordEmulator,
    world: SandboxWorld,
    loop_errors: LoopErrors,
    tmp_path: Path,
    clock: FakeClock,
) -> None:
    """max_open 3, no cooldown: two clicks in the same instant still open one ticket."""
    database = tmp_path / "r.db"
    await seed_database(database, world)
    base = sandbox_config(emulator, http_port=0, database=database)
    config = dataclasses.replace(
        base, limits=dataclasses.replace(base.limits, user_cooldown_seconds=0)
    )
    async with running(emulator, database, loop_errors, clock=clock, config=config) as app:
        message_id = await posted_panel(app, world, clock)
        emulator.inject_fault(*CREATE, None, delay=0.2)
        member = world.members[0].id
        first, second = await asyncio.gather(
            click(emulator, world, member, message_id, REPORT_BUTTON_ID),
            click(emulator, world, member, message_id, REPORT_BUTTON_ID),
        )
        said = {await answer(first), await answer(second)}
        assert len(said) == 1
        assert said.pop().startswith("Your ticket is open")
        assert len(ticket_channels(world)) == 1
        # Later clicks are new opens: the button allows 3.
        third = await click(emulator, world, member, message_id, REPORT_BUTTON_ID)
        assert (await answer(third)).startswith("Your ticket is open")
        assert len(ticket_channels(world)) == 2


async def test_recovery_sends_exactly_one_welcome_even_after_a_crash_during_recovery(
    emulator: DiscordEmulator,
    world: SandboxWorld,
    loop_errors: LoopErrors,
    tmp_path: Path,
    clock: FakeClock,
) -> None:
    database = tmp_path / "crash.db"
    made = await cut_short_opens(database, world, world.members[:3], clock())
    state = emulator.state
    channels = []
    for t in made:  # the channels were made; the kill came before their IDs were written
        channel = state.add_channel(
            world.guild, f"report-{t.number:04d}", parent_id=world.category_id
        )
        channel.topic = ticket_topic(t.number, "Report a player", t.user_id)
        channel.overwrites[t.user_id] = Overwrite(t.user_id, 1, allow=1 << 10, deny=0)
        channels.append(channel)
    # The first one's welcome was sent by a recovery that died before recording it.
    sent = state.add_message(
        channels[0],
        state.bot,
        "",
        components=[
            {
                "type": 1,
                "id": 1,
                "components": [
                    {
                        "type": 2,
                        "id": 2,
                        "style": 4,
                        "label": "Close",
                        "custom_id": close_custom_id(made[0].ticket_id),
                    }
                ],
            }
        ],
    )
    async with running(emulator, database, loop_errors, clock=clock) as app:
        assert app.db is not None
        rows = await SqliteTicketStore(app.db).tickets(world.guild.id)
        assert [(t.state, t.channel_id) for t in rows] == [("open", c.id) for c in channels]
        assert rows[0].welcome_message_id == sent.id
        for t, channel in zip(rows, channels, strict=True):
            bot_messages = [
                m for m in state.messages[channel.id].values() if m.author.id == state.bot.id
            ]
            assert [m.id for m in bot_messages] == [t.welcome_message_id]
