"""PostgreSQL behind the same ``Database`` and ``Connection`` as SQLite (``database.url``).

The repositories' SQL is written once, for SQLite's dialect with ``?`` and ``:name``
placeholders. `translate` turns each statement into PostgreSQL's once (cached): numbered
``$n`` placeholders, and the few spellings PostgreSQL lacks (``INSERT OR IGNORE``, ``IS`` between
values, ``json_array``/``json_object``). SQLite's ``json_group_array`` and ``json_valid`` exist
on PostgreSQL as functions of migration 0001 (migrations/postgres/). Where the dialects differ in
meaning, a repository keeps both variants side by side and picks one by ``conn.engine``.

Writers run side by side here (SQLite runs one at a time): a write that reads to decide what it
writes names what it depends on (``db.write("server:1")``), which takes transaction-scoped
advisory locks, so the step stays atomic across every process sharing the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import re
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, TypeAlias, cast
from urllib.parse import urlsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from bot.store.changes import ChangeWatch
from bot.store.database import (
    Connection,
    Cursor,
    Database,
    DatabaseError,
    Engine,
    Migration,
    Params,
    Row,
    load_migrations,
)

Raw: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"

# Connections per process: a few for the event loop's concurrent writes and reads; PostgreSQL's
# default max_connections (100) leaves room for a dozen processes.
POOL_MIN = 1
POOL_MAX = 8
_MIGRATION_LOCK = 0x52494D50  # "RIMP": processes starting together migrate one at a time

_TOKEN = re.compile(
    r"""'(?:[^']|'')*'"""  # a string literal: copied as it is
    r"""|"(?:[^"]|"")*\""""  # a quoted name
    r"|--[^\n]*"  # a comment
    r"|(?<![:\w])\?"  # a positional placeholder
    r"|(?<![:\w]):([A-Za-z_]\w*)"  # a named one (not a ::cast)
    r"|[^'\"?:-]+|.",
    re.DOTALL,
)
_RENAMES = [
    (re.compile(r"\bjson_array\s*\(", re.IGNORECASE), "json_build_array("),
    (re.compile(r"\bjson_object\s*\(", re.IGNORECASE), "json_build_object("),
    # SQLite's IS / IS NOT between two values (NULL-safe equality).
    (
        re.compile(r"\bIS\s+NOT\s+(?!NULL\b|TRUE\b|FALSE\b|DISTINCT\b)", re.IGNORECASE),
        "IS DISTINCT FROM ",
    ),
    (
        re.compile(r"\bIS\s+(?!NOT\b|NULL\b|TRUE\b|FALSE\b|DISTINCT\b)", re.IGNORECASE),
        "IS NOT DISTINCT FROM ",
    ),
]
_OR_IGNORE = re.compile(r"^\s*INSERT\s+OR\s+IGNORE\s+", re.IGNORECASE)
_OR_REPLACE = re.compile(r"^\s*(INSERT\s+OR\s+REPLACE|REPLACE)\s+", re.IGNORECASE)
_RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)
_ROWS = re.compile(r"^\s*(SELECT|WITH|VALUES)\b|\bRETURNING\b", re.IGNORECASE)


class Translated:
    """One statement in PostgreSQL's dialect, and how to pass its parameters."""

    __slots__ = ("names", "returns_rows", "sql")

    def __init__(self, sql: str, names: tuple[str, ...] | None, returns_rows: bool) -> None:
        self.sql = sql
        self.names = names  # the :names in $n order; None for positional ? placeholders
        self.returns_rows = returns_rows

    def args(self, params: Params) -> list[object]:
        if self.names is None:
            if isinstance(params, dict):
                raise TypeError("this statement takes positional (?) parameters")
            return list(cast(Iterable[object], params))
        named = cast(dict[str, object], params)
        return [named[name] for name in self.names]


@functools.lru_cache(maxsize=4096)
def translate(sql: str) -> Translated:
    """SQLite's SQL as PostgreSQL's (see the module's docstring); each statement once."""
    if _OR_REPLACE.match(sql):
        raise ValueError("INSERT OR REPLACE has no PostgreSQL form: write ON CONFLICT … DO UPDATE")
    ignore = _OR_IGNORE.match(sql)
    if ignore:
        sql = "INSERT " + sql[ignore.end() :]
    out: list[str] = []
    names: list[str] = []
    positional = 0
    for match in _TOKEN.finditer(sql):
        token = match.group(0)
        if token == "?":  # noqa: S105 - a placeholder, not a password
            positional += 1
            out.append(f"${positional}")
        elif match.group(1) is not None:
            name = match.group(1)
            if name not in names:
                names.append(name)
            out.append(f"${names.index(name) + 1}")
        elif token[0] in "'\"-" and len(token) > 1:
            out.append(token)  # literals, quoted names and comments stay as written
        else:
            for pattern, replacement in _RENAMES:
                token = pattern.sub(replacement, token)
            out.append(token)
    if positional and names:
        raise ValueError("a statement mixes ? and :name placeholders")
    text = "".join(out)
    if ignore:
        returning = _RETURNING.search(text)
        at = returning.start() if returning else len(text.rstrip().rstrip(";"))
        text = f"{text[:at].rstrip()} ON CONFLICT DO NOTHING {text[at:]}".rstrip()
    return Translated(text, tuple(names) if names else None, bool(_ROWS.search(text)))


def lock_key(name: str) -> int:
    """A lock's name as the signed 64-bit key pg_advisory_xact_lock takes (same in every
    process, unlike Python's hash)."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class _PgCursor:
    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Row], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    async def fetchone(self) -> Row | None:
        return self._rows[0] if self._rows else None

    async def fetchall(self) -> list[Row]:
        return self._rows


def _count(status: str) -> int:
    """Rows changed, from a command tag such as ``UPDATE 3`` or ``INSERT 0 1``."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else -1


class PgConnection(Connection):
    engine: Engine = "postgres"

    def __init__(self, conn: Raw) -> None:
        self.raw = conn

    async def _execute(self, sql: str, params: Params) -> Cursor:
        statement = translate(sql)
        args = statement.args(params)
        if statement.returns_rows:
            rows = cast(list[Row], await self.raw.fetch(statement.sql, *args))
            return _PgCursor(rows, len(rows))
        status = await self.raw.execute(statement.sql, *args)
        return _PgCursor([], _count(status))

    async def execute_fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        statement = translate(sql)
        return cast(list[Row], await self.raw.fetch(statement.sql, *statement.args(params)))

    async def executemany(self, sql: str, params: Iterable[Params]) -> None:
        statement = translate(sql)
        batch = [statement.args(p) for p in params]
        if batch:
            await self.raw.executemany(statement.sql, batch)

    async def lock(self, *keys: str) -> None:
        # Sorted, so two writers taking the same locks can't wait for each other.
        for key in sorted({lock_key(k) for k in keys}):
            await self.raw.execute("SELECT pg_advisory_xact_lock($1)", key)


def _where(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    return f"postgresql://{parts.username + '@' if parts.username else ''}{host}{parts.path}"


class PostgresDatabase(Database):
    """A pool of asyncpg connections; every write is one READ COMMITTED transaction."""

    engine: Engine = "postgres"

    def __init__(self, url: str, pool: asyncpg.Pool) -> None:
        super().__init__()
        self.url = url
        self.where = _where(url)  # for messages: without the password
        self._pool = pool
        self._writes = 0
        self._idle = asyncio.Event()
        self._idle.set()
        # Session-level advisory locks (`claim`) live on one connection of their own: PostgreSQL
        # releases them when it closes, so a killed process gives its claims back at once.
        self._claims: asyncpg.Connection[Any] | None = None
        self._claims_lock = asyncio.Lock()
        self._claimed: set[str] = set()

    @classmethod
    async def connect(
        cls, url: str, migrations: Iterable[tuple[int, str, str]] | None = None
    ) -> PostgresDatabase:
        plan = sorted(
            Migration(*m)
            for m in (load_migrations("postgres") if migrations is None else migrations)
        )
        if [m.version for m in plan] != list(range(1, len(plan) + 1)):
            raise ValueError(f"migration versions must run 1..N: {[m.name for m in plan]}")
        try:
            pool = await asyncpg.create_pool(
                url, min_size=POOL_MIN, max_size=POOL_MAX, command_timeout=60
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise DatabaseError(f"{_where(url)}: cannot connect ({error})") from error
        database = cls(url, pool)
        try:
            await database._migrate(plan)
        except BaseException:
            await pool.close()
            raise
        return database

    async def _migrate(self, plan: list[Migration]) -> None:
        """Pending migrations, each in its own transaction with its record; refuses a database
        that is not Rimpllee's or is newer than this code."""
        where = _where(self.url)
        async with self._pool.acquire() as conn:
            try:
                await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
            except asyncpg.PostgresError as error:
                raise DatabaseError(f"{where}: {error}") from error
            try:
                version = await _inspect(conn, where, len(plan))
                for migration in plan[version:]:
                    try:
                        async with conn.transaction():
                            await conn.execute(_CREATE_MIGRATIONS_TABLE)
                            await conn.execute(migration.sql)
                            await conn.execute(
                                "INSERT INTO schema_migrations (version, name, applied_at) "
                                "VALUES ($1, $2, to_char(now() AT TIME ZONE 'UTC', "
                                '\'YYYY-MM-DD"T"HH24:MI:SS"+00:00"\'))',
                                migration.version,
                                migration.name,
                            )
                    except asyncpg.PostgresError as error:
                        raise DatabaseError(
                            f"{where}: migration {migration.name} failed and was rolled back: "
                            f"{error}"
                        ) from error
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)

    async def close(self) -> None:
        """Let the writes in progress finish, then close the pool; a second call does nothing."""
        if not self._open:
            return
        self._open = False
        await self._idle.wait()
        async with self._claims_lock:
            if self._claims is not None:
                await self._claims.close()  # its claims end with it
                self._claims = None
                self._claimed.clear()
        await self._pool.close()

    @contextlib.asynccontextmanager
    async def _transaction(self, task: asyncio.Task[object] | None) -> AsyncIterator[Connection]:
        if not self._open:
            raise RuntimeError("the database is closed")
        self._writes += 1
        self._idle.clear()
        try:
            async with self._pool.acquire() as raw, raw.transaction():
                self._write_owner = task
                try:
                    yield PgConnection(raw)
                finally:
                    self._write_owner = None
        finally:
            self._writes -= 1
            if not self._writes:
                self._idle.set()

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        statement = translate(sql)
        return cast(list[Row], await self._pool.fetch(statement.sql, *statement.args(params)))

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        statement = translate(sql)
        row = await self._pool.fetchrow(statement.sql, *statement.args(params))
        return cast(Row | None, row)

    async def claim(self, name: str) -> bool:
        async with self._claims_lock:
            if name in self._claimed:
                return True  # already ours (advisory locks would stack)
            if self._claims is None:
                self._claims = await asyncpg.connect(self.url)
            taken = bool(
                await self._claims.fetchval("SELECT pg_try_advisory_lock($1)", lock_key(name))
            )
            if taken:
                self._claimed.add(name)
            return taken

    async def release(self, name: str) -> None:
        async with self._claims_lock:
            if name not in self._claimed or self._claims is None:
                return
            self._claimed.discard(name)
            await self._claims.execute("SELECT pg_advisory_unlock($1)", lock_key(name))

    async def schema_version(self) -> int:
        async with self._pool.acquire() as conn:
            return await _recorded_version(conn) or 0

    def change_watch(self) -> ChangeWatch:
        return PostgresChangeWatch(self._pool, lambda: self.commits)


class PostgresChangeWatch(ChangeWatch):
    """The memo counter, read once per turn of the event loop: exact whichever process
    committed (from the next turn; this process's own writes at once)."""

    def __init__(self, pool: asyncpg.Pool, local_commits: Callable[[], int] | None) -> None:
        super().__init__(local_commits)
        self._pool = pool

    async def _read(self) -> int:
        return int(await self._pool.fetchval("SELECT n FROM memo_version"))


_CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    BIGINT PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
)
"""


async def _recorded_version(conn: Raw) -> int | None:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return None
    return int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations"))


async def _inspect(conn: Raw, where: str, newest: int) -> int:
    version = await _recorded_version(conn)
    if version is None and await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'v', 'S', 'm', 'p'))"
    ):
        raise DatabaseError(
            f"{where} has tables but is not Rimpllee's "
            "(no schema_migrations table; refusing to touch it)"
        )
    if (version or 0) > newest:
        raise DatabaseError(
            f"{where} has schema version {version} but this Rimpllee knows up to {newest}; "
            "upgrade Rimpllee"
        )
    return version or 0


def postgres_error(error: BaseException) -> bool:
    """Whether this is an error the database reported (for the CLI's one-line messages)."""
    return isinstance(error, asyncpg.PostgresError)
