"""Threads mode: a button whose tickets are private threads of a channel, through the emulator
(which applies Discord's rules for private threads: who sees them, Create Private Threads, Send
Messages in Threads, Manage Threads, archived and locked threads) with real hikari and an
injected clock. Every lifecycle action works on a thread: open (three REST calls before the
answer), claim, add/remove, rename, close with a transcript, archive and reopen, delete, the
API's close, inactivity auto-close and close requests, and a half-made thread is cleaned up.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.app import Rimpllee
from bot.core.models import Ticket
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import (
    REPORT_BUTTON_ID,
    SandboxWorld,
    offer_logins,
    seed_database,
)
from bot.sandbox.state import (
    PRIVATE_THREAD,
    VIEW_CHANNEL,
    Channel,
)
from bot.store.automation import SqliteAutomationStore
from bot.store.panels import SqlitePanelStore
from bot.store.tickets import SqliteTicketStore
from tests.conftest import FakeClock, LoopErrors, running
from tests.dashboard_client import Browserless, Page
from tests.helpers import (
    call,
    cut_short_opens,
    hold_events_from,
    outbox,
    post,
    row,
    run,
    settings,
    threads_parent,
    ticket,
    tickets_url,
    wait_for,
)

pytestmark = pytest.mark.asyncio

HOUR = 3600.0
THREAD_CALLS = [
    ("POST", "/channels/{channel_id}/threads"),
    ("PUT", "/channels/{channel_id}/thread-members/{user_id}"),
    ("POST", "/channels/{channel_id}/messages"),
]


@pytest_asyncio.fixture
async def threads_app(
    emulator: DiscordEmulator,
    world: SandboxWorld,
    loop_errors: LoopErrors,
    tmp_path: Path,
    clock: FakeClock,
) -> AsyncIterator[tuple[Rimpllee, Channel]]:
    """The demo server with a #support channel (members read it and write only in threads), and
    the report button switched to threads mode there by `/panel button threads`."""
    parent = threads_parent(emulator, world)
    database = tmp_path / "rimpllee.db"
    await seed_database(database, world)
    async with running(emulator, database, loop_errors, clock=clock) as app:
        text = await run(
            emulator,
            world,
            world.panel_channel_id,
            "panel button threads",
            button=REPORT_BUTTON_ID,
            channel=parent,
        )
        assert f"private threads of <#{parent.id}>" in text, text
        yield app, parent


def error_under(page: Page, field: str) -> str:
    found = re.search(rf'id="error-{field}">([^<]*)<', page.text)
    assert found is not None, f"no message under {field}"
    return html.unescape(found.group(1))


async def make_button(admin: Browserless, world: SandboxWorld) -> str:
    """A panel with one button, made on the dashboard; the button's URL."""
    panels = f"/servers/{world.guild.id}/panels"
    page = await admin.get(panels)
    answer = await admin.post(
        panels, {"csrf": page.csrf, "title": "Billing desk", "description": "", "colour": ""}
    )
    assert answer.status == 303, answer.text
    panel_url = answer.headers["Location"].split("?")[0]
    button = await admin.post(panel_url + "/button", {"csrf": page.csrf, "label": "Refunds"})
    assert button.status == 303, button.text
    return button.headers["Location"].split("?")[0]


async def open_thread(app: Rimpllee, user_id: int, clock: FakeClock) -> int:
    status, body, _ = await post(app, ticket(user_id, REPORT_BUTTON_ID))
    assert status == 200, body
    clock.advance(21)  # the member's cooldown
    return int(body["ticket"]["channelId"])


def members_of(emulator: DiscordEmulator, thread_id: int) -> set[int]:
    state = emulator.state.channels[thread_id].thread
    assert state is not None
    return set(state.members)


def sees(emulator: DiscordEmulator, world: SandboxWorld, user_id: int, thread_id: int) -> bool:
    thread = emulator.state.channels[thread_id]
    return bool(world.guild.permissions(user_id, thread) & VIEW_CHANNEL)


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


async def test_an_api_open_makes_a_private_thread_in_three_calls(
    threads_app: tuple[Rimpllee, Channel],
    emulator: DiscordEmulator,
    world: SandboxWorld,
    clock: FakeClock,
) -> None:
    app, parent = threads_app
    opener, bystander = world.members[0].id, world.members[1].id
    before = len(emulator.requests)
    thread_id = await open_thread(app, opener, clock)
    assert [(r.method, r.route) for r in emulator.requests[before:]][:3] == THREAD_CALLS
    thread = emulator.state.channels[thread_id]
    assert (thread.type, thread.parent_id) == (PRIVATE_THREAD, parent.id)
    assert thread.thread is not None
    assert not thread.thread.invitable
    assert thread_id not in world.guild.channels  # no channel, no category limit
    # The opener and the bot are in it; the support team joins it right after the answer.
    await wait_for(
        lambda: {opener, world.admin.id, world.support_member.id} <= members_of(emulator, thread_id)
    )
    assert sees(emulator, world, opener, thread_id)
    assert sees(emulator, world, world.support_member.id, thread_id)
    assert not sees(emulator, world, bystander, thread_id)
    welcome = next(iter(emulator.state.messages[thread_id].values()))
    assert f"<@{opener}>" in welcome.content
    got = await row(app, thread_id)
    assert (got.state, got.thread_parent_id, got.category_id) == ("open", parent.id, None)
    # The opener writes in it as in a channel (Send Messages in Threads, not Send Messages).
    await emulator.send_user_message(thread_id, opener, "my report")


async def test_claim_add_remove_and_rename_work_on_the_thread(
    threads_app: tuple[Rimpllee, Channel],
    emulator: DiscordEmulator,
    world: SandboxWorld,
    clock: FakeClock,
) -> None:
    app, _ = threads_app
    opener, guest = world.members[0].id, world.members[1]
    thread_id = await open_thread(app, opener, clock)
    claimed = await run(emulator, world, thread_id, "ticket claim", world.support_member.id)
    assert "You now handle" in claimed, claimed
    assert (await row(app, thread_id)).claimed_by == world.support_member.id
    added = await run(emulator, world, thread_id, "ticket add", member=guest)
    assert "can now see and write in this ticket" in added
    assert guest.id in members_of(emulator, thread_id)
    assert sees(emulator, world, guest.id, thread_id)
    await run(emulator, world, thread_id, "ticket remove", member=guest)
    assert guest.id not in members_of(emulator, thread_id)
    assert not sees(emulator, world, guest.id, thread_id)
    refused = await run(
        emulator, world, thread_id, "ticket add", role=world.guild.roles[world.support_role_id]
    )
    assert "takes members, not roles" in refused
    await run(emulator, world, thread_id, "ticket rename", name="Billing question")
    assert emulator.state.channels[thread_id].name == "billing-question"


async def test_archive_reopen_and_delete_a_thread(
    threads_app: tuple[Rimpllee, Channel],
    emulator: DiscordEmulator,
    world: SandboxWorld,
    clock: FakeClock,
) -> None:
    app, _ = threads_app
    opener = world.members[0].id
    await settings(emulator, world, "close-mode", mode="archive")
    thread_id = await open_thread(app, opener, clock)
    await emulator.send_user_message(thread_id, opener, "please look at this")
    await run(emulator, world, thread_id, "ticket close", reason="done")
    await closed(app, (await row(app, thread_id)).ticket_id)
    thread = emulator.state.channels[thread_id].thread
    assert thread is not None
    assert (thread.archived, thread.locked) == (True, True)
    done = await row(app, thread_id)
    assert (done.state, done.archived) == ("closed", True)
    assert done.transcript_path is not None
    assert "please look at this" in Path(done.transcript_path).read_text("utf-8")
    # Locked: the opener can't bring it back by writing; staff reopen it.
    assert "is open again" in await run(emulator, world, thread_id, "ticket reopen")
    assert (thread.archived, thread.locked) == (False, False)
    assert (await row(app, thread_id)).state == "open"
    await run(emulator, world, thread_id, "ticket close")
    await closed(app, (await row(app, thread_id)).ticket_id)
    deleted = await run(emulator, world, thread_id, "ticket delete")
    assert "Deleting ticket" in deleted, deleted
    await wait_for(lambda: thread_id not in emulator.state.channels)


async def test_the_api_closes_a_thread_with_its_transcript(
    threads_app: tuple[Rimpllee, Channel],
    emulator: DiscordEmulator,
    world: SandboxWorld,
    clock: FakeClock,
) -> None:
    app, _ = threads_app
    opener = world.members[0].id
    thread_id = await open_thread(app, opener, clock)
    await emulator.send_user_message(thread_id, opener, "an API-closed thread")
    status, body, _ = await call(
        app, "POST", f"/api/v1/tickets/{thread_id}/close", {"reason": "solved"}
    )
    assert status == 200, body
    assert body["ticket"]["status"] == "closed"
    await wait_for(lambda: thread_id not in emulator.state.channels)  # delete mode
    done = await row(app, thread_id)
    assert done.transcript_path is not None
    assert "an API-closed thread" in Path(done.transcript_path).read_text("utf-8")


async def test_inactivity_and_close_requests_close_a_thread(
    threads_app: tuple[Rimpllee, Channel],
    emulator: DiscordEmulator,
    world: SandboxWorld,
    clock: FakeClock,
) -> None:
    app, _ = threads_app
    opener = world.members[0].id
    await settings(emulator, world, "inactivity", warn_hours=2.0, close_hours=1.0)
    quiet = await open_thread(app, opener, clock)
    quiet_id = (await row(app, quiet)).ticket_id
    clock.advance(2 * HOUR)
    await app.scheduler.tick()
    bot = emulator.state.bot.id
    warned = [
        m
        for m in emulator.state.messages[quiet].values()
        if m.author.id == bot and "no message from you" in m.content
    ]
    assert len(warned) == 1
    clock.advance(HOUR)
    await app.scheduler.tick()
    done = await closed(app, quiet_id)
    assert done.close_reason == "inactive"
    await wait_for(lambda: quiet not in emulator.state.channels)
    # A close request in a thread: the opener accepts it.
    asked = await open_thread(app, world.members[1].id, clock)
    text = await run(emulator, world, asked, "ticket close-request", reason="fixed")
    assert "Asked <@" in text, text
    (prompt,) = [
        m
        for m in emulator.state.messages[asked].values()
        if m.author.id == bot and "asks to close this ticket" in m.content
    ]
    accept = {b["label"]: b["custom_id"] for b in prompt.components[0]["components"]}["Accept"]
    record = await emulator.click_button(
        world.guild.id, world.members[1].id, asked, prompt.id, accept
    )
    await record.wait_response()
    done = await closed(app, (await row(app, asked)).ticket_id)
    assert done.close_reason == "fixed"


async def test_a_half_made_thread_is_deleted_and_the_open_undone(
    threads_app: tuple[Rimpllee, Channel],
    emulator: DiscordEmulator,
    world: SandboxWorld,
    clock: FakeClock,
) -> None:
    app, parent = threads_app
    opener = world.members[0].id
    emulator.inject_fault("POST", "/channels/{channel_id}/messages", 500, times=1)
    status, body, _ = await post(app, ticket(opener, REPORT_BUTTON_ID))
    assert status == 500, body
    assert body["error"]["code"] == "discord_error"
    await wait_for(lambda: not world.guild.threads)  # the thread it made is gone
    clock.advance(21)
    # Nothing is held against the member: the next open works.
    thread_id = await open_thread(app, opener, clock)
    assert emulator.state.channels[thread_id].parent_id == parent.id


async def test_a_sweep_that_still_sees_a_failed_opens_thread_leaves_nothing(
    threads_app: tuple[Rimpllee, Channel], emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    """The failed open deleted its thread, but THREAD_DELETE is late: the sweep still finds
    the thread in the cache with no ticket row, and must not queue it again."""
    app, _ = threads_app
    hold_events_from(emulator, "THREAD_DELETE")
    emulator.inject_fault("POST", "/channels/{channel_id}/messages", 500, times=1)
    status, body, _ = await post(app, ticket(world.members[0].id, REPORT_BUTTON_ID))
    assert status == 500, body
    (deleted,) = emulator.calls("DELETE", "/channels/{channel_id}")
    thread_id = int(deleted.path.rsplit("/", 1)[1])
    await wait_for(lambda: app.discord.bot.cache.get_thread(thread_id) is not None)
    assert app.tickets is not None
    await app.tickets.sweep(world.guild.id)  # as at the server's arrival
    assert await outbox(app) == []
    await emulator.gateway.release_events()
    await wait_for(lambda: app.discord.bot.cache.get_thread(thread_id) is None)
    assert len(emulator.calls("DELETE", "/channels/{channel_id}")) == 1


async def test_opens_that_crashed_are_settled_at_start(
    emulator: DiscordEmulator,
    world: SandboxWorld,
    loop_errors: LoopErrors,
    tmp_path: Path,
    clock: FakeClock,
) -> None:
    """Two threads-mode opens killed midway: one after Discord made the thread but before its ID
    was recorded (the row is dropped and the thread deleted, as a half-made channel), one after
    its ID was recorded (it gets its opener and its one welcome, and opens)."""
    parent = emulator.state.add_channel(world.guild, "support")
    bot = emulator.state.bot.id
    lost = emulator.state.add_thread(parent, "report-0001", bot)
    recorded = emulator.state.add_thread(parent, "report-0002", bot)
    database = tmp_path / "rimpllee.db"
    await cut_short_opens(
        database,
        world,
        world.members[:2],
        clock(),
        recorded=[None, recorded.id],
        thread_parent_id=parent.id,
    )
    async with running(emulator, database, loop_errors, clock=clock) as app:
        await wait_for(lambda: lost.id not in emulator.state.channels)
        kept = await row(app, recorded.id)
        assert kept.state == "open"
        assert world.members[1].id in members_of(emulator, recorded.id)
        (welcome,) = emulator.state.messages[recorded.id].values()
        assert f"<@{world.members[1].id}>" in welcome.content
        assert app.db is not None
        assert await SqliteTicketStore(app.db).opening_tickets() == []


async def test_the_dashboards_button_editor_sets_threads_mode(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    offer_logins(emulator, world, app.public_url)
    admin = Browserless(app, emulator)
    try:
        assert (await admin.login(world.admin.id)).status == 303
        button_url = await make_button(admin, world)
        page = await admin.get(button_url)
        assert 'name="thread_channel_id"' in page.text
        base = {
            "csrf": page.csrf,
            "label": "Refunds",
            "style": "primary",
            "name_pattern": "ticket-{number}",
            "max_open": "1",
        }
        both = await admin.post(
            button_url,
            base
            | {
                "category_id": str(world.category_id),
                "thread_channel_id": str(world.panel_channel_id),
            },
        )
        assert both.status == 400
        assert "either as private threads" in error_under(both, "thread_channel_id")
        saved = await admin.post(
            button_url, base | {"thread_channel_id": str(world.panel_channel_id)}
        )
        assert saved.status == 303, saved.text
        shown = await admin.get(button_url)
        assert f'value="{world.panel_channel_id}" selected' in shown.text
        assert app.db is not None
        button_id = button_url.rsplit("/", 1)[1]
        panel = await SqlitePanelStore(app.db).panel_for_button(world.guild.id, button_id)
        assert panel is not None
        button = panel.button(button_id)
        assert button is not None
        assert button.thread_channel_id == world.panel_channel_id
    finally:
        await admin.close()


async def test_the_dashboards_ticket_actions_work_on_a_thread(
    threads_app: tuple[Rimpllee, Channel],
    emulator: DiscordEmulator,
    world: SandboxWorld,
    clock: FakeClock,
) -> None:
    app, _ = threads_app
    assert app.db is not None
    await settings(emulator, world, "close-mode", mode="archive")
    thread_id = await open_thread(app, world.members[0].id, clock)
    number = (await row(app, thread_id)).number
    offer_logins(emulator, world, app.public_url)
    admin = Browserless(app, emulator)
    try:
        await admin.login(world.admin.id)
        url = tickets_url(world, f"/{number}")
        page = await admin.get(url)
        assert (await admin.post(url + "/claim", {"csrf": page.csrf})).status == 303
        assert (await row(app, thread_id)).claimed_by == world.admin.id
        assert (await admin.post(url + "/close", {"csrf": page.csrf})).status == 303
        thread = emulator.state.channels[thread_id].thread
        assert thread is not None
        assert (thread.archived, thread.locked) == (True, True)
        assert (await admin.post(url + "/reopen", {"csrf": page.csrf})).status == 303
        assert (thread.archived, thread.locked) == (False, False)
        assert (await admin.post(url + "/close", {"csrf": page.csrf})).status == 303
        assert (await admin.post(url + "/delete", {"csrf": page.csrf})).status == 303
        assert thread_id not in emulator.state.channels
    finally:
        await admin.close()
