"""The `placement` section of `make bench`: what each open pays to learn how full its server is.

Every open reads the server's channel count and its categories' (bot/core/overflow.py, Discord's
500 and 50). The bot keeps those counts from the gateway payloads (bot/discord/channel_counts.py);
the baseline is how it read them before, measured in the same run on the same bot and cache:
counting hikari's cached channels (`get_guild_channels_view_for_guild` sorts the server's
channels and copies each one with its permission overwrites). At the sandbox's size and near
Discord's 500 channels; both answers are checked equal first.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import hikari

from bot.app import Rimpllee
from bot.core.ports import CategoryLoad
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import sandbox_config, seed, seed_database
from bot.sandbox.state import GUILD_CATEGORY
from tests.conftest import wait_until_cached

SIZES = (20, 495)  # channels in the server: about the sandbox's, and near Discord's 500
CALLS = 500


def cache_scan(bot: hikari.GatewayBot, guild_id: int) -> CategoryLoad:
    """The baseline: the counts read from hikari's cache, channel by channel."""
    channels = bot.cache.get_guild_channels_view_for_guild(guild_id).values()
    per_category = {int(c.id): 0 for c in channels if isinstance(c, hikari.GuildCategory)}
    total = 0
    for channel in channels:
        total += 1
        parent = channel.parent_id
        if parent is not None and int(parent) in per_category:
            per_category[int(parent)] += 1
    return CategoryLoad(per_category, total)


async def _per_call_us(read: Callable[[], object], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        got = read()
        if asyncio.iscoroutine(got):
            await got
    return (time.perf_counter() - started) / calls * 1e6


async def measure(channels: int, calls: int = CALLS) -> tuple[float, float]:
    """(µs per read from the counts, µs per read by the cache scan) on a server of `channels`."""
    emu = DiscordEmulator(check_responses=False)
    world = seed(emu.state, member_count=10)
    emu.owner_id = world.owner.id
    guild = world.guild
    category = None
    while len(guild.channels) < channels:  # full categories of 50, as a busy server has
        if category is None or sum(c.parent_id == category for c in guild.channels.values()) == 50:
            category = emu.state.add_channel(guild, "Tickets", type=GUILD_CATEGORY).id
        else:
            emu.state.add_channel(guild, f"ticket-{len(guild.channels)}", parent_id=category)
    with tempfile.TemporaryDirectory(prefix="rimpllee-bench-placement-") as tmp:
        database = Path(tmp) / "bench.db"
        await seed_database(database, world)
        await emu.start()
        try:
            bot = Rimpllee(sandbox_config(emu, http_port=0, database=database), max_retries=0)
            await bot.start()
            try:
                await wait_until_cached(bot.discord.bot, guild.id)
                port = bot.discord.port
                counted = await port.category_load(guild.id)
                assert counted == cache_scan(bot.discord.bot, guild.id), "the counts disagree"
                assert counted is not None
                assert counted.total == channels
                kept = await _per_call_us(lambda: port.category_load(guild.id), calls)
                scanned = await _per_call_us(lambda: cache_scan(bot.discord.bot, guild.id), calls)
            finally:
                await bot.stop()
        finally:
            await emu.stop()
    return kept, scanned


async def run_section(sizes: Sequence[int] = SIZES) -> list[str]:
    lines = ["", f"Placement: how full the server is, read on each open ({CALLS} reads, same run)"]
    for channels in sizes:
        kept, scanned = await measure(channels)
        lines.append(
            f"  {channels:>3} channels: counts kept {kept:8.2f} µs   cache scan (before) "
            f"{scanned:8.2f} µs   ({scanned / kept:.0f}x)"
        )
    return lines
