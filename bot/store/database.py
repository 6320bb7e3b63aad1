"""The database: one owner of the connections, versioned migrations, one write path.

Only ``bot.store`` contains SQL; everything else calls its repository methods. SQLite (a file,
the default) is implemented here; PostgreSQL (``database.url``) in ``bot.store.postgres``, behind
the same ``Database`` and ``Connection`` so every repository's SQL runs on both engines.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from collections.abc import AsyncIterator, Generator, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, NamedTuple, Protocol, TypeAlias, cast

import aiosqlite
import asyncpg

from bot.errors import StartupError
from bot.store.changes import ChangeWatch, SqliteChangeWatch, WalIndex
from bot.store.private import private_dir, private_file

Params: TypeAlias = Sequence[object] | Mapping[str, object]
Engine: TypeAlias = Literal["sqlite", "postgres"]
POSTGRES_SCHEMES = ("postgresql://", "postgres://")

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


def load_migrations(engine: Engine = "sqlite") -> list[Migration]:
    """The migrations shipped as package data, so an installed wheel migrates like a checkout.

    SQLite's are in ``migrations/``, PostgreSQL's (same numbers and names, its dialect) in
    ``migrations/postgres/``; tests/test_engines.py checks both end with the same columns.
    """
    folder = resources.files("bot.store").joinpath("migrations")
    if engine == "postgres":
        folder = folder.joinpath("postgres")
    migrations = []
    for entry in folder.iterdir():
        if not entry.is_file() or not entry.name.endswith(".sql"):
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


# What a constraint violation raises, on either engine.
IntegrityError = (sqlite3.IntegrityError, asyncpg.IntegrityConstraintViolationError)
# What a database reports when a statement fails, on either engine.
DatabaseFailure = (sqlite3.Error, asyncpg.PostgresError)


class Row(Protocol):
    """A result row, addressable by position and by column name (sqlite3.Row, asyncpg.Record)."""

    def __getitem__(self, key: int | str, /) -> Any: ...
    def __iter__(self) -> Iterator[Any]: ...
    def __len__(self) -> int: ...


class Cursor(Protocol):
    """What a statement left: its rows (if it returns any) and how many rows it changed."""

    @property
    def rowcount(self) -> int: ...
    async def fetchone(self) -> Row | None: ...
    async def fetchall(self) -> list[Row]: ...


class _Pending:
    """``conn.execute(...)`` as aiosqlite has it: awaited, or used as ``async with``."""

    __slots__ = ("_run",)

    def __init__(self, run: Generator[Any, None, Cursor]) -> None:
        self._run = run

    def __await__(self) -> Generator[Any, None, Cursor]:
        return self._run

    async def __aenter__(self) -> Cursor:
        return await self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class Connection:
    """The connection a write block gets: the same calls on both engines.

    SQL is written for SQLite with ``?`` or ``:name`` placeholders; the PostgreSQL connection
    translates each statement once (see bot.store.postgres). Where the dialects truly differ a
    repository asks ``engine`` and keeps both variants side by side.
    """

    engine: Engine

    def execute(self, sql: str, params: Params = ()) -> _Pending:
        return _Pending(self._execute(sql, params).__await__())

    async def _execute(self, sql: str, params: Params) -> Cursor:
        raise NotImplementedError

    async def execute_fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        raise NotImplementedError

    async def executemany(self, sql: str, params: Iterable[Params]) -> None:
        raise NotImplementedError

    async def lock(self, *keys: str) -> None:
        """Hold these names until the transaction ends, across processes (PostgreSQL's advisory
        locks). SQLite's write path already serializes every writer of the file: a no-op."""


class _SqliteCursor:
    __slots__ = ("_cursor",)

    def __init__(self, cursor: aiosqlite.Cursor) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    async def fetchone(self) -> Row | None:
        return cast(Row | None, await self._cursor.fetchone())

    async def fetchall(self) -> list[Row]:
        return cast(list[Row], list(await self._cursor.fetchall()))


class SqliteConnection(Connection):
    engine: Engine = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.raw = conn

    async def _execute(self, sql: str, params: Params) -> Cursor:
        return _SqliteCursor(await self.raw.execute(sql, params))

    async def execute_fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return cast(list[Row], list(await self.raw.execute_fetchall(sql, params)))

    async def executemany(self, sql: str, params: Iterable[Params]) -> None:
        await self.raw.executemany(sql, params)


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
    """Owns the connections: the one write path, reads of committed data, the schema version.

    ``Database.open`` takes a SQLite file's path or a ``postgresql://`` URL. Every write is one
    transaction (``async with db.write() as conn``); reads never see another task's uncommitted
    write.
    """

    engine: Engine

    def __init__(self) -> None:
        self._write_owner: asyncio.Task[object] | None = None
        self.commits = 0  # writes ended (see ChangeWatch): counts from 0 at open
        self._open = True

    @classmethod
    async def open(
        cls, target: Path | str, migrations: Iterable[tuple[int, str, str]] | None = None
    ) -> Database:
        """Open a SQLite file (creating it) or a PostgreSQL database; apply pending migrations.

        ``migrations`` defaults to the shipped ones of the engine; tests pass their own.
        """
        if isinstance(target, str) and target.startswith(POSTGRES_SCHEMES):  # noqa: ASYNC240
            from bot.store.postgres import PostgresDatabase  # noqa: PLC0415 - asyncpg on demand

            return await PostgresDatabase.connect(target, migrations)
        return await SqliteDatabase.connect(Path(target), migrations)

    @property
    def is_open(self) -> bool:
        """False once closed, so shutdown code can tell whether it still has work to do."""
        return self._open

    async def close(self) -> None:
        raise NotImplementedError

    @contextlib.asynccontextmanager
    async def write(self, *locks: str) -> AsyncIterator[Connection]:
        """The one write path: one transaction for the whole block.

        Commits when the block ends, rolls back and re-raises on any exception. ``locks`` name
        what the block reads to decide what it writes (e.g. a server's limits): on PostgreSQL,
        where writers run side by side, they are advisory locks held to the end of the
        transaction, in every process; SQLite already runs one writer at a time. Not
        re-entrant: code already inside a write must use the connection it was given.
        """
        task = asyncio.current_task()
        if task is not None and task is self._write_owner:
            raise RuntimeError("Database.write() is not re-entrant; use the open connection")
        try:
            async with self._transaction(task) as conn:
                if locks:
                    await conn.lock(*locks)
                yield conn
        finally:
            self.commits += 1  # ended, committed or not: what this process reads may differ

    def _transaction(
        self, task: asyncio.Task[object] | None
    ) -> contextlib.AbstractAsyncContextManager[Connection]:
        raise NotImplementedError

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """Run a read; it sees committed data only."""
        raise NotImplementedError

    async def claim(self, name: str) -> bool:
        """Take `name` for this process until `release` (or the process ends); False if another
        process holds it. On SQLite, where one process runs the bot, always True."""
        return True

    async def release(self, name: str) -> None:
        """Give back what `claim` took."""

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        """The first row of a read, or None."""
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def schema_version(self) -> int:
        """The newest migration applied."""
        raise NotImplementedError

    def change_watch(self) -> ChangeWatch:
        """What tells the memos that something they read was changed, by any process."""
        raise NotImplementedError


class SqliteDatabase(Database):
    """Owns the SQLite connections: one for the serialized writes, one query-only for reads.

    Reads get their own connection so they never see another task's uncommitted write;
    WAL lets them run while a write is in progress.
    """

    engine: Engine = "sqlite"

    def __init__(
        self, path: Path, writer: aiosqlite.Connection, reader: aiosqlite.Connection
    ) -> None:
        super().__init__()
        self.path = path
        self._writer = writer
        self._reader = reader
        self._connection = SqliteConnection(writer)
        self._write_lock = asyncio.Lock()
        self._wal_index: WalIndex | None = None  # the change watches' cheap read (see there)

    @classmethod
    async def connect(
        cls, path: Path, migrations: Iterable[tuple[int, str, str]] | None = None
    ) -> SqliteDatabase:
        """Open ``path`` (creating it and its directory if absent) and apply pending migrations.

        Nothing is written to a file that is not SQLite or whose schema is newer than this
        code knows.
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
                database = cls(path, writer, reader)
                await database._migrate(plan, version)
                await writer.execute("PRAGMA foreign_keys = ON")
                database._wal_index = WalIndex.acquire(path)  # the WAL is in use: `-shm` exists
                cleanup.pop_all()
        except sqlite3.Error as error:
            raise DatabaseError(f"{path}: {error}") from error
        return database

    async def _migrate(self, plan: list[tuple[Migration, list[str]]], version: int) -> None:
        """Apply each pending migration in its own transaction, stopping at the first failure."""
        for migration, statements in plan[version:]:
            try:
                async with self.write():
                    await _apply(self._writer, migration, statements)
            except sqlite3.Error as error:
                raise DatabaseError(
                    f"{self.path}: migration {migration.name} failed and was rolled back: {error}"
                ) from error

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
                if self._wal_index is not None:
                    self._wal_index.release()  # after the connections: see `WalIndex`

    @contextlib.asynccontextmanager
    async def _transaction(self, task: asyncio.Task[object] | None) -> AsyncIterator[Connection]:
        """A lock, then one IMMEDIATE transaction: SQLite's writers, one at a time."""
        async with self._write_lock:
            self._write_owner = task
            try:
                await self._writer.execute("BEGIN IMMEDIATE")
                yield self._connection
                await self._writer.execute("COMMIT")
            except BaseException:
                # Also after a cancelled BEGIN or COMMIT: those still run on aiosqlite's thread,
                # this is queued behind them, and it does nothing when no transaction is open.
                await self._writer.rollback()
                raise
            finally:
                self._write_owner = None

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """Run a read on the query-only connection; it sees committed data only."""
        return cast(list[Row], list(await self._reader.execute_fetchall(sql, params)))

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self._reader.execute_fetchall(sql, params)  # one trip to the db thread
        return cast(Row | None, next(iter(rows), None))

    async def schema_version(self) -> int:
        return await _recorded_version(self._reader) or 0

    def change_watch(self) -> ChangeWatch:
        return SqliteChangeWatch(self.path, lambda: self.commits, self._wal_index)
