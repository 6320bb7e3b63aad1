"""Answers kept in memory until the database changes, noticed at once whoever changed it.

SQLite's `PRAGMA data_version` on a connection of its own changes whenever another connection
(this process's writer, or the CLI in another process) commits. Reading it costs a few
microseconds and no I/O (WAL keeps it in shared memory), so the event loop reads it itself: a key
revoked or a panel changed from the CLI counts from the very next request, while a flood of
refusals is answered from memory. Only when it moved is `memo_version` read: a counter that
triggers bump on every change to the tables the memos read (migration 0009), so a commit of the
request log or an outbox leaves the memos as they are.

On PostgreSQL there is no such shared-memory counter: the `memo_version` row is read (one indexed
read on a pooled connection, far less than the answers it saves), which any process's commit
moves, so the guarantee is the same.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class ChangeWatch:
    """Tells whether anything the memos read changed since it last answered.

    `local_commits` (this process's write count, `Database.commits`) lets `version` read the
    database once per turn of the event loop instead of once per lookup: a request answered from
    memory looks up its key, panel and limit facts in one turn, and a commit by another process
    that lands during a turn counts from the next (as if it had landed a moment later), while a
    write of this process counts for every lookup after it.
    """

    def __init__(self, local_commits: Callable[[], int] | None = None) -> None:
        self._local_commits = local_commits
        self._turn: int | None = None  # this process's commits when read in this turn
        self._version = -1

    def _turn_over(self) -> None:
        self._turn = None

    def known(self) -> int | None:
        """The version already read in this turn (and nothing of ours committed since), if any:
        what `version` would answer, without a coroutine."""
        commits = self._local_commits
        if self._turn is not None and commits is not None and self._turn == commits():
            return self._version
        return None

    async def version(self) -> int:
        """Changes whenever a change to keys, panels, servers, blacklist or tickets committed."""
        if self._local_commits is None:
            return await self._read()
        commits = self._local_commits()
        if self._turn == commits:
            return self._version
        version = await self._read()
        if self._local_commits() == commits:  # nothing of ours committed during the read
            if self._turn is None:
                asyncio.get_running_loop().call_soon(self._turn_over)
            self._turn, self._version = commits, version
        return version

    async def _read(self) -> int:
        raise NotImplementedError

    def close(self) -> None:
        """Let go of what it holds (a SQLite connection); the database is closed separately."""


class SqliteChangeWatch(ChangeWatch):
    def __init__(self, path: Path, local_commits: Callable[[], int] | None = None) -> None:
        super().__init__(local_commits)
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA query_only = ON")
        self._data_version = -1
        self._memo_version = -1

    async def _read(self) -> int:
        data_version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        if data_version != self._data_version:
            self._data_version = data_version
            row = self._conn.execute("SELECT n FROM memo_version").fetchone()
            self._memo_version = int(row[0])
        return self._memo_version

    def close(self) -> None:
        self._conn.close()


class Memo(Generic[K, V]):
    """A bounded dict emptied whenever the database changed.

    `get` returns (found, value, token); pass the token to `put`, which keeps the value only if
    nothing was committed since `get` (so a read that raced a commit is never kept).
    """

    def __init__(self, watch: ChangeWatch, max_entries: int = 10_000) -> None:
        self._watch = watch
        self._max = max_entries
        self._version = -1
        self._entries: dict[K, V] = {}

    async def get(self, key: K) -> tuple[bool, V | None, int]:
        version = self._watch.known()
        if version is None:
            version = await self._watch.version()
        if version != self._version:
            self._entries.clear()
            self._version = version
        if key in self._entries:
            return True, self._entries[key], version
        return False, None, version

    def put(self, key: K, value: V, token: int) -> None:
        if token != self._version:
            return
        if len(self._entries) >= self._max:
            self._entries.clear()  # a flood of distinct keys: start over rather than grow
        self._entries[key] = value
