"""Tickets that look after themselves, through the emulator with real hikari and an injected clock:
close requests (accepted, kept open, timed out, cancelled by a message, across a restart),
inactivity auto-close (warning, close, the opener's message, exemption, a button's override,
catch-up after downtime) and openers who leave (online and while offline).

Timers fire when the test moves the clock and asks the scheduler for a pass (`tick`), never by
sleeping; the background runner may take the same pass first, which changes nothing (a timer is
claimed in one statement).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.app import Rimpllee
from bot.core.automation import BATCH
from bot.core.models import Ticket
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import HELP_BUTTON_ID, REPORT_BUTTON_ID, SandboxWorld
from bot.sandbox.state import Message
from bot.store.automation import SqliteAutomationStore
from tests.conftest import FakeClock, LoopErrors, running
from tests.helpers import open_ticket, post, row, run, settings, ticket, wait_for

pytestmark = pytest.mark.asyncio

HOUR = 3600.0


def said(emulator: DiscordEmulator, channel_id: int, text: str) -> list[Message]:
    """The bot's messages in the channel containing `text`."""
    bot = emulator.state.bot.id
    return [
        m
        for m in emulator.state.messages.get(channel_id, {}).values()
        if m.author.id == bot and text in m.content
    ]


async def closed(app: Rimpllee, ticket_id: int) -> Ticket:
    assert app.db is not None
    store = SqliteAutomationStore(app.db)

    async def done() -> bool:
        found = await store.ticket(ticket_id)
        return found is not None and found.state == "closed"

    await wait_for(done)
    found = await store.ticket(ticket_id)
    assert found is not None
    return found


async def timers(app: Rimpllee, ticket_id: int) -> dict[str, float]:
    assert app.db is not None
    found = await SqliteAutomationStore(app.db).timers(ticket_id)
    return {str(kind): due for kind, due in found.items()}


async def ask(
    app: Rimpllee,
    emulator: DiscordEmulator,
    world: SandboxWorld,
    channel_id: int,
    **options: Any,
) -> Message:
    """Staff run `/ticket close-request`; the prompt the opener gets."""
    text = await run(emulator, world, channel_id, "ticket close-request", **options)
    assert "Asked <@" in text, text
    (prompt,) = said(emulator, channel_id, "asks to close this ticket")
    return prompt


def buttons(prompt: Message) -> dict[str, str]:
    return {b["label"]: b["custom_id"] for b in prompt.components[0]["components"]}


async def click(
    emulator: DiscordEmulator, world: SandboxWorld, prompt: Message, label: str, user_id: int
) -> str:
    record = await emulator.click_button(
        world.guild.id, user_id, prompt.channel_id, prompt.id, buttons(prompt)[label]
    )
    response = await record.wait_response()
    assert response["data"]["flags"] & 64
    text: str = response["data"]["content"]
    return text


# -- close requests -----------------------------------------------------------------------------


async def test_close_request_accepted_by_the_opener_closes_it_normally(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    opener = world.members[0].id
    channel_id = await open_ticket(app, opener)
    ticket_id = (await row(app, channel_id)).ticket_id
    await emulator.send_user_message(channel_id, opener, "the refund arrived")
    prompt = await ask(app, emulator, world, channel_id, reason="Refund sent")
    assert f"<@{opener}>" in prompt.content
    assert "Refund sent" in prompt.content
    assert prompt.allowed_mentions is not None
    assert prompt.allowed_mentions.get("users") == [str(opener)]  # the opener is pinged
    assert set(buttons(prompt)) == {"Accept", "Keep open"}
    # Only the opener answers; staff and bystanders are told so and nothing happens.
    for other in (world.members[1].id, world.admin.id):
        refused = await click(emulator, world, prompt, "Accept", other)
        assert f"only <@{opener}>" in refused
    assert (await row(app, channel_id)).state == "open"
    assert "Closing the ticket" in await click(emulator, world, prompt, "Accept", opener)
    done = await closed(app, ticket_id)
    assert (done.closed_by, done.close_reason) == (opener, "Refund sent")
    assert done.transcript_path is not None
    html = Path(done.transcript_path).read_text("utf-8")
    assert "the refund arrived" in html
    assert "Refund sent" in html
    await wait_for(lambda: channel_id not in emulator.state.channels)


async def test_keep_open_keeps_it_and_tells_the_staff(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld, clock: FakeClock
) -> None:
    opener = world.members[0].id
    channel_id = await open_ticket(app, opener)
    ticket_id = (await row(app, channel_id)).ticket_id
    prompt = await ask(app, emulator, world, channel_id, after="1h")
    assert "closes by itself <t:" in prompt.content
    assert "stays open" in await click(emulator, world, prompt, "Keep open", opener)
    (told,) = said(emulator, channel_id, "would like to keep this ticket open")
    assert f"<@{world.admin.id}>" in told.content
    assert await timers(app, ticket_id) == {}  # the timer went with the answer
    clock.advance(2 * HOUR)
    await app.scheduler.tick()
    assert (await row(app, channel_id)).state == "open"
    # An answered request can't be answered again.
    assert "already answered" in await click(emulator, world, prompt, "Accept", opener)
    assert (await row(app, channel_id)).state == "open"


async def test_unanswered_close_request_closes_by_itself_after_a_restart(
    emulator: DiscordEmulator,
    world: SandboxWorld,
    loop_errors: LoopErrors,
    tmp_path: Path,
    clock: FakeClock,
    app: Rimpllee,
) -> None:
    opener = world.members[0].id
    channel_id = await open_ticket(app, opener)
    ticket_id = (await row(app, channel_id)).ticket_id
    await ask(app, emulator, world, channel_id, reason="Looks solved", after="12h")
    clock.advance(11 * HOUR)
    await app.scheduler.tick()
    assert (await row(app, channel_id)).state == "open"
    database = app.config.database.path
    await app.stop()  # the timer is a row: it outlives the process
    clock.advance(2 * HOUR)
    async with running(emulator, database, loop_errors, clock=clock) as again:
        await again.scheduler.tick()
        done = await closed(again, ticket_id)
    assert done.close_reason == "Looks solved"
    assert done.closed_by == emulator.state.bot.id
    assert channel_id not in emulator.state.channels


async def test_a_message_from_the_opener_cancels_the_timer_not_the_request(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld, clock: FakeClock
) -> None:
    opener = world.members[0].id
    channel_id = await open_ticket(app, opener)
    ticket_id = (await row(app, channel_id)).ticket_id
    prompt = await ask(app, emulator, world, channel_id, after="30m")
    # Staff writing doesn't count; the opener writing does, and the channel is told.
    await emulator.send_user_message(channel_id, world.admin.id, "any news?")
    await emulator.send_user_message(channel_id, opener, "wait, one more thing")
    await wait_for(lambda: said(emulator, channel_id, "won't close by itself"))
    assert "close_request" not in await timers(app, ticket_id)
    clock.advance(HOUR)
    await app.scheduler.tick()
    assert (await row(app, channel_id)).state == "open"
    # The request itself still stands.
    assert "Closing the ticket" in await click(emulator, world, prompt, "Accept", opener)
    assert (await closed(app, ticket_id)).closed_by == opener


async def test_close_request_refusals(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    opener = world.members[0].id
    channel_id = await open_ticket(app, opener)
    member = world.members[1].id
    text = await run(emulator, world, channel_id, "ticket close-request", member)
    assert "support team" in text
    text = await run(emulator, world, channel_id, "ticket close-request", after="soon")
    assert "not a duration" in text
    text = await run(emulator, world, channel_id, "ticket close-request", after="10s")
    assert "between 1 minute and 30 days" in text
    text = await run(emulator, world, world.panel_channel_id, "ticket close-request")
    assert "not a ticket" in text
    assert said(emulator, channel_id, "asks to close") == []


# -- inactivity ---------------------------------------------------------------------------------


async def test_inactivity_warns_then_closes_as_inactive(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld, clock: FakeClock
) -> None:
    opener = world.members[0].id
    text = await settings(emulator, world, "inactivity", warn_hours=2.0, close_hours=1.0)
    assert "after 2 hours" in text
    assert "1 hour later" in text
    channel_id = await open_ticket(app, opener)
    ticket_id = (await row(app, channel_id)).ticket_id
    await emulator.send_user_message(channel_id, world.admin.id, "hello?")  # staff: no reset
    clock.advance(2 * HOUR - 60)
    await app.scheduler.tick()
    assert said(emulator, channel_id, "no message from you") == []
    clock.advance(61)
    await app.scheduler.tick()
    (warning,) = said(emulator, channel_id, "no message from you for 2 hours")
    assert f"<@{opener}>" in warning.content
    assert "closes <t:" in warning.content
    clock.advance(HOUR)
    await app.scheduler.tick()
    done = await closed(app, ticket_id)
    assert (done.close_reason, done.closed_by) == ("inactive", emulator.state.bot.id)
    assert done.transcript_path is not None
    assert "inactive" in Path(done.transcript_path).read_text("utf-8")
    assert await timers(app, ticket_id) == {}


async def test_the_openers_message_restarts_the_countdown(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld, clock: FakeClock
) -> None:
    opener = world.members[0].id
    await settings(emulator, world, "inactivity", warn_hours=2.0, close_hours=1.0)
    channel_id = await open_ticket(app, opener)
    ticket_id = (await row(app, channel_id)).ticket_id
    clock.advance(2 * HOUR)
    await app.scheduler.tick()
    assert len(said(emulator, channel_id, "no message from you")) == 1
    close_at = (await timers(app, ticket_id))["inactivity_close"]
    await emulator.send_user_message(channel_id, opener, "still here!")

    async def restarted() -> bool:
        return (await timers(app, ticket_id)) == {"inactivity_warn": clock.now + 2 * HOUR}

    await wait_for(restarted)
    clock.advance(close_at - clock.now + 1)
    await app.scheduler.tick()
    assert (await row(app, channel_id)).state == "open"
    assert len(said(emulator, channel_id, "no message from you")) == 1


async def test_staff_exempt_a_ticket_and_a_button_overrides_the_server(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld, clock: FakeClock
) -> None:
    await settings(emulator, world, "inactivity", warn_hours=1.0, close_hours=1.0)
    text = await run(
        emulator,
        world,
        world.panel_channel_id,
        "panel button inactivity",
        button=REPORT_BUTTON_ID,
        warn_hours=0.0,
    )
    assert "never closes for inactivity" in text
    exempt = await open_ticket(app, world.members[0].id)
    never = await open_ticket(app, world.members[1].id, REPORT_BUTTON_ID)
    clock.advance(30)
    usual = await open_ticket(app, world.members[2].id)
    member = world.members[3].id
    assert "support team" in await run(emulator, world, exempt, "ticket exempt", member)
    assert "won't close" in await run(emulator, world, exempt, "ticket exempt")
    clock.advance(3 * HOUR)
    await app.scheduler.tick()
    await app.scheduler.tick()
    assert (await row(app, exempt)).state == "open"
    assert (await row(app, never)).state == "open"
    assert said(emulator, exempt, "no message") == said(emulator, never, "no message") == []
    assert len(said(emulator, usual, "no message from you for 1 hour")) == 1
    # Undoing the exemption starts the countdown from now.
    assert "like the others" in await run(emulator, world, exempt, "ticket exempt", exempt=False)
    ticket_id = (await row(app, exempt)).ticket_id
    assert await timers(app, ticket_id) == {"inactivity_warn": clock.now + HOUR}


async def test_catch_up_after_downtime_warns_each_ticket_once_without_a_storm(
    emulator: DiscordEmulator,
    world: SandboxWorld,
    loop_errors: LoopErrors,
    clock: FakeClock,
    app: Rimpllee,
) -> None:
    await settings(emulator, world, "inactivity", warn_hours=1.0, close_hours=2.0)
    channels = []
    for member in world.members[:-1]:  # the last one is blacklisted
        for button in (HELP_BUTTON_ID, REPORT_BUTTON_ID, REPORT_BUTTON_ID):
            status, body, _ = await post(app, ticket(member.id, button))
            assert status == 200, body
            channels.append(int(body["ticket"]["channelId"]))
            clock.advance(21)  # the member's cooldown
    assert len(channels) == 27
    database = app.config.database.path
    await app.stop()
    clock.advance(3 * 24 * HOUR)  # three days offline: every warning is long overdue
    posts = "/channels/{channel_id}/messages"
    before = len(emulator.calls("POST", posts))
    async with running(emulator, database, loop_errors, clock=clock) as again:
        await again.scheduler.tick()
        for channel_id in channels:
            assert len(said(emulator, channel_id, "no message from you")) == 1
            assert (await row(again, channel_id)).state == "open"
        assert len(emulator.calls("POST", posts)) - before == len(channels)
        # The close stage counts from the warning, not from before the downtime.
        clock.advance(2 * HOUR)
        await again.scheduler.tick()
        for channel_id in channels:
            assert (await row(again, channel_id)).close_reason == "inactive"
    assert len(channels) < 2 * BATCH  # one claim of a batch at most twice


# -- the opener leaves --------------------------------------------------------------------------


async def test_opener_leaving_keeps_or_closes_as_the_server_says(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    kept_by, closed_by = world.members[0].id, world.members[1].id
    kept = await open_ticket(app, kept_by)
    await emulator.member_leave(world.guild.id, kept_by)
    await wait_for(lambda: said(emulator, kept, "left the server"))
    assert (await row(app, kept)).state == "open"
    assert "tickets close" in await settings(emulator, world, "opener-left", mode="close")
    gone = await open_ticket(app, closed_by)
    ticket_id = (await row(app, gone)).ticket_id
    await emulator.member_leave(world.guild.id, closed_by)
    done = await closed(app, ticket_id)
    assert (done.close_reason, done.closed_by) == ("opener left", emulator.state.bot.id)
    assert len(said(emulator, kept, "left the server")) == 1


async def test_openers_who_left_while_offline_are_found_at_startup(
    emulator: DiscordEmulator,
    world: SandboxWorld,
    loop_errors: LoopErrors,
    clock: FakeClock,
    app: Rimpllee,
) -> None:
    stays, leaves = world.members[0].id, world.members[1].id
    staying = await open_ticket(app, stays)
    leaving = await open_ticket(app, leaves)
    database = app.config.database.path
    await app.stop()
    await emulator.member_leave(world.guild.id, leaves, announce=False)
    async with running(emulator, database, loop_errors, clock=clock):
        pass
    assert len(said(emulator, leaving, "left the server")) == 1
    assert said(emulator, staying, "left the server") == []
    # Said once: the next start doesn't say it again.
    async with running(emulator, database, loop_errors, clock=clock) as again:
        assert (await row(again, leaving)).state == "open"
    assert len(said(emulator, leaving, "left the server")) == 1


# -- feedback -----------------------------------------------------------------------------------


def dms(emulator: DiscordEmulator, user_id: int) -> list[Message]:
    channel = emulator.state.dm_channel(emulator.state.users[user_id])
    return list(emulator.state.messages[channel.id].values())


async def test_the_opener_rates_the_support_after_close(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    log = emulator.state.add_channel(world.guild, "ticket-log")
    await emulator.publish("CHANNEL_CREATE", log.payload())
    await wait_for(lambda: app.discord.bot.cache.get_guild_channel(log.id) is not None)
    assert "go to" in await settings(emulator, world, "log-channel", channel=log)
    assert "rate the support" in await settings(emulator, world, "feedback", enabled=True)
    opener = world.members[0].id
    channel_id = await open_ticket(app, opener)
    ticket_id = (await row(app, channel_id)).ticket_id
    await run(emulator, world, channel_id, "ticket close", reason="Refunded")
    await closed(app, ticket_id)
    await wait_for(lambda: any("How was the support?" in m.content for m in dms(emulator, opener)))
    (asked,) = [m for m in dms(emulator, opener) if "How was the support?" in m.content]
    stars = {b["label"]: b["custom_id"] for b in asked.components[0]["components"]}
    assert list(stars) == ["★", "★★", "★★★", "★★★★", "★★★★★"]
    form = await (await emulator.click_dm_button(opener, asked.id, stars["★★★★"])).wait_response()
    assert form["type"] == 9  # the comment form
    (field,) = form["data"]["components"][0]["components"]
    submit = await emulator.submit_dm_modal(
        opener, form["data"]["custom_id"], {field["custom_id"]: "Quick <b>and</b> kind"}
    )
    thanks = await submit.wait_response()
    assert "rated ticket #0001 4/5" in thanks["data"]["content"]
    assert app.db is not None
    rated = await SqliteAutomationStore(app.db).rating(ticket_id)
    assert rated == 4
    done = await closed(app, ticket_id)
    assert done.transcript_path is not None
    html = Path(done.transcript_path).read_text("utf-8")
    assert "<dt>Rating</dt><dd>★★★★☆ 4/5 — Quick &lt;b&gt;and&lt;/b&gt; kind</dd>" in html
    logged = [m.content for m in emulator.state.messages[log.id].values()]
    assert any("rated 4/5" in m and "Quick <b>and</b> kind" in m for m in logged)
    # Once per ticket: a second click is refused before the form.
    again = await (await emulator.click_dm_button(opener, asked.id, stars["★"])).wait_response()
    assert "already rated" in again["data"]["content"]
    assert await SqliteAutomationStore(app.db).rating(ticket_id) == 4


async def test_no_feedback_asked_unless_the_server_wants_it(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    opener = world.members[0].id
    channel_id = await open_ticket(app, opener)
    ticket_id = (await row(app, channel_id)).ticket_id
    await run(emulator, world, channel_id, "ticket close")
    await closed(app, ticket_id)
    await wait_for(lambda: channel_id not in emulator.state.channels)
    assert not [m for m in dms(emulator, opener) if "How was the support?" in m.content]


async def test_a_request_the_opener_never_saw_closes_nothing(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld, clock: FakeClock
) -> None:
    channel_id = await open_ticket(app, world.members[0].id)
    ticket_id = (await row(app, channel_id)).ticket_id
    emulator.inject_fault("POST", "/channels/{channel_id}/messages", 403, code=50013)
    text = await run(emulator, world, channel_id, "ticket close-request", after="1h")
    assert "permissions" in text
    assert await timers(app, ticket_id) == {}
    clock.advance(2 * HOUR)
    await app.scheduler.tick()
    assert (await row(app, channel_id)).state == "open"


async def test_closing_ends_the_tickets_timers_so_a_reopened_one_stays_open(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld, clock: FakeClock
) -> None:
    await settings(emulator, world, "close-mode", mode="archive")
    await settings(emulator, world, "inactivity", warn_hours=1.0, close_hours=1.0)
    opener = world.members[0].id
    channel_id = await open_ticket(app, opener)
    ticket_id = (await row(app, channel_id)).ticket_id
    await ask(app, emulator, world, channel_id, after="3h")
    clock.advance(HOUR)
    await app.scheduler.tick()
    assert set(await timers(app, ticket_id)) == {"inactivity_close", "close_request"}
    await run(emulator, world, channel_id, "ticket close")
    await closed(app, ticket_id)
    assert await timers(app, ticket_id) == {}
    assert "open again" in await run(emulator, world, channel_id, "ticket reopen")
    clock.advance(4 * HOUR)
    await app.scheduler.tick()
    assert (await row(app, channel_id)).state == "open"
