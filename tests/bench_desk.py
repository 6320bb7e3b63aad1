"""`make bench` (second part): the dashboard's ticket list and stats pages with 100k tickets.

Not a test (pytest does not collect it): run `python -m tests.bench_desk [--tickets N]`.

The real `Rimpllee` against the emulator (an injected clock), its database filled with N tickets
of one server spread over the last 365 days (mostly closed, some archived, a few open; by button
and by API; most with a first staff reply and a claim), written straight into SQLite before the
run. A logged-in admin (and a support member, whose list is narrowed by the access rule) fetches
each page sequentially over keep-alive, interleaved with `/healthz` on the same app, middlewares
and connection: the baseline, measured in the same run. Deep pages (archived page 20, page 1000)
are reached first by following the list's "Older" links, as a person would; the stats' per-day
counts are kept by the migration's triggers as the tickets are written. Reported: server-side
time as the client sees it on loopback, p50, p99 and the slowest load per page, and the ratio to
the baseline; every sample counts (none is dropped). With it, what the p99s are made of: the
cyclic garbage collector's full collections while the pages load, warm-up included (each stops
the event loop; bot.heap keeps them short), and the machine's load average before and after, since
on a shared machine a page that waits for the CPU is a slow sample too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import html
import json
import logging
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import hikari

from bot.app import Rimpllee
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import SandboxWorld, sandbox_config, seed, seed_database
from bot.store.database import Database
from tests.benchmark import BenchmarkError, wait_until_cached
from tests.conftest import FakeClock, LoopErrors
from tests.dashboard_client import Browserless

DAY_S = 86400
AIM_P99_MS = 50.0


async def fill(db: Database, world: SandboxWorld, count: int, now: float) -> None:
    """`count` tickets over the last 365 days, as a busy server accumulates them."""
    rng = random.Random(11)
    guild = world.guild.id
    staff = [world.admin.id, world.support_member.id]
    members = [m.id for m in world.members]
    roles = json.dumps([world.support_role_id])
    tickets, claims = [], []
    start = now - 365 * DAY_S
    for number in range(1, count + 1):
        opened = start + (number / count) * 365 * DAY_S
        button = "btn_help" if rng.random() < 0.6 else "btn_report"
        source = "api" if rng.random() < 0.3 else "button"
        roll = rng.random()
        is_open = roll < 0.02 or opened > now - 2 * DAY_S
        archived = not is_open and roll < 0.1
        reply = opened + rng.expovariate(1 / 1800) if rng.random() < 0.8 else None
        closer = rng.choice(staff)
        closed = None if is_open else opened + rng.expovariate(1 / 14400) + 60
        tickets.append(
            (
                number,
                guild,
                number,
                rng.choice(members),
                "pnl_demo",
                button,
                "open" if is_open else "closed",
                source,
                opened,
                closed,
                None if is_open else closer,
                int(archived),
                roles,
                reply,
                rng.choice(staff) if is_open and rng.random() < 0.5 else None,
            )
        )
        if rng.random() < 0.6:
            claims.append((guild, number, button, closer, opened + 30))
    async with db.write() as conn:
        await conn.executemany(
            "INSERT INTO tickets (ticket_id, guild_id, number, user_id, panel_id, button_id, "
            "state, source, opened_at, closed_at, closed_by, archived, support_role_ids, "
            "first_staff_reply_at, claimed_by) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            tickets,
        )
        await conn.executemany(
            "INSERT INTO ticket_claims (guild_id, ticket_id, button_id, user_id, at) "
            "VALUES (?, ?, ?, ?, ?)",
            claims,
        )
        await conn.execute(
            "UPDATE servers SET ticket_counter = ? WHERE guild_id = ?", (count, guild)
        )
    async with db.write() as conn:
        await conn.execute("ANALYZE")


async def deep_page(person: Browserless, path: str, page: int) -> str:
    """The URL of the list's page `page`, reached as a person does: following "Older" links."""
    for _ in range(page - 1):
        found = re.search(r'<a href="([^"]*)" rel="next">', (await person.get(path)).text)
        if found is None:
            raise BenchmarkError(f"{path} has no older page")
        path = html.unescape(found.group(1))
    return path


def quantiles(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {
        "p50": statistics.median(samples),
        "p99": cuts[98],
        "max": max(samples),
        "samples": len(samples),
    }


@dataclass
class Conditions:
    """What else happened while the pages were timed."""

    load_before: float = 0.0  # the machine's 1-minute load average
    load_after: float = 0.0
    full_collections: list[float] = field(default_factory=list)  # each one's pause, ms
    _started: float = 0.0

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        """A `gc.callbacks` hook: times the full (generation 2) collections."""
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.full_collections.append((time.perf_counter() - self._started) * 1000)


async def measure(
    person: Browserless, pages: dict[str, str], loads: int
) -> dict[str, dict[str, float]]:
    timed: dict[str, list[float]] = {name: [] for name in pages}
    for _ in range(10):  # warm-up
        for path in pages.values():
            await person.get(path)
    for _ in range(loads):
        for name, path in pages.items():  # interleaved: the same conditions for each
            started = time.perf_counter()
            answer = await person.get(path)
            timed[name].append((time.perf_counter() - started) * 1000)
            if answer.status != 200:
                raise BenchmarkError(f"GET {path} answered {answer.status}")
    return {name: quantiles(samples) for name, samples in timed.items()}


async def run(count: int, loads: int) -> tuple[dict[str, dict[str, float]], float, Conditions]:
    errors = LoopErrors()
    asyncio.get_running_loop().set_exception_handler(errors.handler)
    emu = DiscordEmulator()
    world = seed(emu.state, member_count=400)
    emu.owner_id = world.owner.id
    clock = FakeClock()
    with tempfile.TemporaryDirectory(prefix="rimpllee-bench-desk-") as tmp:
        database = Path(tmp) / "bench.db"
        await seed_database(database, world)
        db = await Database.open(database)
        filled = time.perf_counter()
        try:
            await fill(db, world, count, clock())
        finally:
            await db.close()
        fill_s = time.perf_counter() - filled
        async with contextlib.AsyncExitStack() as stack:
            await emu.start()
            stack.push_async_callback(emu.stop)
            bot = Rimpllee(
                sandbox_config(emu, http_port=0, database=database), max_retries=0, clock=clock
            )
            bot.discord.bot.subscribe(hikari.ExceptionEvent, errors.on_exception)
            await bot.start()
            stack.push_async_callback(bot.stop)
            await wait_until_cached(bot, world)
            g = f"/servers/{world.guild.id}"
            admin = Browserless(bot, emu)
            support = Browserless(bot, emu)
            stack.push_async_callback(admin.close)
            stack.push_async_callback(support.close)
            await admin.login(world.admin.id)
            await support.login(world.support_member.id)
            name = world.members[123].username
            archived_20 = await deep_page(admin, f"{g}/tickets?state=archived", 20)
            page_1000 = await deep_page(admin, f"{g}/tickets", 1000)
            conditions = Conditions(load_before=os.getloadavg()[0])
            gc.callbacks.append(conditions.on_gc)
            stack.callback(gc.callbacks.remove, conditions.on_gc)
            results = await measure(
                admin,
                {
                    "healthz (baseline)": "/healthz",
                    "tickets: page 1": f"{g}/tickets",
                    "tickets: open": f"{g}/tickets?state=open",
                    "tickets: archived, page 20": archived_20,
                    "tickets: button + 30 days": f"{g}/tickets?button=btn_report&from="
                    + time.strftime("%Y-%m-%d", time.gmtime(clock() - 30 * DAY_S)),
                    "tickets: search by name": f"{g}/tickets?q={name}",
                    "tickets: search by number": f"{g}/tickets?q=%2312345",
                    "tickets: page 1000": page_1000,
                    "stats: 30 days": f"{g}/stats",
                    "stats: 365 days": f"{g}/stats?days=365",
                    "stats: 30 days, one button": f"{g}/stats?button=btn_help",
                },
                loads,
            )
            results |= {
                f"support member: {k}": v
                for k, v in (
                    await measure(
                        support,
                        {"tickets: page 1": f"{g}/tickets", "My tickets": "/tickets"},
                        loads,
                    )
                ).items()
            }
            conditions.load_after = os.getloadavg()[0]
    if errors.items:
        raise BenchmarkError(f"errors during the run: {errors.items[:5]}")
    return results, fill_s, conditions


def render(
    results: dict[str, dict[str, float]], count: int, fill_s: float, conditions: Conditions
) -> str:
    base = results["healthz (baseline)"]
    lines = [
        f"Dashboard pages with {count} tickets in the database ({fill_s:.1f} s to write them), "
        f"{base['samples']:.0f} sequential loads each, interleaved",
        f"  {'page':<42} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'p99/healthz':>12}",
    ]
    for name, row in results.items():
        lines.append(
            f"  {name:<42} {row['p50']:8.2f} {row['p99']:8.2f} {row['max']:8.2f} "
            f"{row['p99'] / base['p99']:11.1f}x"
        )
    pauses = conditions.full_collections
    lines.append(
        f"  while loading: {len(pauses)} full garbage collections"
        + (f" (longest {max(pauses):.2f} ms)" if pauses else "")
        + f"; load average {conditions.load_before:.2f} before, {conditions.load_after:.2f} after"
        f" ({os.cpu_count()} CPUs)"
    )
    worst = max((n for n in results if n != "healthz (baseline)"), key=lambda n: results[n]["p99"])
    met = results[worst]["p99"] < AIM_P99_MS
    lines.append(
        f"  aim p99 < {AIM_P99_MS:.0f} ms: {'met' if met else 'NOT met'} "
        f"(slowest {worst}: {results[worst]['p99']:.2f} ms)"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench_desk", description=__doc__)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--loads", type=int, default=300, help="timed loads of each page")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the numbers here")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("hikari.ux").setLevel(logging.ERROR)
    try:
        results, fill_s, conditions = asyncio.run(run(args.tickets, args.loads))
    except BenchmarkError as exc:
        print(f"benchmark: {exc}", file=sys.stderr)
        return 1
    print(render(results, args.tickets, fill_s, conditions), flush=True)
    if args.json is not None:
        numbers = {
            "pages": results,
            "full_collections_ms": conditions.full_collections,
            "load_average": [conditions.load_before, conditions.load_after],
        }
        args.json.write_text(json.dumps(numbers, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
