"""`make bench`, the scale sections: ticket history size, and members' memory.

Run by `python -m tests.benchmark` (or alone: `python -m tests.bench_scale [--sections ...]`).

1. History size: the seeded server with 1k, 100k and 1M tickets on record (closed ones, built in
   bulk: one `executemany` in one transaction), one bot on each, all running; then sequential
   opens (p50, p99), a user's cooldown refusal (429 p50) and a max-open refusal (409 p50), taken
   in turn on each bot so a shared machine's load falls on every size alike; ratios to 1k.
2. Members' memory: the emulator in chunk-only mode (its default) holds 1,000 servers of 200
   members; the real bot, as its own process, connects, loads every member through
   GUILD_MEMBERS_CHUNK and reports its RSS; once with the compact member index (the bot as
   shipped), once with hikari's member cache instead (the baseline), each in a fresh process.
3. Cache settings: the same servers, the bot once with hikari's default `CacheSettings()` (every
   component: members, messages, presences, ...) and once as shipped (guilds, channels, threads,
   roles, emojis and its own user; members in the index), each in a fresh process, in the same
   run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import math
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import hikari

from bot.app import Rimpllee
from bot.config import config_from_mapping
from bot.discord.gateway import CACHE_COMPONENTS, DiscordGateway
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import (
    DEMO_API_KEY,
    DEMO_PANEL_ID,
    HELP_BUTTON_ID,
    HELP_QUESTION,
    REPORT_BUTTON_ID,
    SANDBOX_EPOCH_MS,
    SandboxWorld,
    sandbox_config,
    seed,
    seed_database,
)
from bot.sandbox.state import GUILD_CATEGORY, MANAGE_MESSAGES, DiscordState, Snowflakes
from bot.store.tickets import SqliteLifecycleStore, SqliteTicketStore
from tests.conftest import FakeClock

ROOT = Path(__file__).resolve().parents[1]
TICKETS_PATH = "/api/v1/tickets"
STEP_S = 61.0
WARMUP_OPENS = 10
HISTORY_SIZES = (1_000, 100_000, 1_000_000)
AIM_HISTORY_RATIO = 1.2
AIM_MEMORY_RATIO = 0.5
GUILDS_PER_SHARD = 100  # each shard's op 8 requests fit in one minute's gateway budget


CHILD_COMMAND = ["-m", "tests.bench_scale", "--member-child"]


class ScaleBenchError(Exception):
    """The run did not measure what it meant to."""


def _quantiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return statistics.median(samples), cuts[98]


# -- history size ---------------------------------------------------------------------------------


def add_history(database: Path, world: SandboxWorld, rows: int, now: float) -> float:
    """`rows` closed tickets on the seeded server, in one transaction; returns the seconds taken.

    Most belong to 50,000 past users, every 100th to one of the members the run opens for, so
    both a server's and a user's history are long."""
    members = [m.id for m in world.members]
    guild = world.guild.id

    def row(i: int) -> tuple[object, ...]:
        user = members[i % len(members)] if i % 100 == 0 else 10**17 + i % 50_000
        opened = now - 86_400 - (rows - i) * 30.0
        return (guild, i + 1, user, DEMO_PANEL_ID, opened, opened + 600)

    started = time.perf_counter()
    connection = sqlite3.connect(database)
    try:
        with connection:
            connection.executemany(
                "INSERT INTO tickets (guild_id, number, user_id, panel_id, state, source, "
                "opened_at, closed_at) VALUES (?, ?, ?, ?, 'closed', 'api', ?, ?)",
                (row(i) for i in range(rows)),
            )
            connection.execute(
                "UPDATE servers SET ticket_counter = ? WHERE guild_id = ?", (rows, guild)
            )
    finally:
        connection.close()
    return time.perf_counter() - started


@dataclass
class HistoryPoint:
    tickets: int
    build_s: float
    open_ms: tuple[float, float]  # p50, p99
    refused_429_ms: float  # p50
    refused_409_ms: float  # p50
    store_ms: float  # p50 of the open's SQLite work alone (reserve, insert, channel, open)


class Opener:
    """Sequential requests to the real API, timed from the request to the read body."""

    def __init__(
        self,
        emu: DiscordEmulator,
        world: SandboxWorld,
        bot: Rimpllee,
        clock: FakeClock,
        http: aiohttp.ClientSession,
    ) -> None:
        self.emu, self.world, self.bot, self.clock, self.http = emu, world, bot, clock, http
        self._fresh = iter(world.members[:-1])  # the last member is blacklisted

    def fresh_member(self) -> int:
        member = next(self._fresh, None)
        if member is None:
            raise ScaleBenchError("out of fresh members")
        return member.id

    async def clear_category(self) -> None:
        await delete_ticket_channels(self.emu, self.world, self.bot)

    async def post(self, body: dict[str, Any], expect: int) -> float:
        headers = {"Authorization": f"Bearer {DEMO_API_KEY}", "Content-Type": "application/json"}
        data = json.dumps(body).encode()
        started = time.perf_counter()
        async with self.http.post(
            self.bot.http_url + TICKETS_PATH, data=data, headers=headers
        ) as r:
            payload = await r.read()
        elapsed = time.perf_counter() - started
        if r.status != expect:
            raise ScaleBenchError(f"expected {expect}, got {r.status}: {payload.decode()}")
        return elapsed * 1000

    async def open(
        self, button: str = REPORT_BUTTON_ID, *, clear: bool = True
    ) -> tuple[float, int]:
        if clear:
            await self.clear_category()
        self.clock.advance(STEP_S)
        user = self.fresh_member()
        ms = await self.post(ticket_body(user, button), 200)
        await asyncio.sleep(0.002)  # let the gateway events of this open settle
        return ms, user


async def delete_ticket_channels(emu: DiscordEmulator, world: SandboxWorld, bot: Rimpllee) -> None:
    """Delete the ticket channels of the seeded category as a person would on Discord: the
    emulator publishes CHANNEL_DELETE for each. Returns once the bot has dropped each one from its
    cache and closed its ticket, so the next open sees the category as Discord has it (and the
    bot's close work does not run during the next timed open)."""
    guild = emu.state.guilds[world.guild.id]
    gone = [c.id for c in guild.channels.values() if c.parent_id == world.category_id]
    for channel_id in gone:
        await emu.delete_channel_by_hand(channel_id)
    assert bot.db is not None
    store, cache = SqliteLifecycleStore(bot.db), bot.discord.bot.cache
    async with asyncio.timeout(10):
        for channel_id in gone:
            while cache.get_guild_channel(channel_id) is not None:
                await asyncio.sleep(0.001)
            while (ticket := await store.by_channel(channel_id)) and ticket.state == "open":
                await asyncio.sleep(0.001)


def ticket_body(user_id: int, button: str = REPORT_BUTTON_ID) -> dict[str, Any]:
    body: dict[str, Any] = {"userId": str(user_id), "panelId": DEMO_PANEL_ID, "buttonId": button}
    if button == HELP_BUTTON_ID:
        body["answers"] = [{"label": HELP_QUESTION, "value": "history benchmark"}]
    return body


async def history_bot(
    stack: contextlib.AsyncExitStack,
    http: aiohttp.ClientSession,
    tickets: int,
    members: int,
) -> tuple[Opener, float]:
    """An emulator, a database with `tickets` on record, and the real bot on it, all running
    until `stack` closes; returns the opener for it and the seconds the history took to build."""
    emu = DiscordEmulator()
    world = seed(emu.state, member_count=members)
    emu.owner_id = world.owner.id
    clock = FakeClock()
    tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="rimpllee-history-"))
    database = Path(tmp) / "history.db"
    await seed_database(database, world)
    build_s = await asyncio.to_thread(add_history, database, world, tickets, clock.now)
    await emu.start()
    stack.push_async_callback(emu.stop)
    bot = Rimpllee(sandbox_config(emu, http_port=0, database=database), max_retries=0, clock=clock)
    await bot.start()
    stack.push_async_callback(bot.stop)
    async with asyncio.timeout(30):
        while not bot.discord.members.is_known(world.guild.id):
            await asyncio.sleep(0.01)
    return Opener(emu, world, bot, clock, http), build_s


async def store_work(run: Opener, turn: int) -> float:
    """The SQLite part of an open, timed alone: what history size could slow down, without the
    Discord calls and the HTTP around it (the noisiest parts on a shared machine)."""
    assert run.bot.db is not None
    store, guild = SqliteTicketStore(run.bot.db), run.world.guild.id
    user = run.world.members[turn % (len(run.world.members) - 1)].id
    now = run.clock.now
    started = time.perf_counter()
    async with store.reserve(guild) as reservation:
        await reservation.facts(user, now - 60)
        opened = await reservation.insert_opening(
            user_id=user,
            panel_id=DEMO_PANEL_ID,
            button_id=REPORT_BUTTON_ID,
            source="api",
            answers=(),
            support_role_ids=(),
            now=now,
        )
    await store.set_channel(opened.ticket_id, 10**18 + opened.ticket_id)
    await store.mark_open(opened.ticket_id, 10**18 + opened.ticket_id + 1)
    return (time.perf_counter() - started) * 1000


def _rotated(count: int, turn: int) -> list[int]:
    return [(turn + i) % count for i in range(count)]


async def history_points(sizes: Sequence[int], opens: int, refusals: int) -> list[HistoryPoint]:
    """One bot per history size, all running at once; every measurement is taken in turn on
    each of them, so the load of a shared machine falls on every size alike."""
    async with contextlib.AsyncExitStack() as stack:
        http = await stack.enter_async_context(aiohttp.ClientSession())
        runs = [await history_bot(stack, http, size, WARMUP_OPENS + opens + 3) for size in sizes]
        for run, _ in runs:
            for _ in range(WARMUP_OPENS):
                await run.open()
        open_ms: list[list[float]] = [[] for _ in runs]
        for turn in range(opens):
            for i in _rotated(len(runs), turn):  # each size goes first as often as the others
                open_ms[i].append((await runs[i][0].open())[0])
        holders = [(await run.open(HELP_BUTTON_ID))[1] for run, _ in runs]  # help allows one
        # at once again: the cooldown (the holders' channels stay, so their tickets stay open)
        cooling = [(await run.open(clear=False))[1] for run, _ in runs]
        cooldown_ms: list[list[float]] = [[] for _ in runs]
        full_ms: list[list[float]] = [[] for _ in runs]
        for turn in range(refusals):
            for i in _rotated(len(runs), turn):
                run = runs[i][0]
                cooldown_ms[i].append(await run.post(ticket_body(cooling[i]), 429))
                full_ms[i].append(await run.post(ticket_body(holders[i], HELP_BUTTON_ID), 409))
        store_ms: list[list[float]] = [[] for _ in runs]
        for turn in range(opens):
            for i in _rotated(len(runs), turn):
                store_ms[i].append(await store_work(runs[i][0], turn))
        for run, _ in runs:
            await run.clear_category()
    return [
        HistoryPoint(
            tickets=size,
            build_s=build_s,
            open_ms=_quantiles(open_ms[i]),
            refused_429_ms=statistics.median(cooldown_ms[i]),
            refused_409_ms=statistics.median(full_ms[i]),
            store_ms=statistics.median(store_ms[i]),
        )
        for i, (size, (_, build_s)) in enumerate(zip(sizes, runs, strict=True))
    ]


def render_history(points: list[HistoryPoint]) -> list[str]:
    base = points[0]
    builds = ", ".join(f"{p.tickets:,}: {p.build_s:.1f} s" for p in points)
    lines = [
        "History size: the same server with N closed tickets on record "
        f"(built in one transaction; {builds})",
        f"  {'tickets':>10} {'open p50':>10} {'open p99':>10} {'429 p50':>10} {'409 p50':>10}"
        f" {'SQL p50':>9}   ratios to the first row",
    ]
    worst = 0.0
    for p in points:
        ratios = (
            p.open_ms[0] / base.open_ms[0],
            p.open_ms[1] / base.open_ms[1],
            p.refused_429_ms / base.refused_429_ms,
            p.refused_409_ms / base.refused_409_ms,
            p.store_ms / base.store_ms,
        )
        if p is not base:
            worst = max(worst, *ratios)
        lines.append(
            f"  {p.tickets:>10,} {p.open_ms[0]:8.2f}ms {p.open_ms[1]:8.2f}ms "
            f"{p.refused_429_ms:8.2f}ms {p.refused_409_ms:8.2f}ms {p.store_ms:7.2f}ms   "
            + " ".join(f"{r:5.2f}" for r in ratios)
        )
    verdict = "met" if worst <= AIM_HISTORY_RATIO else "NOT met"
    lines += [
        "  SQL: an open's SQLite work alone (limit facts, insert, channel, open state);"
        " no HTTP, no Discord",
        f"  aim: every ratio <= {AIM_HISTORY_RATIO}: {verdict} (highest {worst:.2f})",
    ]
    return lines


# -- members' memory ------------------------------------------------------------------------------


def crowded_world(state: DiscordState, guilds: int, per_guild: int) -> int:
    """`guilds` servers of `per_guild` members each (owner and bot included), every member its own
    user, one in 20 with a role; returns the number of members. Each server's IDs come from its
    own millisecond, so Discord's shard formula spreads them over the shards."""
    owner = state.add_user("crowd-owner")
    for g in range(guilds):
        state.ids = Snowflakes(SANDBOX_EPOCH_MS + g)
        guild = state.add_guild(f"server{g:04d}", owner)
        support = state.add_role(guild, "Support", MANAGE_MESSAGES, position=5)
        state.add_channel(guild, "Tickets", type=GUILD_CATEGORY)
        state.add_channel(guild, "general")
        for i in range(per_guild - 2):
            user = state.add_user(f"m{g:04d}x{i:03d}")
            state.add_member(guild, user, roles=[support.id] if i % 20 == 0 else None)
    return sum(len(g.members) for g in state.guilds.values())


@dataclass
class MemoryRun:
    variant: str
    members: int
    ready_s: float  # bot.start() returned: servers arrived, API and clicks served
    loaded_s: float  # every member held
    rss_mib: float
    peak_rss_mib: float


def _hikari_members() -> hikari.impl.CacheSettings:
    """The bot's cache with hikari's member cache instead of the compact index (the old way)."""
    return hikari.impl.CacheSettings(
        components=CACHE_COMPONENTS | hikari.api.CacheComponents.MEMBERS
    )


# The baselines' cache settings, by variant; "index" is the bot as shipped.
BASELINE_CACHES = {"hikari": _hikari_members, "defaults": hikari.impl.CacheSettings}


def held_members(bot: Rimpllee, variant: str) -> int:
    if variant in BASELINE_CACHES:
        return sum(len(v) for v in bot.discord.bot.cache.get_members_view().values())
    return bot.discord.members.member_count()


async def hold_members(job: dict[str, Any]) -> MemoryRun:
    """Child side: the real bot connects, loads every member, reports its memory."""
    config = config_from_mapping(
        {
            "discord": {"token": job["token"], "rest_url": job["rest_url"]},
            "http": {"host": "127.0.0.1", "port": 0},
            "database": {"path": job["database"]},
        },
        source=Path("<bench>"),
        env={},
    )
    bot = Rimpllee(config, max_retries=0)
    baseline = BASELINE_CACHES.get(job["variant"])
    if baseline is not None:
        bot.discord = DiscordGateway(config.discord, max_retries=0, cache_settings=baseline())
    started = time.perf_counter()
    await bot.start()
    ready_s = time.perf_counter() - started
    try:
        async with asyncio.timeout(job["timeout_s"]):
            while held_members(bot, job["variant"]) < job["members"]:
                await asyncio.sleep(0.1)
        loaded_s = time.perf_counter() - started
        gc.collect()
        rss, peak = _status_mib("VmRSS"), _status_mib("VmHWM")
    finally:
        await bot.stop()
    return MemoryRun(job["variant"], job["members"], ready_s, loaded_s, rss, peak)


def _status_mib(field: str) -> float:
    """This process's VmRSS or VmHWM (its peak) from Linux's /proc, in MiB. Not ru_maxrss: that
    one keeps the parent's size across fork and exec, and the parent holds the emulator."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise ScaleBenchError("memory is measured from /proc/self/status (Linux only)")


def member_child() -> None:
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    job = json.loads(sys.stdin.readline())
    run = asyncio.run(hold_members(job))
    print(json.dumps(asdict(run)), flush=True)


async def memory_runs(
    guilds: int, per_guild: int, timeout_s: float, variants: Sequence[str] = ("hikari", "index")
) -> list[MemoryRun]:
    emu = DiscordEmulator()
    members = crowded_world(emu.state, guilds, per_guild)
    emu.gateway.recommended_shards = max(1, math.ceil(guilds / GUILDS_PER_SHARD))
    emu.gateway.max_concurrency = 16
    runs = []
    await emu.start()
    try:
        with tempfile.TemporaryDirectory(prefix="rimpllee-members-") as tmp:
            for variant in variants:
                job = {
                    "variant": variant,
                    "token": emu.token,
                    "rest_url": emu.rest_url,
                    "database": str(Path(tmp) / f"{variant}.db"),
                    "members": members,
                    "timeout_s": timeout_s,
                }
                child = await asyncio.create_subprocess_exec(
                    sys.executable,
                    *CHILD_COMMAND,
                    cwd=ROOT,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                )
                out, _ = await child.communicate(json.dumps(job).encode() + b"\n")
                if child.returncode != 0 or not out.strip():
                    raise ScaleBenchError(f"the {variant} run exited with {child.returncode}")
                runs.append(MemoryRun(**json.loads(out.splitlines()[-1])))
    finally:
        await emu.stop()
    if emu.internal_errors:
        raise ScaleBenchError(f"the emulator failed: {emu.internal_errors[:3]}")
    return runs


def render_memory(runs: list[MemoryRun], guilds: int, per_guild: int) -> list[str]:
    by = {r.variant: r for r in runs}
    base, ours = by["hikari"], by["index"]
    ratio = ours.rss_mib / base.rss_mib
    shards = max(1, math.ceil(guilds / GUILDS_PER_SHARD))
    lines = [
        f"Members' memory: {guilds:,} servers x {per_guild} members ({ours.members:,} members), "
        f"chunk-only delivery, {shards} shard(s); the bot as its own process",
        f"  {'member store':<22} {'RSS':>9} {'peak RSS':>9} {'ready':>8} {'all members':>12}",
    ]
    for name, run in (("hikari member cache", base), ("compact index", ours)):
        lines.append(
            f"  {name:<22} {run.rss_mib:7.1f}Mi {run.peak_rss_mib:7.1f}Mi "
            f"{run.ready_s:7.1f}s {run.loaded_s:11.1f}s"
        )
    per_member = (base.rss_mib - ours.rss_mib) * 1024 / ours.members
    verdict = "met" if ratio <= AIM_MEMORY_RATIO else "NOT met"
    lines += [
        f"  RSS ratio index / hikari: {ratio:.2f} (aim <= {AIM_MEMORY_RATIO}: {verdict}); "
        f"{per_member:.2f} KiB less per member",
    ]
    return lines


def render_cache(runs: list[MemoryRun], guilds: int, per_guild: int) -> list[str]:
    """hikari's default cache settings (everything, members included) against the bot's."""
    by = {r.variant: r for r in runs}
    base, ours = by["defaults"], by["index"]
    ratio = ours.rss_mib / base.rss_mib
    verdict = "met" if ratio <= AIM_MEMORY_RATIO else "NOT met"
    lines = [
        f"Cache settings: one process holding {guilds:,} servers x {per_guild} members, "
        "each variant in a fresh process, in the same run",
        f"  {'cache':<34} {'RSS':>9} {'peak RSS':>9} {'ready':>8} {'all members':>12}",
    ]
    for name, run in (
        ("hikari's default CacheSettings()", base),
        ("ours (+ the member index)", ours),
    ):
        lines.append(
            f"  {name:<34} {run.rss_mib:7.1f}Mi {run.peak_rss_mib:7.1f}Mi "
            f"{run.ready_s:7.1f}s {run.loaded_s:11.1f}s"
        )
    lines.append(
        f"  RSS ratio ours / hikari's defaults: {ratio:.2f} (aim <= {AIM_MEMORY_RATIO}: {verdict})"
    )
    return lines


# -- entry -----------------------------------------------------------------------------------------


@dataclass
class ScaleReport:
    history: list[HistoryPoint] = field(default_factory=list)
    memory: list[MemoryRun] = field(default_factory=list)


async def run_sections(args: argparse.Namespace) -> tuple[ScaleReport, list[str]]:
    report, lines = ScaleReport(), []
    sections = set(args.sections.split(","))
    if "history" in sections:
        report.history = await history_points(args.history_sizes, args.history_opens, args.refusals)
        lines += ["", *render_history(report.history)]
    variants = [
        v
        for v, section in (("defaults", "cache"), ("hikari", "members"), ("index", ""))
        if section in sections or (not section and sections & {"cache", "members"})
    ]
    if len(variants) > 1:  # one emulator, each variant in a fresh process, in the same run
        report.memory = await memory_runs(
            args.guilds, args.per_guild, args.member_timeout, variants
        )
    if "members" in sections:
        lines += ["", *render_memory(report.memory, args.guilds, args.per_guild)]
    if "cache" in sections:
        lines += ["", *render_cache(report.memory, args.guilds, args.per_guild)]
    return report, lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--history-sizes",
        type=lambda s: [int(n) for n in s.split(",")],
        default=list(HISTORY_SIZES),
        help="tickets on record per history run (comma-separated; the first is the baseline)",
    )
    parser.add_argument("--history-opens", type=int, default=200, help="timed opens per size")
    parser.add_argument("--refusals", type=int, default=200, help="timed 429s and 409s per size")
    parser.add_argument("--guilds", type=int, default=1000, help="servers for the memory run")
    parser.add_argument("--per-guild", type=int, default=200, help="members per server")
    parser.add_argument(
        "--member-timeout", type=float, default=900.0, help="seconds to load every member"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench_scale", description=__doc__)
    parser.add_argument(
        "--sections", default="history,members,cache", help="history, members and/or cache"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the numbers here")
    parser.add_argument("--member-child", action="store_true", help=argparse.SUPPRESS)
    add_arguments(parser)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.member_child:
        member_child()
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("hikari.ux").setLevel(logging.ERROR)
    started = time.perf_counter()
    try:
        report, lines = asyncio.run(run_sections(args))
    except ScaleBenchError as exc:
        print(f"benchmark: {exc}", file=sys.stderr)
        return 1
    print("\n".join([*lines, f"Wall time {time.perf_counter() - started:.1f} s"]), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(asdict(report), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
