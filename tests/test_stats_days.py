"""The stats page's per-day counts (migration 0011): filled from the tickets already there, kept
by triggers through every change, and read back as the same numbers a full scan of the tickets
gives (medians and p90s exact)."""

from __future__ import annotations

import dataclasses
import itertools
import random
import sqlite3
from pathlib import Path

import pytest

from bot.core.stats import DAY_S, RawStats, durations, period_ending
from bot.store.database import Database, Engine, load_migrations
from bot.store.stats import ClaimRecordingLifecycleStore, SqliteStats, bucket_value_sql

GUILD, OTHER = 1001, 1002
BUTTONS = ("btn_a", "btn_b")
NOW = 1_800_000_000.0
STAFF = (7, 8, 9)


async def full_scan(db: Database, guild: int, days: int, button: str | None) -> RawStats:
    """What the stats page showed before the day counts: every ticket and claim, read in full."""
    period = period_ending(NOW, days)
    tickets = await db.fetchall(
        "SELECT * FROM tickets WHERE guild_id = ? AND state != 'opening'", (guild,)
    )
    mine = [t for t in tickets if button is None or t["button_id"] == button]
    inside = [t for t in mine if period.start <= t["opened_at"] < period.end]
    opened: dict[tuple[int, str], int] = {}
    for t in inside:
        key = (int((t["opened_at"] - period.start) // DAY_S), t["source"])
        opened[key] = opened.get(key, 0) + 1
    claims: dict[int, int] = {}
    for c in await db.fetchall("SELECT * FROM ticket_claims WHERE guild_id = ?", (guild,)):
        if period.start <= c["at"] < period.end and (button is None or c["button_id"] == button):
            claims[c["user_id"]] = claims.get(c["user_id"], 0) + 1
    closes: dict[int, int] = {}
    for t in mine:
        if t["closed_at"] is None or t["closed_by"] in (None, t["user_id"]):
            continue
        if period.start <= t["closed_at"] < period.end:
            closes[t["closed_by"]] = closes.get(t["closed_by"], 0) + 1
    replied = [t for t in inside if t["first_staff_reply_at"] is not None]
    return RawStats(
        opened=sorted((d, s, n) for (d, s), n in opened.items()),
        open_now=sum(1 for t in mine if t["state"] == "open"),
        first_reply=durations([t["first_staff_reply_at"] - t["opened_at"] for t in replied]),
        close=durations([t["closed_at"] - t["opened_at"] for t in inside if t["closed_at"]]),
        claims=claims,
        closes=closes,
    )


async def assert_same(db: Database) -> None:
    stats = SqliteStats(db)
    for guild in (GUILD, OTHER):
        for days in (1, 7, 30, 365):
            for button in (None, *BUTTONS):
                read = await stats.read(guild, period_ending(NOW, days), button)
                read = dataclasses.replace(read, opened=sorted(read.opened))
                assert read == await full_scan(db, guild, days, button), (guild, days, button)


def a_duration(rng: random.Random) -> float:
    # Ties, zero, exact bucket bounds (1.4x steps from 1 s) and fractions, from seconds to weeks.
    return rng.choice(
        [0.0, 1.0, 57.0, 57.0, 79.0, 3214.0, rng.uniform(0, 90), rng.expovariate(1 / 20000)]
    )


async def add_tickets(db: Database, rng: random.Random, first: int, count: int) -> None:
    async with db.write() as conn:
        for number in range(first, first + count):
            guild = rng.choice((GUILD, GUILD, OTHER))
            opened = NOW - rng.uniform(0, 400 * DAY_S)
            state = rng.choice(("opening", "open", "closed", "closed"))
            closed = opened + a_duration(rng) if state == "closed" else None
            reply = opened + a_duration(rng) if state != "opening" and rng.random() < 0.7 else None
            closer = rng.choice((*STAFF, 100 + number)) if closed is not None else None
            button = rng.choice(BUTTONS) if guild == GUILD else "btn_o"
            await conn.execute(
                "INSERT INTO tickets (ticket_id, guild_id, number, user_id, panel_id, button_id, "
                "state, source, opened_at, closed_at, closed_by, first_staff_reply_at) "
                "VALUES (?, ?, ?, ?, 'pnl_s', ?, ?, ?, ?, ?, ?, ?)",
                (
                    number,
                    guild,
                    number,
                    100 + number,
                    button if guild == GUILD else None,
                    state,
                    rng.choice(("button", "api")),
                    opened,
                    closed,
                    closer,
                    reply,
                ),
            )
            if state != "opening" and rng.random() < 0.5:
                await conn.execute(
                    "INSERT INTO ticket_claims (guild_id, ticket_id, button_id, user_id, at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (guild, number, button, rng.choice(STAFF), opened + rng.uniform(0, 5 * DAY_S)),
                )


async def setup(db: Database) -> None:
    async with db.write() as conn:
        for guild in (GUILD, OTHER):
            await conn.execute("INSERT INTO servers (guild_id, created_at) VALUES (?, 0)", (guild,))
        await conn.execute(
            "INSERT INTO panels (panel_id, guild_id, title, created_at) "
            "VALUES ('pnl_s', ?, 'S', 0)",
            (GUILD,),
        )
        for position, button in enumerate(BUTTONS):
            await conn.execute(
                "INSERT INTO buttons (button_id, panel_id, position, label) "
                "VALUES (?, 'pnl_s', ?, ?)",
                (button, position, button),
            )


@pytest.mark.asyncio
async def test_day_counts_are_filled_then_kept_and_read_as_a_full_scan(
    tmp_path: Path, store_engine: Engine
) -> None:
    rng = random.Random(11)
    path = tmp_path / "stats.db"
    before = [m for m in load_migrations(store_engine) if m.version <= 10]
    db = await Database.open(path, before)
    await setup(db)
    await add_tickets(db, rng, 1, 600)
    await db.close()

    db = await Database.open(path)  # 0011 fills the counts from the tickets already there
    try:
        assert await db.schema_version() >= 11
        await assert_same(db)
        # Every change the bot makes, through the store that makes it.
        store = ClaimRecordingLifecycleStore(db, lambda: NOW)
        await add_tickets(db, rng, 601, 200)
        rows = await db.fetchall("SELECT ticket_id, state FROM tickets ORDER BY ticket_id")
        for ticket_id, state in rng.sample([(r[0], r[1]) for r in rows], 300):
            if state == "opening":
                async with db.write() as conn:
                    await conn.execute(
                        "UPDATE tickets SET state = 'open' WHERE ticket_id = ?", (ticket_id,)
                    )
            elif state == "open":
                action = rng.choice(("close", "claim", "reply"))
                if action == "close":
                    await store.close(
                        ticket_id,
                        closed_at=NOW - rng.uniform(0, 3 * DAY_S),
                        closed_by=rng.choice(STAFF),
                        reason=None,
                        archived=False,
                        transcript_path=None,
                    )
                elif action == "claim":
                    await store.set_claimed(
                        ticket_id, rng.choice(STAFF), locked=False, now=NOW - DAY_S
                    )
                else:
                    await store.record_first_reply(ticket_id, NOW - rng.uniform(0, 9 * DAY_S))
            elif rng.random() < 0.5:
                await store.reopen(ticket_id, now=NOW)
            else:
                async with db.write() as conn:
                    await conn.execute("DELETE FROM tickets WHERE ticket_id = ?", (ticket_id,))
        await assert_same(db)
        # A deleted button's tickets stay in the server's numbers, no longer in the button's.
        async with db.write() as conn:
            await conn.execute("DELETE FROM buttons WHERE button_id = 'btn_b'")
        await assert_same(db)
        # A server that goes takes its counts along.
        async with db.write() as conn:
            await conn.execute("DELETE FROM servers WHERE guild_id = ?", (OTHER,))
        for table in ("stats_opened", "stats_durations", "stats_handled"):
            left = await db.fetchone(f"SELECT count(*) FROM {table} WHERE guild_id = ?", (OTHER,))  # noqa: S608
            assert left is not None
            assert left[0] == 0, table
        await assert_same(db)
    finally:
        await db.close()


@pytest.mark.asyncio
async def test_a_claim_and_its_stats_row_are_one_transaction(tmp_path: Path) -> None:
    """A claim that fails to record for the stats leaves the ticket unclaimed."""
    db = await Database.open(tmp_path / "claim.db")
    try:
        await setup(db)
        await add_tickets(db, random.Random(3), 1, 1)
        async with db.write() as conn:
            await conn.execute("UPDATE tickets SET state = 'open', closed_at = NULL")
            await conn.execute("DELETE FROM ticket_claims")
            # The stats row cannot be written: the claim must not be either.
            if conn.engine == "postgres":
                await conn.execute(
                    "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'no claims today'; END $$"
                )
                await conn.execute(
                    "CREATE TRIGGER refuse BEFORE INSERT ON ticket_claims "
                    "FOR EACH ROW EXECUTE FUNCTION refuse()"
                )
            else:
                await conn.execute(
                    "CREATE TRIGGER refuse BEFORE INSERT ON ticket_claims "
                    "BEGIN SELECT RAISE(ABORT, 'no claims today'); END"
                )
        store = ClaimRecordingLifecycleStore(db, lambda: NOW)
        with pytest.raises(Exception, match="no claims today"):
            await store.set_claimed(1, STAFF[0], locked=False, now=NOW)
        ticket = await store.by_id(1)
        assert ticket is not None
        assert ticket.claimed_by is None
        async with db.write() as conn:
            on = " ON ticket_claims" if conn.engine == "postgres" else ""
            await conn.execute(f"DROP TRIGGER refuse{on}")
        await store.set_claimed(1, STAFF[0], locked=True, now=NOW)
        ticket = await store.by_id(1)
        assert ticket is not None
        assert ticket.claimed_by == STAFF[0]
        claims = await db.fetchall("SELECT user_id, at FROM ticket_claims WHERE ticket_id = 1")
        assert [tuple(r) for r in claims] == [(STAFF[0], NOW)]
    finally:
        await db.close()


@pytest.mark.asyncio
@pytest.mark.sqlite_only(reason="SQLite's query plan (EXPLAIN QUERY PLAN)")
async def test_the_exact_value_is_read_from_one_bucket_of_the_index_alone(tmp_path: Path) -> None:
    """No table row, no sort: the durations come in order from the partial expression index."""
    db = await Database.open(tmp_path / "plan.db")
    await db.close()
    with sqlite3.connect(tmp_path / "plan.db") as conn:
        for kind in ("reply", "close"):
            for lower, upper, button in itertools.product((True, False), repeat=3):
                sql = bucket_value_sql(kind, lower, upper, button)
                params = {"g": 1, "start": 0, "end": 1, "b": "btn_a", "lo": 1, "hi": 2}
                plan = [
                    r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params | {"offset": 0})
                ]
                assert plan == [
                    f"SEARCH tickets USING COVERING INDEX tickets_guild_{kind}_time "
                    + (
                        "(guild_id=? AND <expr>>? AND <expr><?)"
                        if lower and upper
                        else "(guild_id=? AND <expr>>?)"
                        if lower
                        else "(guild_id=? AND <expr><?)"
                        if upper
                        else "(guild_id=?)"
                    )
                ], (kind, lower, upper, button)
