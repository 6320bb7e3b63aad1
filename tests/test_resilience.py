"""What happens when Discord is slow or fails, or two people act at once, or the bot stops."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.app import Rimpllee
from bot.core.admin import Settings
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import (
    HELP_BUTTON_ID,
    SandboxWorld,
)
from bot.store import Database
from bot.store.settings import SqliteSettingsStore
from bot.store.tickets import SqliteLifecycleStore, SqliteTicketStore
from tests.conftest import FakeClock, LoopErrors, running
from tests.helpers import (
    answer,
    click,
    close_form,
    cut_short_opens,
    error,
    open_ticket,
    post,
    posted_panel,
    row,
    ticket,
)

pytestmark = pytest.mark.asyncio


async def test_two_closes_at_once_close_once(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    channel_id = await open_ticket(app, world.members[0].id)
    ticket_id = (await row(app, channel_id)).ticket_id
    records = await asyncio.gather(
        *(
            emulator.submit_modal(
                world.guild.id, world.admin.id, channel_id, f"rmp:closeform:{ticket_id}", {"r": r}
            )
            for r in ("one", "two")
        )
    )
    async with asyncio.timeout(10):  # the close goes on after the answers (transcript first)
        while (closed := await row(app, channel_id)).state != "closed":
            await asyncio.sleep(0.02)
    assert closed.close_reason in ("one", "two")
    async with asyncio.timeout(10):  # the channel goes after the close is recorded
        while channel_id in emulator.state.channels:
            await asyncio.sleep(0.02)

    def said() -> str:
        return " ".join(
            [r.responses[0]["data"]["content"] for r in records if r.responses]
            + [f["content"] for r in records for f in r.followups]
        )

    async with asyncio.timeout(10):  # one of them says so
        while "closed" not in said():
            await asyncio.sleep(0.02)


async def test_a_full_archive_category_archives_in_place(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    assert app.db is not None
    archive = emulator.state.add_channel(world.guild, "Archive", type=4)
    await emulator.publish("CHANNEL_CREATE", archive.payload())
    await Settings(SqliteSettingsStore(app.db)).change(
        world.guild.id, close_mode="archive", archive_category_id=archive.id
    )
    emulator.inject_fault("PATCH", "/channels/{channel_id}", 400, code=50035)
    channel_id = await open_ticket(app, world.members[0].id)
    await close_form(emulator, world, app, channel_id, "done")
    closed = await row(app, channel_id)
    assert (closed.state, closed.archived) == ("closed", True)
    channel = emulator.state.channels[channel_id]
    assert channel.parent_id == world.category_id  # stayed where it was
    assert not world.guild.permissions(world.members[0].id, channel) & (1 << 10)


async def test_a_failing_dm_does_not_unclose_the_ticket(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    assert app.db is not None
    await Settings(SqliteSettingsStore(app.db)).change(world.guild.id, dm_transcript=True)
    emulator.inject_fault("POST", "/users/@me/channels", 500)
    channel_id = await open_ticket(app, world.members[0].id)
    said = await close_form(emulator, world, app, channel_id, "done")
    assert "not closed" not in said
    assert (await row(app, channel_id)).state == "closed"


async def test_a_timed_out_channel_create_that_happened_late_is_cleaned_up(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    app.discord.port.timeout = 0.3  # Discord is slower than the bot is willing to wait
    emulator.inject_fault("POST", "/guilds/{guild_id}/channels", None, delay=0.6)
    before = len(world.guild.channels)
    reply = await post(app, ticket(world.members[0].id))
    assert reply[0] == 500
    assert "did not answer" in error(reply)["message"]
    assert len(world.guild.channels) == before  # the late channel was found and deleted
    assert app.db is not None
    assert await SqliteTicketStore(app.db).tickets(world.guild.id) == []


async def test_stopping_lets_an_open_in_progress_finish(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    emulator.inject_fault("POST", "/guilds/{guild_id}/channels", None, delay=0.5)
    opening = asyncio.create_task(post(app, ticket(world.members[0].id)))
    assert app.tickets is not None
    async with asyncio.timeout(5):
        while app.tickets.opening == 0:  # reserved, now creating the channel
            await asyncio.sleep(0.01)
    database = app.config.database.path
    await app.stop()
    status, body, _ = await opening
    assert status == 200
    channel_id = int(body["ticket"]["channelId"])
    assert channel_id in emulator.state.channels
    db = await Database.open(database)
    try:
        found = await SqliteLifecycleStore(db).by_channel(channel_id)
        assert found is not None
        assert found.state == "open"
    finally:
        await db.close()


async def test_a_form_opened_before_a_restart_is_submitted_after_it(
    app: Rimpllee,
    emulator: DiscordEmulator,
    world: SandboxWorld,
    clock: FakeClock,
    loop_errors: LoopErrors,
    tmp_path: Path,
) -> None:
    message_id = await posted_panel(app, world, clock)
    member = world.members[0].id
    modal = await (await click(emulator, world, member, message_id, HELP_BUTTON_ID)).wait_response()
    question = modal["data"]["components"][0]["components"][0]["custom_id"]
    await app.stop()
    async with running(emulator, tmp_path / "rimpllee.db", loop_errors, clock=clock):
        submit = await emulator.submit_modal(
            world.guild.id,
            member,
            world.panel_channel_id,
            modal["data"]["custom_id"],
            {question: "still broken"},
        )
        assert (await answer(submit)).startswith("Your ticket is open")


async def test_startup_keeps_a_crash_row_it_cannot_check(
    emulator: DiscordEmulator,
    world: SandboxWorld,
    loop_errors: LoopErrors,
    tmp_path: Path,
    clock: FakeClock,
) -> None:
    database = tmp_path / "crash.db"
    channel = emulator.state.add_channel(world.guild, "ticket-0001", parent_id=world.category_id)
    (left,) = await cut_short_opens(
        database, world, world.members[:1], clock(), recorded=[channel.id]
    )
    # Whether its welcome was sent can't be checked: the row waits, nothing is sent blindly.
    emulator.inject_fault("GET", "/channels/{channel_id}/messages", 403, code=50001)
    # It starts, instead of failing on the one row it can't check.
    async with running(emulator, database, loop_errors) as app:
        assert app.db is not None
        rows = await SqliteTicketStore(app.db).tickets(world.guild.id)
        assert [(t.ticket_id, t.state) for t in rows] == [(left.ticket_id, "opening")]
        assert emulator.state.messages[channel.id] == {}


async def test_a_panel_deleted_between_lookup_and_reservation_is_not_found(
    app: Rimpllee, world: SandboxWorld, clock: FakeClock
) -> None:
    """The foreign key refuses the insert; the store says 'panel not found', not a 500."""
    from bot.core.errors import PanelNotFound

    assert app.db is not None
    store = SqliteTicketStore(app.db)
    with pytest.raises(PanelNotFound):
        async with store.reserve(world.guild.id) as tx:
            await tx.insert_opening(
                user_id=world.members[0].id,
                panel_id="pnl_deleted",
                button_id="btn_deleted",
                source="api",
                answers=[],
                support_role_ids=[],
                now=clock(),
            )
    assert await store.tickets(world.guild.id) == []


async def test_an_unwritable_transcripts_folder_fails_the_close_cleanly(
    app: Rimpllee,
    emulator: DiscordEmulator,
    world: SandboxWorld,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A broken disk is not a refusal: the closer is told the transcript could not be saved
    (without the host's path), the log names the path, nothing closes, and the interaction is
    still answered. (A file where the server's folder goes fails even for root.)"""
    folder = tmp_path / "transcripts" / str(world.guild.id)
    folder.parent.mkdir()
    folder.write_text("a file where the folder should be")
    channel_id = await open_ticket(app, world.members[0].id)
    said = await close_form(emulator, world, app, channel_id, "done")
    assert said == (
        "The ticket was not closed: the bot could not save the transcript; an admin has been told"
    )
    assert str(tmp_path) not in said
    logged = [r for r in caplog.records if r.name == "rimpllee.lifecycle"]
    assert any(str(folder) in r.getMessage() and r.levelname == "ERROR" for r in logged)
    assert (await row(app, channel_id)).state == "open"
    assert channel_id in emulator.state.channels
