"""Staff stats: the first staff reply recorded when a staff message arrives over the gateway,
claims kept after close, and the stats page's numbers and charts over real HTTP."""

from __future__ import annotations

import asyncio
import re

import pytest

from bot.app import Rimpllee
from bot.core.stats import DAY_S, DayCount, percentile, period_ending
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import SandboxWorld, offer_logins
from bot.web.stats import Bar, chart, human
from tests.conftest import FakeClock
from tests.dashboard_client import Browserless
from tests.helpers import open_numbered, tickets_url


async def first_reply_at(app: Rimpllee, number: int, guild_id: int) -> float | None:
    assert app.db is not None
    row = await app.db.fetchone(
        "SELECT first_staff_reply_at FROM tickets WHERE guild_id = ? AND number = ?",
        (guild_id, number),
    )
    assert row is not None
    return None if row[0] is None else float(row[0])


async def recorded(app: Rimpllee, number: int, guild_id: int) -> float:
    """Wait until the bot has handled the staff message (it arrives over the gateway)."""
    async with asyncio.timeout(5):
        while (at := await first_reply_at(app, number, guild_id)) is None:
            await asyncio.sleep(0.01)
    return at


async def channel_of(app: Rimpllee, number: int, guild_id: int) -> int:
    assert app.db is not None
    row = await app.db.fetchone(
        "SELECT channel_id FROM tickets WHERE guild_id = ? AND number = ?", (guild_id, number)
    )
    assert row is not None
    return int(row[0])


@pytest.mark.asyncio
async def test_first_staff_reply_claims_closes_and_the_stats_page(
    app: Rimpllee, world: SandboxWorld, emulator: DiscordEmulator, clock: FakeClock
) -> None:
    guild = world.guild.id
    opener, other = world.members[1].id, world.members[2].id
    helped = await open_numbered(app, clock, opener, "btn_help")  # opened at t0, clock now t0+60
    t0 = clock() - 60
    reported = await open_numbered(app, clock, other, "btn_report")
    third = await open_numbered(app, clock, world.members[3].id, "btn_report")
    channel = await channel_of(app, helped, guild)

    # The opener and a member who is not staff write first: neither is a staff reply.
    await emulator.send_user_message(channel, opener, "Hello?")
    await emulator.send_user_message(channel, other, "Me too")
    # A staff reply in another ticket is recorded: the messages before it were handled too.
    clock.advance(60)
    staff = world.support_member.id
    await emulator.send_user_message(await channel_of(app, reported, guild), staff, "On it")
    assert await recorded(app, reported, guild) == clock()
    assert await first_reply_at(app, helped, guild) is None

    clock.advance(180)
    await emulator.send_user_message(channel, staff, "Looking into it")
    replied = await recorded(app, helped, guild)
    assert replied == clock()
    assert replied - t0 == 420
    await emulator.send_user_message(channel, world.admin.id, "Me as well")  # not the first
    clock.advance(1)
    await emulator.send_user_message(await channel_of(app, third, guild), opener, "x")

    # Support claims and closes from the dashboard an hour later.
    offer_logins(emulator, world, app.public_url)
    support = Browserless(app, emulator)
    admin = Browserless(app, emulator)
    try:
        await support.login(staff)
        await admin.login(world.admin.id)
        url = tickets_url(world, f"/{helped}")
        page = await support.get(url)
        assert (await support.post(url + "/claim", {"csrf": page.csrf})).status == 303
        clock.advance(3600)
        assert (await support.post(url + "/close", {"csrf": page.csrf})).status == 303
        assert await first_reply_at(app, helped, guild) == replied  # never overwritten

        stats = await admin.get(f"/servers/{guild}/stats")
        assert stats.status == 200
        text = stats.text
        assert number(text, "opened") == "3"
        assert number(text, "open-now") == "2"
        # Replies after 180 s (the report) and 420 s (help): the median is the lower one.
        assert number(text, "first-reply") == "3 min"
        assert "p90 7 min · 2 replied" in text
        assert number(text, "to-close") == "1 h 7 min"
        handled = re.search(r'<table id="handled">.*?</table>', text, re.S)
        assert handled is not None
        assert re.search(r"<td>support01</td><td>1</td><td>1</td>", handled.group(0))
        assert "3 by API" in text
        assert text.count("<rect ") >= 1
        # One button: only its tickets.
        help_only = await admin.get(f"/servers/{guild}/stats?button=btn_help&days=7")
        assert number(help_only.text, "opened") == "1"
        assert number(help_only.text, "open-now") == "0"
        assert number(help_only.text, "first-reply") == "7 min"
        # Stats are for managers.
        assert (await support.get(f"/servers/{guild}/stats")).status == 403
        # A week later the period of 7 days holds none of them; 30 days still does.
        clock.advance(8 * DAY_S)
        await admin.login(world.admin.id)  # the session lasts 7 days
        later = await admin.get(f"/servers/{guild}/stats?days=7")
        assert number(later.text, "opened") == "0"
        assert number((await admin.get(f"/servers/{guild}/stats")).text, "opened") == "3"
    finally:
        await support.close()
        await admin.close()


@pytest.mark.asyncio
async def test_a_staff_reply_counts_before_the_member_index_knows_its_author(
    app: Rimpllee, world: SandboxWorld, emulator: DiscordEmulator, clock: FakeClock
) -> None:
    """While a server's members still arrive in chunks the index may not know a staff member;
    the message carries their member (roles included), so the reply is not lost."""
    guild, staff = world.guild.id, world.support_member.id
    helped = await open_numbered(app, clock, world.members[1].id, "btn_help")
    index = app.discord.members
    index.servers[guild].remove(staff)
    assert index.get(guild, staff) is None
    await emulator.send_user_message(await channel_of(app, helped, guild), staff, "On it")
    assert await recorded(app, helped, guild) == clock()
    entry = index.get(guild, staff)
    assert entry is not None
    assert world.support_role_id in entry.role_ids


def number(text: str, name: str) -> str:
    found = re.search(rf'id="{name}">([^<]*)<', text)
    assert found is not None, name
    return found.group(1)


def test_percentiles_periods_and_durations() -> None:
    assert percentile([], 0.5) is None
    assert percentile([5.0], 0.9) == 5.0
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 0.5) == 5.0
    assert percentile(values, 0.9) == 9.0
    period = period_ending(1_800_000_000.0, 7)  # 2027-01-15 08:00 UTC
    assert period.end == 1_800_057_600.0  # the next midnight
    assert period.days == 7
    assert period_ending(0.0, 9999).days == 366
    assert [human(s) for s in (None, 59, 61, 3599, 3600 * 5 + 60 * 7, DAY_S * 2 + 3600)] == [
        "none yet",
        "59 s",
        "1 min",
        "59 min",
        "5 h 7 min",
        "2 d 1 h",
    ]


def test_the_chart_scales_to_the_busiest_day() -> None:
    drawn = chart([DayCount(0, 2, 2), DayCount(DAY_S, 1, 0), DayCount(2 * DAY_S, 0, 0)])
    busiest, small, empty = drawn["bars"]
    assert drawn["top"] == 4
    assert busiest.button_h == busiest.api_h == drawn["plot_h"] / 2
    assert busiest.api_y == 0
    assert small.button_h == drawn["plot_h"] / 4
    assert empty.button_h == empty.api_h == 0
    assert small.x > busiest.x


def test_the_chart_draws_each_day_as_a_bar_of_its_two_parts() -> None:
    drawn = chart([DayCount(0, 2, 2), DayCount(DAY_S, 1, 0), DayCount(2 * DAY_S, 0, 0)])
    busiest, small, empty = re.findall(r"<g>.*?</g>", drawn["bars_svg"])
    assert busiest == (
        "<g><title>1970-01-01: 2 by button, 2 by API</title>"
        '<rect x="37.0" y="90.0" width="226.0" height="90.0" fill="#5865f2"/>'
        '<rect x="37.0" y="0.0" width="226.0" height="90.0" fill="#1a7f37"/></g>'
    )
    assert small == (
        "<g><title>1970-01-02: 1 by button, 0 by API</title>"
        '<rect x="265.0" y="135.0" width="226.0" height="45.0" fill="#5865f2"/></g>'
    )
    assert empty == "<g><title>1970-01-03: 0 by button, 0 by API</title></g>"
    assert "<title>a &lt;b&gt; &amp; c</title>" in Bar(0, 1, 0, 0, 0, 0, "a <b> & c").svg()


def test_the_reply_watch_remembers_a_bounded_number_of_channels() -> None:
    from bot.core.stats import _Recent

    recent = _Recent(2)
    for channel in (1, 2, 3):
        recent.add(channel)
    assert (1 in recent, 2 in recent, 3 in recent) == (False, True, True)
