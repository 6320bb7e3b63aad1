"""Never "category full": a button's overflow categories, the category the bot creates when all
are full, and the refusal near Discord's 500 channels per server, through the emulator (which
enforces both limits as Discord does). The counts come from the gateway cache: an open still
costs two REST calls.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import hikari
import pytest
import pytest_asyncio

from bot.app import Rimpllee
from bot.core.panels import PanelService
from bot.core.ports import CategoryLoad
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import DEMO_PANEL_ID, REPORT_BUTTON_ID, SandboxWorld, seed_database
from bot.sandbox.state import GUILD_CATEGORY, OVERWRITE_ROLE, VIEW_CHANNEL, Overwrite
from bot.store.panels import SqlitePanelStore
from tests.conftest import FakeClock, LoopErrors, running
from tests.helpers import error, post, row, run, settings, ticket

pytestmark = pytest.mark.asyncio

CREATES = ("POST", "/guilds/{guild_id}/channels")
POSTS = ("POST", "/channels/{channel_id}/messages")


def fill(emulator: DiscordEmulator, world: SandboxWorld, parent_id: int | None, count: int) -> None:
    for i in range(count):
        emulator.state.add_channel(world.guild, f"old-{parent_id}-{i}", parent_id=parent_id)


@pytest_asyncio.fixture
async def full_world(
    emulator: DiscordEmulator, world: SandboxWorld, tmp_path: Path
) -> AsyncIterator[Path]:
    """The demo server with its Tickets category (which lets the support role in) full."""
    category = emulator.state.channels[world.category_id]
    category.overwrites = {
        world.support_role_id: Overwrite(world.support_role_id, OVERWRITE_ROLE, VIEW_CHANNEL, 0)
    }
    fill(emulator, world, world.category_id, 50)
    database = tmp_path / "rimpllee.db"
    await seed_database(database, world)
    yield database


async def open_report(app: Rimpllee, user_id: int, clock: FakeClock) -> tuple[int, int | None]:
    """An API open of the report button: (channel, the category it landed in)."""
    status, body, _ = await post(app, ticket(user_id, REPORT_BUTTON_ID))
    assert status == 200, body
    clock.advance(21)
    channel_id = int(body["ticket"]["channelId"])
    return channel_id, (await row(app, channel_id)).category_id


def calls(emulator: DiscordEmulator, before: int) -> list[tuple[str, str]]:
    return [(r.method, r.route) for r in emulator.requests[before:]]


async def wait_cached(app: Rimpllee, channel_id: int) -> None:
    async with asyncio.timeout(5):
        while app.discord.bot.cache.get_guild_channel(channel_id) is None:
            await asyncio.sleep(0.01)


async def test_the_51st_ticket_opens_in_the_overflow_category_for_two_calls(
    emulator: DiscordEmulator,
    world: SandboxWorld,
    full_world: Path,
    loop_errors: LoopErrors,
    clock: FakeClock,
) -> None:
    spare = emulator.state.add_channel(world.guild, "More tickets", type=GUILD_CATEGORY)
    async with running(emulator, full_world, loop_errors, clock=clock) as app:
        text = await run(
            emulator,
            world,
            world.panel_channel_id,
            "panel button overflow",
            button=REPORT_BUTTON_ID,
            first=spare,
        )
        assert f"uses <#{spare.id}>" in text
        before = len(emulator.requests)
        channel_id, category_id = await open_report(app, world.members[0].id, clock)
        assert category_id == spare.id
        assert emulator.state.channels[channel_id].parent_id == spare.id
        assert calls(emulator, before) == [CREATES, POSTS]  # no REST call to count channels
        # The overflow order is exported with the button.
        assert app.db is not None
        panel = await SqlitePanelStore(app.db).get_panel(world.guild.id, DEMO_PANEL_ID)
        assert panel is not None
        report = panel.button(REPORT_BUTTON_ID)
        assert report is not None
        assert report.overflow_category_ids == (spare.id,)


async def test_all_full_the_bot_creates_the_next_category_like_the_first(
    emulator: DiscordEmulator,
    world: SandboxWorld,
    full_world: Path,
    loop_errors: LoopErrors,
    clock: FakeClock,
) -> None:
    log = emulator.state.add_channel(world.guild, "ticket-log")
    async with running(emulator, full_world, loop_errors, clock=clock) as app:
        await settings(emulator, world, "log-channel", channel=log)
        first, category_id = await open_report(app, world.members[0].id, clock)
        assert category_id is not None
        assert category_id != world.category_id
        made = emulator.state.channels[category_id]
        assert (made.type, made.name) == (GUILD_CATEGORY, "Tickets 2")
        assert made.overwrites == emulator.state.channels[world.category_id].overwrites
        await wait_cached(app, first)
        second, again = await open_report(app, world.members[1].id, clock)
        assert again == category_id  # one new category, not one per ticket
        creates = [r for r in emulator.calls(*CREATES) if r.body.get("type") == GUILD_CATEGORY]
        assert len(creates) == 1
        notes = [m.content for m in emulator.state.messages[log.id].values()]
        assert sum("was full" in n for n in notes) == 1
        assert app.db is not None
        panel = await PanelService(SqlitePanelStore(app.db), app.discord.port).panel(
            world.guild.id, DEMO_PANEL_ID
        )
        report = panel.button(REPORT_BUTTON_ID)
        assert report is not None
        assert report.overflow_category_ids == (category_id,)
        assert {first, second} <= set(emulator.state.channels)


async def test_at_500_channels_the_open_is_refused_naming_the_cause(
    emulator: DiscordEmulator,
    world: SandboxWorld,
    loop_errors: LoopErrors,
    tmp_path: Path,
    clock: FakeClock,
) -> None:
    log = emulator.state.add_channel(world.guild, "ticket-log")
    fill(emulator, world, None, 500 - len(world.guild.channels))
    assert len(world.guild.channels) == 500
    database = tmp_path / "rimpllee.db"
    await seed_database(database, world)
    async with running(emulator, database, loop_errors, clock=clock) as app:
        await settings(emulator, world, "log-channel", channel=log)
        before = len(emulator.requests)
        for member in world.members[:3]:
            reply = await post(app, ticket(member.id, REPORT_BUTTON_ID))
            assert reply[0] == 500
            body = error(reply)
            assert body["code"] == "discord_error"
            assert "500" in body["message"]
            assert "delete old channels" in body["message"]
            clock.advance(21)
        assert CREATES not in calls(emulator, before)  # refused before asking Discord
        warned = [m for m in emulator.state.messages[log.id].values() if "refused" in m.content]
        assert len(warned) == 1  # told once, not at every refusal


def cached_load(app: Rimpllee, guild_id: int) -> CategoryLoad:
    """The counts as hikari's cache has them, counted the slow way (every channel copied; not
    through `get_guild_channels_view_for_guild`, whose sort fails on a channel whose category
    was deleted)."""
    every = app.discord.bot.cache.get_guild_channels_view().values()
    channels = [c for c in every if c.guild_id == guild_id]
    categories = [int(c.id) for c in channels if isinstance(c, hikari.GuildCategory)]
    parents = Counter(int(c.parent_id) for c in channels if c.parent_id is not None)
    return CategoryLoad({c: parents[c] for c in categories}, len(channels))


async def test_the_counts_follow_the_gateway_as_the_cache_does(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    """Channels made, moved and deleted (a category too): after each event the counts an open
    reads equal hikari's cache, counted channel by channel."""
    guild = world.guild.id
    port = app.discord.port
    rest = app.discord.bot.rest
    cache = app.discord.bot.cache

    async def agrees(condition: Callable[[], bool]) -> CategoryLoad:
        async with asyncio.timeout(5):
            while not condition():
                await asyncio.sleep(0.01)
        load = await port.category_load(guild)
        assert load == cached_load(app, guild)
        return load

    start = await agrees(lambda: True)
    assert start.total == len(world.guild.channels)
    extra = await rest.create_guild_category(guild, "More tickets")
    made = [await rest.create_guild_text_channel(guild, f"t-{i}", category=extra) for i in range(3)]
    load = await agrees(lambda: all(cache.get_guild_channel(c) for c in made))
    assert load.per_category[int(extra.id)] == 3
    assert load.total == start.total + 4
    await rest.edit_channel(made[0], parent_category=world.category_id)

    def moved() -> bool:
        channel = cache.get_guild_channel(made[0])
        return channel is not None and channel.parent_id == world.category_id

    load = await agrees(moved)
    assert load.per_category[int(extra.id)] == 2
    assert load.per_category[world.category_id] == start.per_category[world.category_id] + 1
    await emulator.delete_channel_by_hand(int(made[1].id))
    load = await agrees(lambda: cache.get_guild_channel(made[1]) is None)
    assert (load.per_category[int(extra.id)], load.total) == (1, start.total + 3)
    await emulator.delete_channel_by_hand(int(extra.id))
    load = await agrees(lambda: cache.get_guild_channel(extra) is None)
    assert int(extra.id) not in load.per_category
    assert load.total == start.total + 2
