"""Closing by the ticket's own button, transcripts of real conversations, vanished channels."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.app import Rimpllee
from bot.config import config_from_mapping
from bot.core.models import Ticket
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.interactions import InteractionRecord
from bot.sandbox.runner import HELP_BUTTON_ID, SandboxWorld
from tests.conftest import FakeClock, LoopErrors, running
from tests.helpers import change_settings, open_ticket, post, row, ticket

pytestmark = pytest.mark.asyncio


async def click_close(
    emulator: DiscordEmulator, world: SandboxWorld, channel_id: int, user_id: int
) -> InteractionRecord:
    welcome = next(iter(emulator.state.messages[channel_id].values()))
    close_id = welcome.components[0]["components"][0]["custom_id"]
    return await emulator.click_button(world.guild.id, user_id, channel_id, welcome.id, close_id)


async def test_close_button_asks_for_a_reason_then_closes(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld, clock: FakeClock
) -> None:
    opener = world.members[0].id
    channel_id = await open_ticket(app, opener)
    await emulator.send_user_message(channel_id, opener, "Thanks, all sorted!")
    confirm = await (await click_close(emulator, world, channel_id, world.admin.id)).wait_response()
    assert confirm["type"] == 9
    assert confirm["data"]["title"] == "Close ticket #0001?"
    (field,) = confirm["data"]["components"][0]["components"]
    submit = await emulator.submit_modal(
        world.guild.id,
        world.admin.id,
        channel_id,
        confirm["data"]["custom_id"],
        {field["custom_id"]: "Solved by a refund"},
    )
    answer = await submit.wait_response()
    assert answer["data"]["flags"] & 64
    closed = await _wait_closed(app, channel_id)
    assert (closed.closed_by, closed.close_reason) == (world.admin.id, "Solved by a refund")
    async with asyncio.timeout(10):  # the channel goes after the close is recorded
        while channel_id in emulator.state.channels:
            await asyncio.sleep(0.02)
    assert closed.transcript_path is not None
    html = Path(closed.transcript_path).read_text("utf-8")
    assert "Thanks, all sorted!" in html
    assert "Solved by a refund" in html
    # The opener's limit freed at once: after the cooldown they may open again.
    clock.advance(21)
    assert (await post(app, ticket(opener, HELP_BUTTON_ID)))[0] == 200


async def _wait_closed(app: Rimpllee, channel_id: int) -> Ticket:
    async with asyncio.timeout(10):
        while (found := await row(app, channel_id)).state != "closed":
            await asyncio.sleep(0.02)
    return found


async def test_close_button_refuses_members_who_may_not_close(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    opener = world.members[0].id
    channel_id = await open_ticket(app, opener)
    await change_settings(app, world, opener_can_close=False)
    refused = await (await click_close(emulator, world, channel_id, opener)).wait_response()
    assert refused["type"] == 4
    assert "only the staff can close" in refused["data"]["content"]
    bystander = await (
        await click_close(emulator, world, channel_id, world.members[1].id)
    ).wait_response()
    assert "support team" in bystander["data"]["content"]
    assert (await row(app, channel_id)).state == "open"


async def test_transcript_of_a_long_ticket_reads_every_page_and_escapes_text(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    opener = world.members[0].id
    channel_id = await open_ticket(app, opener)
    for i in range(300):
        await emulator.send_user_message(channel_id, opener, f"message number {i:03d}")
    await emulator.send_user_message(channel_id, opener, "<script>alert('x')</script> **bold**")
    pages_before = len(emulator.calls("GET", "/channels/{channel_id}/messages"))
    submit = await emulator.submit_modal(
        world.guild.id,
        world.admin.id,
        channel_id,
        f"rmp:closeform:{(await row(app, channel_id)).ticket_id}",
        {"reason": ""},
    )
    await submit.wait_response()
    closed = await _wait_closed(app, channel_id)
    assert closed.transcript_path is not None
    html = Path(closed.transcript_path).read_text("utf-8")
    assert all(f"message number {i:03d}" in html for i in range(300))
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(" in html
    assert "<strong>bold</strong>" in html
    assert "What do you need help with?" in html  # the welcome embed and its answers
    pages = len(emulator.calls("GET", "/channels/{channel_id}/messages")) - pages_before
    assert pages >= 4  # 302 messages, 100 a page


async def test_a_channel_deleted_by_hand_closes_its_ticket(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld, clock: FakeClock
) -> None:
    opener = world.members[0].id
    channel_id = await open_ticket(app, opener)
    await emulator.delete_channel_by_hand(channel_id)
    closed = await _wait_closed(app, channel_id)
    assert closed.close_reason == "channel deleted"
    clock.advance(21)
    assert (await post(app, ticket(opener, HELP_BUTTON_ID)))[0] == 200


async def test_a_channel_deleted_while_the_bot_was_stopped_is_closed_at_startup(
    app: Rimpllee,
    emulator: DiscordEmulator,
    world: SandboxWorld,
    clock: FakeClock,
    loop_errors: LoopErrors,
    tmp_path: Path,
) -> None:
    channel_id = await open_ticket(app, world.members[0].id)
    kept = await open_ticket(app, world.members[1].id)
    await app.stop()
    emulator.state.remove_channel(emulator.state.channels[channel_id])  # no bot to tell
    async with running(emulator, tmp_path / "rimpllee.db", loop_errors, clock=clock) as again:
        closed = await _wait_closed(again, channel_id)
        assert closed.close_reason == "channel deleted"
        assert (await row(again, kept)).state == "open"


async def test_without_message_content_the_transcript_says_so(
    emulator: DiscordEmulator, world: SandboxWorld, loop_errors: LoopErrors, tmp_path: Path
) -> None:
    from bot.sandbox.runner import seed_database

    database = tmp_path / "blind.db"
    await seed_database(database, world)
    config = config_from_mapping(
        {
            "discord": {
                "token": emulator.token,
                "rest_url": emulator.rest_url,
                "cdn_url": emulator.cdn_url,
                "intents": ["GUILDS", "GUILD_MEMBERS", "GUILD_MESSAGES"],
            },
            "http": {"port": 0},
            "database": {"path": str(database)},
        },
        source=Path("<test>"),
        env={},
    )
    async with running(emulator, database, loop_errors, config=config) as blind:
        opener = world.members[0].id
        channel_id = await open_ticket(blind, opener)
        await emulator.send_user_message(channel_id, opener, "secret words")
        ticket_row = await row(blind, channel_id)
        submit = await emulator.submit_modal(
            world.guild.id, world.admin.id, channel_id, f"rmp:closeform:{ticket_row.ticket_id}", {}
        )
        await submit.wait_response()
        closed = await _wait_closed(blind, channel_id)
        assert closed.transcript_path is not None
        html = Path(closed.transcript_path).read_text("utf-8")
        assert "secret words" not in html  # Discord blanked it, as it does without the intent
        assert "Message Content intent" in html
        assert "What do you need help with?" in html  # the bot's own welcome stays readable


async def test_the_log_channel_and_the_openers_dm_get_the_transcript(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    log = emulator.state.add_channel(world.guild, "ticket-log")
    await _announce(emulator, log.payload())
    await change_settings(app, world, log_channel_id=log.id, dm_transcript=True)
    opener = world.members[0]
    shy = world.members[1]
    shy.accepts_dms = False
    first = await open_ticket(app, opener.id)
    second = await open_ticket(app, shy.id)
    for channel_id in (first, second):
        submit = await emulator.submit_modal(
            world.guild.id,
            world.admin.id,
            channel_id,
            f"rmp:closeform:{(await row(app, channel_id)).ticket_id}",
            {"reason": "done"},
        )
        await submit.wait_response()
        await _wait_closed(app, channel_id)
    dm = emulator.state.dm_channel(opener)

    def closing_done() -> bool:  # the log post and the DM follow the closed row
        posts = emulator.state.messages[log.id].values()
        return sum(m.content.startswith("🔒") for m in posts) == 2 and bool(
            emulator.state.messages[dm.id]
        )

    async with asyncio.timeout(10):
        while not closing_done():
            await asyncio.sleep(0.02)
    posted = list(emulator.state.messages[log.id].values())
    opened = [m for m in posted if m.content.startswith("📥")]
    closed = [m for m in posted if m.content.startswith("🔒")]
    assert len(opened) == len(closed) == 2
    assert all(m.attachments and m.attachments[0].filename.endswith(".html") for m in closed)
    (letter,) = emulator.state.messages[dm.id].values()
    assert letter.attachments[0].data.startswith(b"<!DOCTYPE html>")
    assert emulator.state.messages[emulator.state.dm_channel(shy).id] == {}


async def _announce(emulator: DiscordEmulator, payload: dict[str, Any]) -> None:
    await emulator.publish("CHANNEL_CREATE", payload)


async def test_a_broken_log_channel_never_breaks_opening_or_closing(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    await change_settings(app, world, log_channel_id=999_999_999)
    channel_id = await open_ticket(app, world.members[0].id)
    submit = await emulator.submit_modal(
        world.guild.id,
        world.admin.id,
        channel_id,
        f"rmp:closeform:{(await row(app, channel_id)).ticket_id}",
        {},
    )
    await submit.wait_response()
    assert (await _wait_closed(app, channel_id)).state == "closed"


async def test_staff_rights_stay_with_the_ticket_when_its_button_goes(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld, clock: FakeClock
) -> None:
    from bot.core.panels import PanelService
    from bot.store.panels import SqlitePanelStore

    channel_id = await open_ticket(app, world.members[0].id)
    assert app.db is not None
    panels = PanelService(SqlitePanelStore(app.db), app.discord.port, clock)
    await panels.remove_button(world.guild.id, HELP_BUTTON_ID)
    record = await emulator.run_command(world.guild.id, world.admin.id, channel_id, "ticket claim")
    answer = await record.wait_response()
    assert "You now handle ticket #0001" in answer["data"]["content"]
    assert (await row(app, channel_id)).claimed_by == world.admin.id
