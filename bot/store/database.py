"""The SQLite database: one owner of the connections, versioned migrations, one write path.

Only ``bot.store`` contains SQL; everything else calls its repository methods.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple, TypeAlias

import aiosqlite

from bot.errors import StartupError
from bot.store.private import private_dir, private_file

Params: TypeAlias = Sequence[object] | Mapping[str, object]

SQLITE_HEADER = b"SQLite format 3\x00"
MIN_SQLITE = (3, 38)  # STRICT tables (3.37) and built-in JSON functions (3.38)

_MIGRATION_FILE = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")
# A statement whose first keyword (after comments) would end the migration's transaction early;
# atomic groups so a comment is skipped whole, never searched for keywords.
_TRANSACTION_STATEMENT = re.compile(
    r"(?>\s+|--[^\n]*|/\*.*?\*/)*(?:BEGIN|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE)\b",
    re.IGNORECASE | re.DOTALL,
)
_HAS_MIGRATIONS_TABLE = (
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
)
_CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
) STRICT
"""


class DatabaseError(StartupError):
    """The database file cannot be used as it is; the message names the file."""


class Migration(NamedTuple):
    """One schema step: ``version`` orders it, ``name`` (its file name) identifies it in errors."""

    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """The migrations shipped as package data, so an installed wheel migrates like a checkout."""
    migrations = []
    for entry in resources.files("bot.store").joinpath("migrations").iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _MIGRATION_FILE.fullmatch(entry.name)
        if match is None:
            raise ValueError(f"migration file {entry.name} is not named NNNN_name.sql")
        migrations.append(Migration(int(match[1]), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(migrations)


def split_statements(script: str) -> list[str]:
    """Split SQL into single statements: ``executescript`` would commit mid-transaction.

    Cuts only at semicolons that end a complete statement, so semicolons in strings,
    comments and trigger bodies stay put.
    """
    statements, buffer = [], ""
    *pieces, tail = script.split(";")
    for piece in pieces:
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if rest := (buffer + tail).strip():
        statements.append(rest)  # trailing comments, or a last statement without semicolon
    return statements


def _plan(migrations: Iterable[tuple[int, str, str]]) -> list[tuple[Migration, list[str]]]:
    """Order and split the migrations, refusing a malformed set before any file is touched."""
    ordered = sorted(Migration(*migration) for migration in migrations)
    if [m.version for m in ordered] != list(range(1, len(ordered) + 1)):
        raise ValueError(f"migration versions must run 1..N: {[m.name for m in ordered]}")
    plan = []
    for migration in ordered:
        statements = split_statements(migration.sql)
        if any(_TRANSACTION_STATEMENT.match(statement) for statement in statements):
            raise ValueError(f"migration {migration.name} must not control transactions")
        plan.append((migration, statements))
    return plan


def _check_file(path: Path) -> None:
    """Refuse a non-SQLite file before sqlite can write to it; absent or empty means new."""
    try:
        with path.open("rb") as file:
            header = file.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        header = b""
    except OSError as error:
        raise DatabaseError(f"{path} cannot be read ({error.strerror})") from error
    if header and header != SQLITE_HEADER:
        raise DatabaseError(f"{path} is not a SQLite database (refusing to touch it)")
    try:
        private_dir(path.parent)
    except OSError as error:
        raise DatabaseError(f"{path}: cannot create {path.parent} ({error.strerror})") from error
    try:
        private_file(path)
    except OSError as error:
        raise DatabaseError(f"{path} cannot be created ({error.strerror})") from error


async def _scalar(connection: aiosqlite.Connection, sql: str) -> Any:
    """The first column of the first row, or None when there is no row."""
    async with connection.execute(sql) as cursor:
        row = await cursor.fetchone()
    return None if row is None else row[0]


async def _recorded_version(connection: aiosqlite.Connection) -> int | None:
    """The newest applied migration, or None when there is no schema_migrations table."""
    if await _scalar(connection, _HAS_MIGRATIONS_TABLE) is None:
        return None
    return int(await _scalar(connection, "SELECT coalesce(max(version), 0) FROM schema_migrations"))


async def _inspect(connection: aiosqlite.Connection, path: Path, newest: int) -> int:
    """The file's schema version, refusing files this code must not migrate; reads only."""
    version = await _recorded_version(connection)
    if version is None and await _scalar(connection, "SELECT 1 FROM sqlite_master") is not None:
        raise DatabaseError(
            f"{path} is a SQLite database but not Rimpllee's "
            "(no schema_migrations table; refusing to touch it)"
        )
    if (version or 0) > newest:
        raise DatabaseError(
            f"{path} has schema version {version} but this Rimpllee knows up to {newest}; "
            "upgrade Rimpllee or restore a backup"
        )
    return version or 0


async def _apply(connection: aiosqlite.Connection, migration: Migration, sql: list[str]) -> None:
    """Run one migration and record it; the caller's transaction makes both one step."""
    await connection.execute(_CREATE_MIGRATIONS_TABLE)
    for statement in sql:
        await connection.execute(statement)
    # Migrations run with foreign_keys off (a table rebuild must not cascade), so check here.
    if list(await connection.execute_fetchall("PRAGMA foreign_key_check")):
        raise sqlite3.IntegrityError("it leaves rows that violate foreign keys")
    await connection.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
        (migration.version, migration.name, datetime.now(UTC).isoformat(timespec="seconds")),
    )


class Database:
    """Owns the SQLite connections: one for the serialized writes, one query-only for reads.

    Reads get their own connection so they never see another task's uncommitted write;
    WAL lets them run while a write is in progress.
    """

    def __init__(self, writer: aiosqlite.Connection, reader: aiosqlite.Connection) -> None:
        self._writer = writer
        self._reader = reader
        self._write_lock = asyncio.Lock()
        self._write_owner: asyncio.Task[object] | None = None
        self.commits = 0  # writes ended (see ChangeWatch): counts from 0 at open
        self._open = True

    @classmethod
    async def open(
        cls, path: Path, migrations: Iterable[tuple[int, str, str]] | None = None
    ) -> Database:
        """Open ``path`` (creating it and its directory if absent) and apply pending migrations.

        ``migrations`` defaults to the shipped ones; tests pass their own. Nothing is written
        to a file that is not SQLite or whose schema is newer than this code knows.
        """
        plan = _plan(load_migrations() if migrations is None else migrations)
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise DatabaseError(
                f"SQLite {'.'.join(map(str, MIN_SQLITE))}+ is required to open {path}; "
                f"this Python has {sqlite3.sqlite_version}"
            )
        _check_file(path)
        try:
            async with contextlib.AsyncExitStack() as cleanup:
                writer = await aiosqlite.connect(path, isolation_level=None)
                cleanup.push_async_callback(writer.close)
                await writer.execute("PRAGMA busy_timeout = 5000")
                # Inspect with reads only: setting WAL would rewrite the header of a file we refuse.
                version = await _inspect(writer, path, len(plan))
                mode = await _scalar(writer, "PRAGMA journal_mode = WAL")
                if mode != "wal":
                    raise DatabaseError(f"{path} cannot use WAL journaling (got {mode!r})")
                await writer.execute("PRAGMA synchronous = NORMAL")
                await writer.execute("PRAGMA foreign_keys = OFF")
                reader = await aiosqlite.connect(path, isolation_level=None)
                cleanup.push_async_callback(reader.close)
                for connection in (writer, reader):
                    connection.row_factory = aiosqlite.Row
                await reader.execute("PRAGMA busy_timeout = 5000")
                await reader.execute("PRAGMA query_only = ON")
                database = cls(writer, reader)
                await database._migrate(path, plan, version)
                await writer.execute("PRAGMA foreign_keys = ON")
                cleanup.pop_all()
        except sqlite3.Error as error:
            raise DatabaseError(f"{path}: {error}") from error
        return database

    async def _migrate(
        self, path: Path, plan: list[tuple[Migration, list[str]]], version: int
    ) -> None:
        """Apply each pending migration in its own transaction, stopping at the first failure."""
        for migration, statements in plan[version:]:
            try:
                async with self.write() as connection:
                    await _apply(connection, migration, statements)
            except sqlite3.Error as error:
                raise DatabaseError(
                    f"{path}: migration {migration.name} failed and was rolled back: {error}"
                ) from error

    @property
    def is_open(self) -> bool:
        """False once closed, so shutdown code can tell whether it still has work to do."""
        return self._open

    async def close(self) -> None:
        """Let the write in progress finish, then close; a second call does nothing."""
        async with self._write_lock:
            if not self._open:
                return
            self._open = False
            try:
                await self._reader.close()
            finally:
                await self._writer.close()  # last one out checkpoints and removes the WAL

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """The one write path: a lock, then one IMMEDIATE transaction for the whole block.

        Commits when the block ends, rolls back and re-raises on any exception. Not
        re-entrant: code already inside a write must use the connection it was given.
        """
        task = asyncio.current_task()
        if task is not None and task is self._write_owner:
            raise RuntimeError("Database.write() is not re-entrant; use the open connection")
        async with self._write_lock:
            self._write_owner = task
            try:
                await self._writer.execute("BEGIN IMMEDIATE")
                yield self._writer
                await self._writer.execute("COMMIT")
            except BaseException:
                # Also after a cancelled BEGIN or COMMIT: those still run on aiosqlite's thread,
                # this is queued behind them, and it does nothing when no transaction is open.
                await self._writer.rollback()
                raise
            finally:
                self._write_owner = None
                self.commits += 1  # ended, committed or not: what this process reads may differ

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """Run a read on the query-only connection; it sees committed data only."""
        return list(await self._reader.execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """The first row of a read, or None."""
        rows = await self._reader.execute_fetchall(sql, params)  # one trip to the db thread
        return next(iter(rows), None)

    async def schema_version(self) -> int:
        """The newest migration applied to the file."""
        return await _recorded_version(self._reader) or 0
