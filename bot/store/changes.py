"""Answers kept in memory until the database changes, noticed at once whoever changed it.

Every commit to a SQLite database in WAL mode, by any connection of any process (this process's
writer, or the CLI), rewrites the WAL-index header at the start of the `-shm` file: its change
counter, last frame and checksums. Reading those 96 bytes (the header and the copy SQLite keeps
for torn reads) is one `pread`, so the event loop does it itself: a key revoked or a panel
changed from the CLI counts from the very next request, while a flood of refusals is answered
from memory. Where the header can't be read (no `pread`, a torn read), `PRAGMA data_version` on
a connection of the watch's own says the same at some ten times the cost. Only when either
moved is `memo_version` read: a counter that triggers bump on every change to the tables the
memos read (migration 0009), so a commit of the request log or an outbox leaves the memos as
they are.

On PostgreSQL there is no such shared-memory counter: the `memo_version` row is read (one indexed
read on a pooled connection, far less than the answers it saves), which any process's commit
moves, so the guarantee is the same.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Generic, TypeVar

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
        self._reads = 0  # reads started, and the number of the one `_version` came from: on
        self._read_kept = 0  # PostgreSQL two reads can finish out of order, the older last

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
        self._reads += 1
        read = self._reads
        version = await self._read()
        # Kept for the turn if nothing of ours committed during the read, and no read started
        # after it has been kept already (its answer is the newer one).
        if self._local_commits() == commits and read > self._read_kept:
            if self._turn is None:
                asyncio.get_running_loop().call_soon(self._turn_over)
            self._turn, self._version, self._read_kept = commits, version, read
        return version

    async def _read(self) -> int:
        raise NotImplementedError

    def close(self) -> None:
        """Let go of what it holds (a SQLite connection); the database is closed separately."""


class WalIndex:
    """The `-shm` file's WAL-index header, read with `pread` on a descriptor of our own.

    POSIX drops every lock a process holds on a file when the process closes *any* descriptor
    of it, SQLite's own locks on the `-shm` file included. So one descriptor per file is shared
    by every `Database` of this process on it, and closed only when the last of them has closed
    its connections (`release`).
    """

    _SIZE = 48  # bytes of one copy of the header; SQLite writes two, one after the other
    _shared: ClassVar[dict[tuple[int, int], WalIndex]] = {}

    def __init__(self, fd: int, key: tuple[int, int]) -> None:
        self._fd = fd
        self._key = key
        self._users = 0

    @classmethod
    def acquire(cls, database: Path) -> WalIndex | None:
        """The index of an open WAL database (None where it can't be read: the caller falls
        back to `PRAGMA data_version`)."""
        if not hasattr(os, "pread"):
            return None
        try:
            fd = os.open(f"{database.resolve()}-shm", os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            return None
        stat = os.fstat(fd)
        key = (stat.st_dev, stat.st_ino)
        index = cls._shared.get(key)
        if index is None:
            index = cls._shared[key] = cls(fd, key)
        else:
            os.close(fd)  # SQLite's locks live on: another of our descriptors stays open
        index._users += 1
        return index

    def release(self) -> None:
        """Once this `Database`'s connections are closed."""
        self._users -= 1
        if self._users == 0:
            del self._shared[self._key]
            os.close(self._fd)

    def header(self) -> bytes | None:
        """The header, or None if the two copies differ (a commit is writing it) or it is not
        initialised yet."""
        data = os.pread(self._fd, 2 * self._SIZE, 0)
        size = self._SIZE
        if len(data) != 2 * size or data[12] == 0 or data[:size] != data[size:]:
            return None
        return data[:size]


class SqliteChangeWatch(ChangeWatch):
    def __init__(
        self,
        path: Path,
        local_commits: Callable[[], int] | None = None,
        wal_index: WalIndex | None = None,
    ) -> None:
        super().__init__(local_commits)
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA query_only = ON")
        self._wal_index = wal_index
        self._header: bytes | None = None
        self._data_version = -1
        self._memo_version = -1

    async def _read(self) -> int:
        header = None if self._wal_index is None else self._wal_index.header()
        if header is not None:
            if header != self._header:
                self._header = header  # read before the counter: a commit in between shows next
                self._memo_version = self._read_memo_version()
            return self._memo_version
        self._header = None
        data_version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        if data_version != self._data_version:
            self._data_version = data_version
            self._memo_version = self._read_memo_version()
        return self._memo_version

    def _read_memo_version(self) -> int:
        return int(self._conn.execute("SELECT n FROM memo_version").fetchone()[0])

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
