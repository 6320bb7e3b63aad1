"""Both engines: the same schema, the SQL translation, and exact limits across processes.

The rest of the suite runs every test on both engines (conftest's `store_engine`); these tests
compare the engines themselves, or race two `Database` objects (two pools, as two processes
have) on one PostgreSQL database, so they run once and start what they need.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import sqlite3
import sys
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import pytest
import pytest_asyncio

from bot.config import DatabaseConfig
from bot.core.models import Button, Panel
from bot.core.webhooks import Endpoint
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import SandboxWorld, sandbox_config, seed_database
from bot.store import Database
from bot.store.automation import SqliteAutomationStore
from bot.store.idempotency import SqliteIdempotencyStore
from bot.store.panels import save_panel
from bot.store.postgres import translate
from bot.store.tickets import SqliteTicketStore
from bot.store.webhooks import SqliteWebhookStore
from tests import postgres
from tests.conftest import LoopErrors, _admin, running
from tests.helpers import post, ticket

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.engines_inside(reason="opens both engines (or two PostgreSQL pools) itself"),
]

GUILD = 1_000_000_000_000_000_001
_NAMES = itertools.count(1)


@pytest_asyncio.fixture
async def pg_url(pg_server: postgres.PostgresServer) -> AsyncIterator[str]:
    """A fresh, migrated PostgreSQL database of its own."""
    name = f"engines_{next(_NAMES)}"
    await _admin(pg_server, f"CREATE DATABASE {name} TEMPLATE {postgres.TEMPLATE}")
    yield pg_server.url(name)
    await _admin(pg_server, f"DROP DATABASE {name} WITH (FORCE)")


@contextlib.asynccontextmanager
async def two_processes(url: str) -> AsyncIterator[tuple[Database, Database]]:
    """Two Databases on one PostgreSQL database: each its own pool, as each process has."""
    first = await Database.open(url)
    second = await Database.open(url)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def test_both_engines_end_with_the_same_tables_and_columns(
    tmp_path: Path, pg_url: str
) -> None:
    lite = await Database.open(tmp_path / "same.db")
    pg = await Database.open(pg_url)
    try:
        assert await lite.schema_version() == await pg.schema_version() > 0
        sqlite_columns = {
            (str(t["name"]), str(c["name"]))
            for t in await lite.fetchall(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
            for c in await lite.fetchall(f"PRAGMA table_info({t['name']})")
        }
        pg_columns = {
            (str(r["table_name"]), str(r["column_name"]))
            for r in await pg.fetchall(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema()"
            )
        }
        assert sqlite_columns == pg_columns
        sqlite_indexes = {
            str(r[0])
            for r in await lite.fetchall(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            )
        }
        pg_indexes = {
            str(r[0])
            for r in await pg.fetchall(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                "AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_key'"
            )
        }
        assert sqlite_indexes == pg_indexes
    finally:
        await lite.close()
        await pg.close()


async def test_statements_are_translated_once_with_numbered_placeholders() -> None:
    named = translate("SELECT a FROM t WHERE g = :g AND b > :since AND c = :g AND d = '?:x'")
    assert named.sql == "SELECT a FROM t WHERE g = $1 AND b > $2 AND c = $1 AND d = '?:x'"
    assert named.args({"since": 2, "g": 1}) == [1, 2]
    assert named.returns_rows
    ignore = translate("INSERT OR IGNORE INTO t (a, b) VALUES (?, ?)")
    assert ignore.sql == "INSERT INTO t (a, b) VALUES ($1, $2) ON CONFLICT DO NOTHING"
    assert not ignore.returns_rows
    assert translate("SELECT 1 WHERE p.x IS d.x AND y IS NOT NULL").sql == (
        "SELECT 1 WHERE p.x IS NOT DISTINCT FROM d.x AND y IS NOT NULL"
    )
    assert translate("SELECT x::bigint FROM t").sql == "SELECT x::bigint FROM t"
    assert translate("SELECT 1") is translate("SELECT 1")  # cached
    with pytest.raises(ValueError, match="ON CONFLICT"):
        translate("INSERT OR REPLACE INTO t VALUES (1)")


async def test_a_database_that_is_not_rimpllees_is_refused(pg_url: str) -> None:
    await postgres.admin(pg_url, "DROP TABLE schema_migrations")
    with pytest.raises(Exception, match="not Rimpllee's"):
        await Database.open(pg_url)


async def _seed_panel(db: Database, max_open: int = 3) -> Panel:
    button = Button(
        button_id="btn_race",
        panel_id="pnl_race",
        label="Help",
        position=0,
        max_open=max_open,
    )
    panel = Panel(panel_id="pnl_race", guild_id=GUILD, title="Race", buttons=(button,))
    await save_panel(db, panel, 0.0)
    return panel


PER_MINUTE, MAX_OPEN, COOLDOWN = 30, 3, 20.0


async def _try_open(store: SqliteTicketStore, user_id: int, now: float) -> bool:
    """The reservation's rules (bot/core/tickets.py) in one reserve step: True if it opened."""
    async with store.reserve(GUILD) as tx:
        facts = await tx.facts(user_id, now - 60)
        if (
            facts.blacklisted
            or len(facts.open_tickets) >= MAX_OPEN
            or facts.opened_in_window >= PER_MINUTE
            or (facts.last_open is not None and now - facts.last_open < COOLDOWN)
        ):
            return False
        await tx.insert_opening(
            user_id=user_id,
            panel_id="pnl_race",
            button_id="btn_race",
            source="api",
            answers=(),
            support_role_ids=(),
            now=now,
        )
        return True


async def test_the_reservation_is_one_step_across_processes(pg_url: str) -> None:
    """Two processes open for one server at once: exactly 30 in the minute, none over a user's
    limits, even though every reservation reads its facts before it inserts."""
    async with two_processes(pg_url) as (first, second):
        await _seed_panel(first)
        stores = [SqliteTicketStore(first), SqliteTicketStore(second)]
        users = range(1, 41)
        # Every user tries three times at the same instant (cooldown: one of them may open),
        # then 25 s later (past the cooldown) again: the server's 30 bind in the first round.
        rounds = [(user, 1000.0 + 0.001 * user) for user in users for _ in range(3)]
        results = await asyncio.gather(
            *(_try_open(stores[i % 2], user, now) for i, (user, now) in enumerate(rounds))
        )
        assert sum(results) == PER_MINUTE
        rows = await first.fetchall("SELECT user_id, count(*) FROM tickets GROUP BY user_id")
        assert all(int(r[1]) == 1 for r in rows)  # the cooldown held: one each
        later = await asyncio.gather(
            *(_try_open(stores[i % 2], user, 1070.0) for i, user in enumerate(users))
        )
        assert sum(later) == PER_MINUTE  # the next minute: 30 more, still exactly
        counts = await first.fetchall("SELECT user_id, count(*) FROM tickets GROUP BY user_id")
        assert max(int(r[1]) for r in counts) <= MAX_OPEN
        numbers = await first.fetchall("SELECT number FROM tickets ORDER BY number")
        assert [r[0] for r in numbers] == list(range(1, 2 * PER_MINUTE + 1))  # no gap, no twin


async def test_an_idempotency_key_runs_once_across_processes(pg_url: str) -> None:
    async with two_processes(pg_url) as (first, second):
        stores = [SqliteIdempotencyStore(first), SqliteIdempotencyStore(second)]
        claims = await asyncio.gather(
            *(stores[i % 2].claim(GUILD, "key-1", "fp", 100.0, 0.0, 50.0) for i in range(20))
        )
        outcomes = sorted(c.outcome for c in claims)
        assert outcomes.count("run") == 1
        assert set(outcomes) == {"run", "in_flight"}


async def _race(calls: list[Awaitable[list[int]]]) -> list[int]:
    found = await asyncio.gather(*calls)
    return [item for batch in found for item in batch]


async def test_a_timer_fires_in_one_process(pg_url: str) -> None:
    async with two_processes(pg_url) as (first, second):
        await _seed_panel(first)
        store = SqliteTicketStore(first)
        for user in range(1, 31):
            assert await _try_open(store, user, 1000.0)
        async with first.write() as conn:
            await conn.execute(
                "INSERT INTO ticket_timers (ticket_id, kind, due_at, created_at) "
                "SELECT ticket_id, 'close_request', 1000, 1000 FROM tickets"
            )
        runners = [SqliteAutomationStore(first), SqliteAutomationStore(second)]

        async def claim(runner: SqliteAutomationStore) -> list[int]:
            return [t.timer_id for t in await runner.claim_due(2000.0, 60.0, 7)]

        claimed = await _race([claim(runners[i % 2]) for i in range(10)])
        assert len(claimed) == len(set(claimed)) == 30


async def test_a_webhook_delivery_is_sent_by_one_process(pg_url: str) -> None:
    async with two_processes(pg_url) as (first, second):
        await _seed_panel(first)
        hooks = [SqliteWebhookStore(first), SqliteWebhookStore(second)]
        endpoint = Endpoint(
            endpoint_id="whe_race",
            guild_id=GUILD,
            url="https://example.com/hook",
            events=("ticket.opened",),
            secret="whsec_race",
            created_at=0.0,
        )
        assert await hooks[0].add_endpoint(endpoint, 5)
        store = SqliteTicketStore(first)
        for user in range(1, 21):
            assert await _try_open(store, user, 1000.0)
        for (ticket_id,) in await first.fetchall("SELECT ticket_id FROM tickets"):
            await store.mark_open(int(ticket_id), 1)

        taken: list[list[int]] = [[], []]  # what each process sends (its runner's in-flight)

        async def due(i: int, rounds: int) -> list[int]:
            """One process's runner: rounds one after another, as DeliveryRunner polls."""
            for _ in range(rounds):
                taken[i].extend(d.delivery_id for d in await hooks[i].due(2000.0, 2, taken[i]))
            return taken[i]

        await asyncio.gather(due(0, 12), due(1, 12))  # the two processes at once
        sent = taken[0] + taken[1]
        assert len(sent) == len(set(sent)) == 20
        assert await hooks[0].due(2000.0, 50, taken[0]) == []
        assert await hooks[1].due(2000.0, 50, taken[1]) == []
        # The race may leave one process none (the other's rounds ran first): go on from one
        # that took some. A delivery recorded by one process is not sent again by the other.
        a, b = (0, 1) if taken[0] else (1, 0)
        first_id = taken[a][0]
        await hooks[a].delivered(first_id, 200, 2001.0)
        assert first_id not in [d.delivery_id for d in await hooks[b].due(2002.0, 50, taken[b])]
        # A process that ends (killed or not) gives its deliveries back at once.
        await (first, second)[a].close()
        retaken = [d.delivery_id for d in await hooks[b].due(2003.0, 50, taken[b])]
        assert sorted(retaken) == sorted(set(taken[a]) - {first_id})


async def test_the_webhook_limit_holds_across_processes(pg_url: str) -> None:
    async with two_processes(pg_url) as (first, second):
        hooks = [SqliteWebhookStore(first), SqliteWebhookStore(second)]
        added = await asyncio.gather(
            *(
                hooks[i % 2].add_endpoint(
                    Endpoint(f"whe_{i}", GUILD, "https://e.com", ("ticket.opened",), "whsec_x", 0),
                    3,
                )
                for i in range(12)
            )
        )
        assert sum(added) == 3


async def _make_community(path: Path) -> None:
    """A SQLite file with data in the tables that have it (as a running bot leaves it)."""
    db = await Database.open(path)
    try:
        await _seed_panel(db)
        store = SqliteTicketStore(db)
        for user in range(1, 6):
            assert await _try_open(store, user, 1000.0 + user * 30)
        async with db.write() as conn:
            await conn.execute(
                "INSERT INTO blacklist (guild_id, user_id, added_at) VALUES (?, 9, 1)", (GUILD,)
            )
    finally:
        await db.close()


async def test_migrate_sqlite_to_postgres_copies_a_community(tmp_path: Path, pg_url: str) -> None:
    source = tmp_path / "community.db"
    await _make_community(source)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "migrate-sqlite-to-postgres",
        str(source),
        pg_url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert "tickets: 5 row(s)" in out.decode()
    assert "the counts match" in out.decode()
    lite = sqlite3.connect(source)
    pg = await Database.open(pg_url)
    try:
        for table in ("servers", "panels", "buttons", "tickets", "blacklist"):
            everything = f"SELECT * FROM {table} ORDER BY 1"  # noqa: S608 - our table names
            expected = lite.execute(everything).fetchall()
            got = [tuple(r) for r in await pg.fetchall(everything)]
            assert got == expected, table
        # The copy continues where the file stopped: the next ticket gets the next IDs.
        store = SqliteTicketStore(pg)
        assert await _try_open(store, 42, 10_000_000_000.0)
        newest = await pg.fetchone("SELECT max(ticket_id), max(number) FROM tickets")
        assert newest is not None
        assert tuple(newest) == (6, 6)
    finally:
        lite.close()
        await pg.close()
    # A second copy into the same database is refused: it has data now.
    again = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "migrate-sqlite-to-postgres",
        str(source),
        pg_url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await again.communicate()
    assert again.returncode == 1
    assert "already has data" in err.decode()
    assert "Traceback" not in err.decode()


async def test_the_bot_runs_on_the_database_url_of_its_config(
    emulator: DiscordEmulator,
    world: SandboxWorld,
    loop_errors: LoopErrors,
    tmp_path: Path,
    pg_url: str,
) -> None:
    """`database.url` set: the bot opens PostgreSQL (the file at database.path is never made)."""
    await seed_database(pg_url, world)
    path = tmp_path / "unused.db"
    config = sandbox_config(emulator, http_port=0, database=path)
    config = dataclasses.replace(config, database=DatabaseConfig(path=path, url=pg_url))
    async with running(emulator, path, loop_errors, config=config) as app:
        assert app.db is not None
        assert app.db.engine == "postgres"
        status, body, _ = await post(app, ticket(world.members[0].id))
        assert status == 200, body
    assert not path.exists()
    db = await Database.open(pg_url)
    try:
        row = await db.fetchone("SELECT state, user_id FROM tickets")
        assert row is not None
        assert (row["state"], row["user_id"]) == ("open", world.members[0].id)
    finally:
        await db.close()
