"""`rimpllee migrate-sqlite-to-postgres`: a community's SQLite file copied into PostgreSQL.

Both databases are first brought to the newest migration by this Rimpllee (the same numbers on
both engines), so their tables and columns match. The target must hold no data. Every table is
read in one SQLite read transaction (a consistent snapshot, even while the bot runs; stop the
bot before switching it over, or what it writes after the snapshot stays behind) and written in
one PostgreSQL transaction with COPY, parents before children; then the row counts of both sides
are compared before the transaction commits. Identity counters continue after the copied IDs.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import aiosqlite

from bot.store.database import Connection, Database, DatabaseError, SqliteDatabase
from bot.store.postgres import PgConnection, PostgresDatabase, Raw

# Bookkeeping both sides already have: the migrations run, and the memos' change counter.
_NOT_COPIED = {"schema_migrations", "memo_version"}
_BATCH = 5000


@dataclass(frozen=True, slots=True)
class Copied:
    table: str
    rows: int


async def _tables_in_order(source: aiosqlite.Connection) -> list[str]:
    """The source's tables, each after the tables its foreign keys point to."""
    names = [
        row[0]
        for row in await source.execute_fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
        if row[0] not in _NOT_COPIED
    ]
    parents: dict[str, set[str]] = {}
    for name in names:
        keys = await source.execute_fetchall(f'PRAGMA foreign_key_list("{name}")')
        parents[name] = {str(key[2]) for key in keys} - {name}
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [n for n in names if n not in ordered and parents[n] <= set(ordered)]
        if not ready:
            raise DatabaseError(
                f"foreign keys form a cycle among {sorted(set(names) - set(ordered))}"
            )
        ordered.extend(ready)
    return ordered


@contextlib.asynccontextmanager
async def _snapshot(path: Path) -> AsyncIterator[aiosqlite.Connection]:
    """A read transaction on the file: every table as of one moment."""
    connection = await aiosqlite.connect(path, isolation_level=None)
    try:
        await connection.execute("PRAGMA query_only = ON")
        await connection.execute("BEGIN")
        yield connection
        await connection.execute("COMMIT")
    finally:
        await connection.close()


async def copy_sqlite_to_postgres(sqlite_path: Path, url: str) -> list[Copied]:
    """Copy every table of `sqlite_path` into the empty PostgreSQL database at `url`."""
    if not sqlite_path.is_file():  # noqa: ASYNC240 - once, before anything is opened
        raise DatabaseError(f"{sqlite_path} does not exist (give the bot's SQLite file)")
    source_db = await Database.open(sqlite_path)  # refuses a file that is not Rimpllee's
    assert isinstance(source_db, SqliteDatabase)
    version = await source_db.schema_version()
    await source_db.close()
    target = await Database.open(url)
    if not isinstance(target, PostgresDatabase):
        await target.close()
        raise DatabaseError(f"{url} is not a postgresql:// URL")
    try:
        if await target.schema_version() != version:
            raise DatabaseError("the two databases ended at different schema versions")
        async with _snapshot(sqlite_path) as source, target.write() as conn:
            tables = await _tables_in_order(source)
            filled = await _filled_by_migrations(source, conn, tables)
            for table in tables:
                if table not in filled and await conn.execute_fetchall(
                    f"SELECT 1 FROM {table} LIMIT 1"
                ):
                    raise DatabaseError(
                        f"{target.where} already has data (table {table}); "
                        "refusing to copy into it (give an empty database)"
                    )
            copied = []
            raw = cast(PgConnection, conn).raw
            for table in tables:
                rows = await _count(conn, table) if table in filled else None
                copied.append(Copied(table, rows or await _copy_table(source, raw, table)))
            for item in copied:
                (count,) = await conn.execute_fetchall(f"SELECT count(*) FROM {item.table}")
                if int(count[0]) != item.rows:
                    raise DatabaseError(
                        f"{item.table}: copied {item.rows} rows but the target counts {count[0]}"
                    )
            await conn.execute("UPDATE memo_version SET n = n + 1")
    finally:
        await target.close()
    return copied


async def _count(conn: Connection, table: str) -> int:
    (row,) = await conn.execute_fetchall(f"SELECT count(*) FROM {table}")
    return int(row[0])


async def _filled_by_migrations(
    source: aiosqlite.Connection, target: Connection, tables: list[str]
) -> set[str]:
    """Tables the migrations themselves fill (e.g. stats_buckets): the target already holds
    exactly the file's rows. Only small tables are compared; a bigger one is data."""
    same = set()
    for table in tables:
        count = await _count(target, table)
        if not 0 < count <= 1000:
            continue
        everything = f"SELECT * FROM {table} ORDER BY 1"
        theirs = [tuple(r) for r in await target.execute_fetchall(everything)]
        ours = [tuple(r) for r in await source.execute_fetchall(everything)]
        if theirs == ours:
            same.add(table)
    return same


async def _copy_table(source: aiosqlite.Connection, target: Raw, table: str) -> int:
    """The table's rows in batches by rowid, with COPY; its identity column continues after."""
    columns = [str(c[1]) for c in await source.execute_fetchall(f'PRAGMA table_info("{table}")')]
    # The memo triggers would bump a counter once per row: off while copying (owner only).
    await target.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    total, after, batches = 0, None, True
    select = f"SELECT rowid, {', '.join(columns)} FROM {table}"
    (definition,) = await source.execute_fetchall(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    )
    if "WITHOUT ROWID" in str(definition[0]).upper():
        # Keyed by its primary key only (the per-day stats): small, read in one go.
        select = f"SELECT NULL, {', '.join(columns)} FROM {table}"
        rows = list(await source.execute_fetchall(select))
        if rows:
            records = [tuple(r)[1:] for r in rows]
            await target.copy_records_to_table(table, records=records, columns=columns)
        total, batches = len(rows), False
    while batches:
        where, params = ("", ()) if after is None else (" WHERE rowid > ?", (after,))
        rows = list(
            await source.execute_fetchall(f"{select}{where} ORDER BY rowid LIMIT {_BATCH}", params)
        )
        if not rows:
            break
        after = rows[-1][0]
        await target.copy_records_to_table(
            table, records=[tuple(r)[1:] for r in rows], columns=columns
        )
        total += len(rows)
    await target.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    for (column,) in await target.fetch(
        "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attidentity <> ''",
        table,
    ):
        await target.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
            f"coalesce(max({column}), 0) + 1, false) FROM {table}"
        )
    return total
