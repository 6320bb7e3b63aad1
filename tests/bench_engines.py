"""The `engines` section of `make bench`: open latency on SQLite and on PostgreSQL, same run.

The same bot, emulator and sequential opens as the API section's latency (tests/benchmark.py),
once with the SQLite file and once with a PostgreSQL database on a throwaway local server
(tests/postgres.py; Debian's `postgresql` package, skipped with a note when it is missing).
PostgreSQL's number is reported as a ratio to SQLite's, measured minutes apart in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import hikari

from bot.app import Rimpllee
from bot.config import DatabaseConfig
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.ratelimit import Limits
from bot.sandbox.runner import sandbox_config, seed, seed_database
from tests import postgres
from tests.conftest import FakeClock

OPENS = 200


@contextlib.asynccontextmanager
async def _database(engine: str, tmp: Path) -> AsyncIterator[tuple[Path, str]]:
    """(path, url): the SQLite file, or a PostgreSQL database (its url) on a fresh server."""
    path = tmp / f"{engine}.db"
    if engine == "sqlite":
        yield path, ""
        return
    with postgres.postgres_server() as server:
        await postgres.admin(server.url("postgres"), "CREATE DATABASE bench")
        yield path, server.url("bench")


async def open_latency(engine: str, opens: int) -> dict[str, float]:
    """p50/p99/mean of `opens` sequential successful opens, in milliseconds."""
    from tests.benchmark import (
        Bench,
        LoopErrors,
        Report,
        Settings,
        wait_until_cached,
    )

    errors = LoopErrors()
    asyncio.get_running_loop().set_exception_handler(errors.handler)
    emu = DiscordEmulator(check_responses=False)
    emu.rate_limiter.limits = Limits(per_route=1_000_000)
    world = seed(emu.state, member_count=opens + 50)
    emu.owner_id = world.owner.id
    clock = FakeClock()
    settings = Settings(
        opens=opens,
        members=opens + 50,
        duration_s=0,
        warmup=0,
        concurrency=1,
        rounds=0,
        profile=False,
        transcript_messages=0,
    )
    with tempfile.TemporaryDirectory(prefix=f"rimpllee-bench-{engine}-") as tmp:
        async with _database(engine, Path(tmp)) as (path, url):
            await seed_database(url or path, world)
            async with contextlib.AsyncExitStack() as stack:
                await emu.start()
                stack.push_async_callback(emu.stop)
                config = sandbox_config(emu, http_port=0, database=path)
                config = dataclasses.replace(config, database=DatabaseConfig(path=path, url=url))
                bot = Rimpllee(config, max_retries=0, clock=clock)
                bot.discord.bot.subscribe(hikari.ExceptionEvent, errors.on_exception)
                await bot.start()
                stack.push_async_callback(bot.stop)
                await wait_until_cached(bot, world)
                session = await stack.enter_async_context(aiohttp.ClientSession())
                report = Report(settings=dataclasses.asdict(settings))
                await Bench(settings, emu, world, bot, clock, session).latency(report)
    if errors.items:
        raise RuntimeError(f"errors during the {engine} run: {errors.items[:3]}")
    return report.latency_ms


async def run_section(opens: int = OPENS) -> list[str]:
    """The section's lines: each engine's latency, PostgreSQL's as a ratio to SQLite's."""
    lines = ["", f"Open latency by engine ({opens} sequential opens each, same run)"]
    sqlite = await open_latency("sqlite", opens)
    lines.append(_line("SQLite", sqlite))
    missing = postgres.missing_reason()
    if missing is not None:
        lines.append(f"  PostgreSQL: not measured ({missing.removeprefix(postgres.SKIP_PREFIX)})")
        return lines
    pg = await open_latency("postgres", opens)
    lines.append(f"{_line('PostgreSQL', pg)}   (p50 {pg['p50'] / sqlite['p50']:.2f}x SQLite's)")
    return lines


def _line(name: str, latency: dict[str, float]) -> str:
    return (
        f"  {name:<11} p50 {latency['p50']:7.2f} ms   p99 {latency['p99']:7.2f} ms   "
        f"mean {latency['mean']:7.2f} ms"
    )
