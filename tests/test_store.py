"""The storage layer against real SQLite files: migrations, refusals, the write path, schema."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from bot.store import Database, DatabaseError, Migration
from bot.store.database import IntegrityError, load_migrations, split_statements

TABLES = {
    "schema_migrations",
    "servers",
    "panels",
    "buttons",
    "button_support_roles",
    "questions",
    "tickets",
    "api_keys",
    "idempotency_keys",
    "webhook_endpoints",
    "webhook_events",
    "webhook_deliveries",
    "blacklist",
    "login_states",
    "web_sessions",
    "api_requests",
    "channel_cleanups",
    "ticket_timers",
    "close_requests",
    "ticket_claims",
    "memo_version",
    "stats_buckets",
    "stats_opened",
    "stats_durations",
    "stats_handled",
}


# The file's handling and the SQLite migration runner (its tests' migrations are SQLite's
# dialect); PostgreSQL's runner is tested in tests/test_engines.py.
SQLITE_FILE = pytest.mark.sqlite_only(reason="the SQLite file and its migration runner")


@pytest_asyncio.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "data" / "rimpllee.db")
    yield database
    await database.close()


def make_sqlite(path: Path, *statements: str) -> None:
    """A database written by plain sqlite3, as another program (or version) would leave it."""
    connection = sqlite3.connect(path)
    try:
        for statement in statements:
            connection.execute(statement)
        connection.commit()
    finally:
        connection.close()


def snapshot(path: Path) -> tuple[bytes, int, list[str]]:
    """What must not change when a file is refused: content, mtime, and no sidecar files."""
    return path.read_bytes(), path.stat().st_mtime_ns, sorted(p.name for p in path.parent.iterdir())


async def rows(db: Database, sql: str) -> list[tuple[object, ...]]:
    """Rows as plain tuples: sqlite3.Row does not compare equal to them."""
    return [tuple(row) for row in await db.fetchall(sql)]


async def table_names(db: Database) -> set[str]:
    if db.engine == "postgres":
        found = await db.fetchall(
            "SELECT table_name AS name FROM information_schema.tables "
            "WHERE table_schema = current_schema()"
        )
    else:
        found = await db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {row["name"] for row in found} - {"sqlite_sequence"}


async def add_panel(db: Database) -> None:
    """Server 1 with panel pnl_1: the parents most rows need."""
    async with db.write() as conn:
        await conn.execute("INSERT INTO servers (guild_id, created_at) VALUES (1, 0)")
        await conn.execute(
            "INSERT INTO panels (panel_id, guild_id, title, created_at) VALUES ('pnl_1', 1, 't', 0)"
        )


# --- migrations -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_blank_database_is_migrated_to_newest(db: Database) -> None:
    assert await db.schema_version() == len(load_migrations()) >= 1
    assert await table_names(db) == TABLES
    if db.engine == "postgres":
        return  # the pragmas below are SQLite's
    assert await rows(db, "PRAGMA journal_mode") == [("wal",)]
    async with db.write() as conn, conn.execute("PRAGMA foreign_keys") as cursor:
        assert tuple(await cursor.fetchone() or ()) == (1,)


@pytest.mark.sqlite_only(
    reason="about the SQLite file and its migration runner (SQLite-dialect test migrations)"
)
@pytest.mark.asyncio
async def test_parent_directories_are_created_and_close_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "x.db"
    database = await Database.open(path)
    states = [database.is_open]
    await database.close()
    await database.close()
    states.append(database.is_open)
    assert states == [True, False]
    assert path.read_bytes().startswith(b"SQLite format 3\x00")
    assert sorted(p.name for p in path.parent.iterdir()) == ["x.db"]  # WAL checkpointed away


@pytest.mark.sqlite_only(
    reason="about the SQLite file and its migration runner (SQLite-dialect test migrations)"
)
@pytest.mark.asyncio
async def test_reopening_applies_nothing(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    query = "SELECT version, name, applied_at FROM schema_migrations ORDER BY version"
    first = await Database.open(path)
    before = [tuple(row) for row in await first.fetchall(query)]
    await first.close()
    second = await Database.open(path)
    try:
        assert [tuple(row) for row in await second.fetchall(query)] == before
        assert await second.schema_version() == len(before)
        assert before[0][1] == "0001_initial.sql"
    finally:
        await second.close()


@pytest.mark.sqlite_only(
    reason="about the SQLite file and its migration runner (SQLite-dialect test migrations)"
)
@pytest.mark.asyncio
async def test_pending_migrations_apply_on_top(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    one = Migration(1, "0001_a.sql", "CREATE TABLE a (x INTEGER) STRICT;")
    two = Migration(2, "0002_b.sql", "INSERT INTO a VALUES (7);")
    await (await Database.open(path, [one])).close()
    database = await Database.open(path, [two, one])  # order comes from the version
    try:
        assert await database.schema_version() == 2
        assert await rows(database, "SELECT x FROM a") == [(7,)]
    finally:
        await database.close()


@pytest.mark.sqlite_only(
    reason="about the SQLite file and its migration runner (SQLite-dialect test migrations)"
)
@pytest.mark.asyncio
async def test_failing_migration_rolls_back_schema_and_version(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    good = Migration(1, "0001_good.sql", "CREATE TABLE a (x INTEGER) STRICT;")
    bad = Migration(
        2,
        "0002_bad.sql",
        "CREATE TABLE b (x INTEGER) STRICT; INSERT INTO a VALUES (1); INSERT INTO nope VALUES (1);",
    )
    with pytest.raises(DatabaseError, match=r"migration 0002_bad\.sql failed.*no such table: nope"):
        await Database.open(path, [good, bad])
    database = await Database.open(path, [good])
    try:
        assert await database.schema_version() == 1
        assert await table_names(database) == {"schema_migrations", "a"}
        assert await rows(database, "SELECT x FROM a") == []
    finally:
        await database.close()


@pytest.mark.sqlite_only(
    reason="about the SQLite file and its migration runner (SQLite-dialect test migrations)"
)
@pytest.mark.asyncio
async def test_failing_first_migration_leaves_a_blank_file(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    with pytest.raises(DatabaseError, match=r"0001_bad\.sql"):
        await Database.open(path, [Migration(1, "0001_bad.sql", "CREATE TABLE a (x NOPE) STRICT;")])
    connection = sqlite3.connect(path)
    try:
        assert connection.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
    finally:
        connection.close()


@pytest.mark.sqlite_only(
    reason="about the SQLite file and its migration runner (SQLite-dialect test migrations)"
)
@pytest.mark.asyncio
async def test_migration_leaving_foreign_key_violations_is_rolled_back(tmp_path: Path) -> None:
    sql = """
        CREATE TABLE parent (id INTEGER PRIMARY KEY) STRICT;
        CREATE TABLE child (parent_id INTEGER REFERENCES parent (id)) STRICT;
        INSERT INTO child VALUES (5);
    """
    with pytest.raises(DatabaseError, match="violate foreign keys"):
        await Database.open(tmp_path / "x.db", [Migration(1, "0001_fk.sql", sql)])


@pytest.mark.sqlite_only(
    reason="about the SQLite file and its migration runner (SQLite-dialect test migrations)"
)
@pytest.mark.parametrize(
    "sql",
    ["BEGIN;\nCREATE TABLE a (x);\nCOMMIT;", "-- note\n  commit;", "SAVEPOINT s;", "/* x */ END;"],
)
@pytest.mark.asyncio
async def test_transaction_statements_in_migrations_are_refused(tmp_path: Path, sql: str) -> None:
    path = tmp_path / "x.db"
    with pytest.raises(ValueError, match="must not control transactions"):
        await Database.open(path, [Migration(1, "0001_txn.sql", sql)])
    assert not path.exists()


@pytest.mark.sqlite_only(
    reason="about the SQLite file and its migration runner (SQLite-dialect test migrations)"
)
@pytest.mark.asyncio
async def test_transaction_words_inside_comments_are_fine(tmp_path: Path) -> None:
    sql = "-- no BEGIN or COMMIT here\n/* END */ CREATE TABLE a (x INTEGER) STRICT;"
    database = await Database.open(tmp_path / "x.db", [Migration(1, "0001_a.sql", sql)])
    await database.close()


@pytest.mark.sqlite_only(
    reason="about the SQLite file and its migration runner (SQLite-dialect test migrations)"
)
@pytest.mark.asyncio
async def test_migration_versions_must_be_contiguous(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"1\.\.N"):
        await Database.open(tmp_path / "x.db", [Migration(2, "0002_a.sql", "SELECT 1;")])


def test_split_statements_keeps_semicolons_inside_strings_comments_and_triggers() -> None:
    script = """
        CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('a;b');
        -- a comment; with a semicolon
        CREATE TRIGGER tr AFTER INSERT ON t BEGIN
            INSERT INTO t VALUES ('c');
        END;
        SELECT 1
    """
    statements = split_statements(script)
    assert len(statements) == 4
    assert statements[1] == "INSERT INTO t VALUES ('a;b');"
    assert statements[2].startswith("-- a comment")
    assert statements[2].endswith("END;")
    assert statements[3] == "SELECT 1"


def test_shipped_migrations_are_numbered_from_one() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert all(m.name.endswith(".sql") and m.sql.strip() for m in migrations)


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.sqlite_only(
    reason="about the SQLite file and its migration runner (SQLite-dialect test migrations)"
)
@pytest.mark.asyncio
async def test_text_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    path.write_text("guild_id = 1\nnot a database\n")
    before = snapshot(path)
    with pytest.raises(DatabaseError) as info:
        await Database.open(path)
    assert str(info.value) == f"{path} is not a SQLite database (refusing to touch it)"
    assert snapshot(path) == before


@pytest.mark.sqlite_only(
    reason="about the SQLite file and its migration runner (SQLite-dialect test migrations)"
)
@pytest.mark.asyncio
async def test_newer_schema_version_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    make_sqlite(
        path,
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)",
        "INSERT INTO schema_migrations VALUES (99, '0099_future.sql', '2030-01-01')",
    )
    before = snapshot(path)
    with pytest.raises(DatabaseError) as info:
        await Database.open(path)
    assert str(info.value) == (
        f"{path} has schema version 99 but this Rimpllee knows up to {len(load_migrations())}; "
        "upgrade Rimpllee or restore a backup"
    )
    assert snapshot(path) == before


@pytest.mark.sqlite_only(
    reason="about the SQLite file and its migration runner (SQLite-dialect test migrations)"
)
@pytest.mark.asyncio
async def test_newer_wal_database_is_refused_without_leftovers(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    make_sqlite(path, "PRAGMA journal_mode = WAL", "CREATE TABLE schema_migrations (version)")
    make_sqlite(path, "INSERT INTO schema_migrations VALUES (2)")
    before = snapshot(path)
    with pytest.raises(DatabaseError, match="schema version 2 but this Rimpllee knows up to 1"):
        await Database.open(path, [Migration(1, "0001_a.sql", "SELECT 1;")])
    assert snapshot(path) == before


@pytest.mark.sqlite_only(
    reason="about the SQLite file and its migration runner (SQLite-dialect test migrations)"
)
@pytest.mark.asyncio
async def test_foreign_sqlite_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    make_sqlite(path, "CREATE TABLE notes (body TEXT)")
    before = snapshot(path)
    with pytest.raises(DatabaseError, match="not Rimpllee's"):
        await Database.open(path)
    assert snapshot(path) == before


@pytest.mark.sqlite_only(
    reason="about the SQLite file and its migration runner (SQLite-dialect test migrations)"
)
@pytest.mark.asyncio
async def test_empty_file_is_a_new_database(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    path.touch()
    database = await Database.open(path)
    try:
        assert await table_names(database) == TABLES
    finally:
        await database.close()


# --- the write path ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_exception_inside_write_rolls_back(db: Database) -> None:
    class Boom(Exception):
        pass

    async def failing_write() -> None:
        async with db.write() as conn:
            await conn.execute("INSERT INTO servers (guild_id, created_at) VALUES (1, 0)")
            raise Boom

    with pytest.raises(Boom):
        await failing_write()
    assert await db.fetchall("SELECT * FROM servers") == []
    async with db.write() as conn:  # the connection is usable again
        await conn.execute("INSERT INTO servers (guild_id, created_at) VALUES (1, 0)")
    assert await rows(db, "SELECT guild_id FROM servers") == [(1,)]


@pytest.mark.sqlite_only(
    reason="one writer at a time is SQLite's; PostgreSQL's lock what they read (test_engines)"
)
@pytest.mark.asyncio
async def test_concurrent_writers_are_serialized(db: Database) -> None:
    await add_panel(db)

    async def bump() -> None:
        for _ in range(50):
            async with db.write() as conn:
                async with conn.execute("SELECT ticket_counter FROM servers") as cursor:
                    row = await cursor.fetchone()
                assert row is not None
                await asyncio.sleep(0)  # invite the other task in mid-transaction
                await conn.execute("UPDATE servers SET ticket_counter = ?", (row[0] + 1,))

    await asyncio.gather(bump(), bump())
    assert await rows(db, "SELECT ticket_counter FROM servers") == [(100,)]


@pytest.mark.parametrize("where", ["begin", "body"])
@pytest.mark.asyncio
async def test_cancelled_writer_leaves_no_open_transaction(db: Database, where: str) -> None:
    async def write() -> None:
        async with db.write() as conn:
            await conn.execute("INSERT INTO servers (guild_id, created_at) VALUES (1, 0)")
            await asyncio.sleep(10)

    task = asyncio.create_task(write())
    await asyncio.sleep(0)  # the task is now awaiting BEGIN IMMEDIATE
    if where == "body":
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with db.write() as conn:
        await conn.execute("INSERT INTO servers (guild_id, created_at) VALUES (2, 0)")
    assert await rows(db, "SELECT guild_id FROM servers") == [(2,)]


@pytest.mark.asyncio
async def test_reads_see_only_committed_data(db: Database) -> None:
    async with db.write() as conn:
        await conn.execute("INSERT INTO servers (guild_id, created_at) VALUES (1, 0)")
        assert await db.fetchall("SELECT * FROM servers") == []
    assert await rows(db, "SELECT count(*) FROM servers") == [(1,)]


@pytest.mark.sqlite_only(
    reason="the read connection is query-only (a SQLite pragma); PostgreSQL's reads share the pool"
)
@pytest.mark.asyncio
async def test_reads_cannot_write(db: Database) -> None:
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        await db.fetchall("INSERT INTO servers (guild_id, created_at) VALUES (1, 0)")


@pytest.mark.asyncio
async def test_nested_write_raises_instead_of_deadlocking(db: Database) -> None:
    async with db.write():
        with pytest.raises(RuntimeError, match="not re-entrant"):
            async with db.write():
                pass


@pytest.mark.asyncio
async def test_close_waits_for_the_write_in_progress(db: Database) -> None:
    entered = asyncio.Event()

    async def writer() -> None:
        async with db.write() as conn:
            entered.set()
            await asyncio.sleep(0.05)
            await conn.execute("INSERT INTO servers (guild_id, created_at) VALUES (1, 0)")

    task = asyncio.create_task(writer())
    await entered.wait()
    await db.close()
    await task
    assert not db.is_open


# --- schema ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_foreign_keys_are_enforced(db: Database) -> None:
    with pytest.raises(IntegrityError, match=r"(?i)foreign key"):
        async with db.write() as conn:
            await conn.execute(
                "INSERT INTO buttons (button_id, panel_id, position, label) "
                "VALUES ('btn_1', 'pnl_missing', 0, 'Open')"
            )


@pytest.mark.asyncio
async def test_deleting_a_panel_cascades_to_buttons_but_tickets_survive(db: Database) -> None:
    await add_panel(db)
    async with db.write() as conn:
        await conn.execute(
            "INSERT INTO buttons (button_id, panel_id, position, label) "
            "VALUES ('btn_1', 'pnl_1', 0, 'Open')"
        )
        await conn.execute("INSERT INTO button_support_roles VALUES ('btn_1', 42)")
        await conn.execute(
            "INSERT INTO questions (question_id, button_id, position, label) "
            "VALUES ('q_1', 'btn_1', 0, 'Why?')"
        )
        await conn.execute(
            "INSERT INTO tickets (guild_id, number, user_id, panel_id, button_id, state, source,"
            " opened_at) VALUES (1, 1, 7, 'pnl_1', 'btn_1', 'open', 'button', 0)"
        )
    async with db.write() as conn:
        await conn.execute("DELETE FROM panels WHERE panel_id = 'pnl_1'")
    for table in ("buttons", "button_support_roles", "questions"):
        assert await db.fetchall(f"SELECT * FROM {table}") == [], table  # noqa: S608
    assert await rows(db, "SELECT panel_id, button_id, number FROM tickets") == [(None, None, 1)]


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO servers (guild_id, created_at) VALUES ('not a snowflake', 0)",  # STRICT
        "INSERT INTO servers (guild_id, user_max_open, created_at) VALUES (2, 0, 0)",
        "INSERT INTO panels (panel_id, guild_id, title, created_at) VALUES ('btn_x', 1, 't', 0)",
        "INSERT INTO tickets (guild_id, number, user_id, state, source, opened_at)"
        " VALUES (1, 1, 7, 'lost', 'api', 0)",
        "INSERT INTO tickets (guild_id, number, user_id, state, source, opened_at, answers)"
        " VALUES (1, 1, 7, 'open', 'api', 0, '{not json')",
        "INSERT INTO api_keys (guild_id, key_hash, display_prefix, created_at)"
        " VALUES (1, 'short', 'rk_', 0)",
    ],
)
@pytest.mark.asyncio
async def test_schema_rejects_bad_rows(db: Database, sql: str) -> None:
    await add_panel(db)
    # PostgreSQL refuses text for a BIGINT as invalid input (DataError), SQLite's STRICT as a
    # constraint; every other bad row is a constraint violation on both.
    with pytest.raises((*IntegrityError, asyncpg.DataError)):
        async with db.write() as conn:
            await conn.execute(sql)


@pytest.mark.asyncio
async def test_ticket_numbers_are_unique_per_guild(db: Database) -> None:
    await add_panel(db)
    insert = (
        "INSERT INTO tickets (guild_id, number, user_id, state, source, opened_at)"
        " VALUES (1, 1, 7, 'opening', 'api', 0)"
    )
    async with db.write() as conn:
        await conn.execute(insert)
    with pytest.raises(IntegrityError, match=r"(?i)unique"):
        async with db.write() as conn:
            await conn.execute(insert)


@pytest.mark.sqlite_only(
    reason="about the SQLite file and its migration runner (SQLite-dialect test migrations)"
)
@pytest.mark.asyncio
async def test_the_database_its_wal_and_its_folder_are_owner_only_whatever_the_umask(
    tmp_path: Path,
) -> None:
    import os
    import stat

    old = os.umask(0)
    try:
        path = tmp_path / "new" / "data" / "r.db"
        db = await Database.open(path)
        try:
            async with db.write() as conn:
                await conn.execute("INSERT INTO servers (guild_id, created_at) VALUES (1, 0)")
            for file in (path, path.with_name("r.db-wal"), path.with_name("r.db-shm")):
                assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
            for folder in (path.parent, path.parent.parent):
                assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        finally:
            await db.close()
    finally:
        os.umask(old)


@pytest.mark.asyncio
async def test_the_memos_version_moves_for_what_they_read_not_for_logs(tmp_path: Path) -> None:
    """A commit to the request log leaves the API's memos full; a blacklist change empties them."""
    path = tmp_path / "rimpllee.db"
    db = await Database.open(path)
    watch = db.change_watch()
    try:
        before = await watch.version()
        async with db.write() as conn:
            await conn.execute("INSERT INTO servers (guild_id, created_at) VALUES (1, 0)")
        after_server = await watch.version()
        assert after_server != before
        async with db.write() as conn:
            await conn.execute("INSERT INTO api_requests (guild_id, at, status) VALUES (1, 0, 200)")
        assert await watch.version() == after_server
        async with db.write() as conn:
            await conn.execute(
                "INSERT INTO blacklist (guild_id, user_id, added_at) VALUES (1, 2, 0)"
            )
        assert await watch.version() != after_server
    finally:
        watch.close()
        await db.close()
