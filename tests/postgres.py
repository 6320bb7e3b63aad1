"""A real PostgreSQL server for the tests, started in a temporary directory, or a clean skip.

The suite runs on both engines (conftest's `store_engine` parameter). For PostgreSQL, one server
is started per test session from Debian's `postgresql` package (its `initdb` and `pg_ctl`: the
same server a host installs, no wheel of binaries to trust), a template database is migrated
once, and each test gets fresh databases copied from it (`CREATE DATABASE … TEMPLATE`, a few
milliseconds). initdb and postgres refuse to run as root (CI runs as root): then they run as the
`postgres` system user the package creates, in a directory it owns. The server belongs to a
keeper process (tests/pg_keeper.py) that stops it and deletes its directory when the session
ends, however it ends (killed included).

Without the binaries the PostgreSQL half is skipped, and the summary says which tests and how to
install them (`.ci/run` does).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.store import Database
from tests import pg_keeper

ENV = "RIMPLLEE_TEST_POSTGRES"  # how a `rimpllee` process a test starts learns the mapping

INSTALL = "apt-get update && apt-get install -y postgresql"
# conftest's summary finds these skips by the "postgres test:" prefix and counts them at the end.
SKIP_PREFIX = "postgres test:"
USER = "rimpllee"
TEMPLATE = "rimpllee_template"


def bindir() -> Path | None:
    """Where initdb, pg_ctl and postgres are: $RIMPLLEE_PG_BIN, pg_config's, or Debian's."""
    candidates = []
    if configured := os.environ.get("RIMPLLEE_PG_BIN"):
        candidates.append(configured)
    if shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            out = subprocess.run(
                ["pg_config", "--bindir"], capture_output=True, text=True, check=True
            )
            candidates.append(out.stdout.strip())
    by_version = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True
    )
    candidates.extend(by_version)
    for candidate in candidates:
        path = Path(candidate)
        if all(os.access(path / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
            return path
    return None


def missing_reason() -> str | None:
    """Why the PostgreSQL half can't run here, or None when it can."""
    if bindir() is None:
        return (
            f"{SKIP_PREFIX} no PostgreSQL server binaries (initdb, pg_ctl, postgres) found "
            f"(install them, as root: {INSTALL})"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return (
                f"{SKIP_PREFIX} running as root without a 'postgres' user to run the server as "
                f"(install the package, as root: {INSTALL})"
            )
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresServer:
    """A running throwaway server; `url(name)` is a database on it."""

    root: Path
    port: int

    def url(self, database: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """initdb and start a server on a free localhost port; stopped and deleted after, also when
    this process is killed: tests/pg_keeper.py owns the server and ends it when we end. Servers
    left by sessions that are gone (their keeper was killed too) are swept first."""
    tools = bindir()
    assert tools is not None
    pg_keeper.sweep(Path(tempfile.gettempdir()))
    port = _free_port()
    # initdb and postgres refuse root: run them as the package's postgres user.
    user = ["--user", "postgres"] if os.geteuid() == 0 else []
    owner = ["--owner", str(os.getpid()), "--bin", str(tools), "--port", str(port)]
    keeper = subprocess.Popen(
        [sys.executable, pg_keeper.__file__, *owner, *user],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # Ctrl-C at the terminal is for pytest, not for the keeper
    )
    assert keeper.stdin is not None
    assert keeper.stdout is not None
    try:
        said = keeper.stdout.readline()
        started: dict[str, str] = json.loads(said) if said else {}
        if "root" not in started:
            code = keeper.wait()
            raise RuntimeError(
                f"PostgreSQL did not start (keeper exit {code}): {started.get('error', said)}"
            )
        yield PostgresServer(Path(started["root"]), port)
    finally:
        keeper.stdin.close()  # the keeper stops the server and deletes its directory
        keeper.wait()
        keeper.stdout.close()


async def admin(url: str, *statements: str) -> None:
    """Statements on their own connection (CREATE/DROP DATABASE can't run in a transaction)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


class PostgresFiles:
    """Under the PostgreSQL parameter, each SQLite path a test opens is a PostgreSQL database
    instead: named after the test and the path, so the test and every `rimpllee` process it
    starts (tests/engine_main.py) open the same one for the same path. Each is copied from the
    migrated template when first opened (an empty file is left at the path, as SQLite would
    leave one); the test's end drops them all. The test code stays as written; the engine
    underneath changes."""

    def __init__(self, url_pattern: str, prefix: str) -> None:
        self.url_pattern = url_pattern  # a database URL with {} for the name
        self.prefix = prefix
        self._created: set[str] = set()

    def name(self, path: Path) -> str:
        digest = hashlib.sha1(str(path.resolve()).encode(), usedforsecurity=False).hexdigest()
        return f"{self.prefix}{digest[:16]}"

    async def url(self, path: Path, migrations: Iterable[tuple[int, str, str]] | None) -> str:
        import asyncpg

        name = self.name(path)
        if name not in self._created:
            # A test's own migrations start from an empty database; the shipped ones from the
            # template that already has them.
            source = "template0" if migrations is not None else TEMPLATE
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):  # another process made it
                await admin(
                    self.url_pattern.format("postgres"),
                    f"CREATE DATABASE {name} TEMPLATE {source} STRATEGY FILE_COPY",
                )
            self._created.add(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        return self.url_pattern.format(name)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Database.open(path) opens the path's PostgreSQL database, here and in children."""
        open_database = Database.open.__func__  # type: ignore[attr-defined]
        files = self

        async def open_on_postgres(
            cls: type[Database],
            target: Path | str,
            migrations: Iterable[tuple[int, str, str]] | None = None,
        ) -> Database:
            if isinstance(target, Path):
                target = await files.url(target, migrations)
            opened: Database = await open_database(cls, target, migrations)
            return opened

        monkeypatch.setattr(Database, "open", classmethod(open_on_postgres))
        monkeypatch.setenv(ENV, json.dumps({"url": self.url_pattern, "prefix": self.prefix}))

    @classmethod
    def from_environment(cls) -> PostgresFiles | None:
        found = os.environ.get(ENV)
        if not found:
            return None
        settings: dict[str, Any] = json.loads(found)
        return cls(settings["url"], settings["prefix"])

    async def drop_all(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.url_pattern.format("postgres"))
        try:
            names = await conn.fetch(
                "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", self.prefix
            )
            for (name,) in names:
                await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await conn.close()
