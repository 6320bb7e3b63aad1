"""Answers kept in memory only while the database is unchanged, whoever changes it."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path

import pytest

from bot.store import Database
from bot.store.changes import ChangeWatch, Memo, SqliteChangeWatch, WalIndex

pytestmark = pytest.mark.asyncio


async def test_a_commit_by_any_connection_empties_the_memo(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    db = await Database.open(path)
    watch = db.change_watch()
    try:
        memo: Memo[str, int | None] = Memo(watch)
        found, _, token = await memo.get("k")
        assert not found
        memo.put("k", 1, token)
        assert (await memo.get("k"))[:2] == (True, 1)
        async with db.write() as conn:  # this process's writer
            await conn.execute("INSERT INTO servers (guild_id, created_at) VALUES (1, 0)")
        assert (await memo.get("k"))[0] is False
        _, _, token = await memo.get("k")
        memo.put("k", 2, token)
        other = await Database.open(path)  # another process's connections, as the CLI's are
        async with other.write() as conn:
            await conn.execute("INSERT INTO servers (guild_id, created_at) VALUES (2, 0)")
        await other.close()
        assert (await memo.get("k"))[0] is False
    finally:
        watch.close()
        await db.close()


async def test_a_read_that_raced_a_commit_is_not_kept(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    db = await Database.open(path)
    watch = db.change_watch()
    try:
        memo: Memo[str, int] = Memo(watch)
        _, _, stale = await memo.get("k")  # a lookup starts, reads...
        async with db.write() as conn:  # ...while a commit lands
            await conn.execute("INSERT INTO servers (guild_id, created_at) VALUES (1, 0)")
        await memo.get("other")  # another lookup notices the commit first
        memo.put("k", 1, stale)  # the first lookup's answer may predate the commit: dropped
        assert (await memo.get("k"))[0] is False
    finally:
        watch.close()
        await db.close()


@pytest.mark.sqlite_only(
    reason="another process's commit inside one turn of the loop needs a blocking connection"
)
async def test_with_local_commits_the_version_is_read_once_per_turn_of_the_loop(
    tmp_path: Path,
) -> None:
    path = tmp_path / "m.db"
    db = await Database.open(path)
    watch = db.change_watch()  # with this process's commits
    other = sqlite3.connect(path, isolation_level=None)  # another process, as the CLI is
    try:
        before = await watch.version()
        other.execute("INSERT INTO servers (guild_id, created_at) VALUES (1, 0)")
        # The same turn: as if the commit came a moment later.
        assert await watch.version() == before
        await asyncio.sleep(0)  # the next turn sees it
        after = await watch.version()
        assert after != before
        # This process's own write counts at once, also for a lookup in the same turn after it.
        async with db.write() as conn:
            await conn.execute("INSERT INTO servers (guild_id, created_at) VALUES (2, 0)")
        assert await watch.version() != after
    finally:
        other.close()
        watch.close()
        await db.close()


COMMIT_ELSEWHERE = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("INSERT INTO servers (guild_id, created_at) VALUES (7, 0)")
conn.close()
"""


@pytest.mark.sqlite_only(reason="the WAL-index header is SQLite's")
async def test_another_process_commit_moves_the_wal_index_header(tmp_path: Path) -> None:
    """The cheap read (one `pread` of the `-shm` file) is what sees the other process's commit."""
    path = tmp_path / "m.db"
    db = await Database.open(path)
    watch = db.change_watch()
    try:
        index = WalIndex.acquire(path)
        assert index is not None
        index.release()
        header = index.header()
        assert header is not None
        assert len(header) == 48
        before = await watch.version()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", COMMIT_ELSEWHERE, str(path)
        )
        assert await process.wait() == 0
        assert index.header() != header
        await asyncio.sleep(0)  # a new turn of the loop
        assert await watch.version() != before
    finally:
        watch.close()
        await db.close()


@pytest.mark.sqlite_only(reason="the WAL-index header is SQLite's")
async def test_one_descriptor_per_shm_file_closed_with_the_last_database(tmp_path: Path) -> None:
    """Closing a descriptor drops the process's locks on the file, SQLite's too: the databases
    of one process on one file share one, closed after the last of them."""
    path = tmp_path / "m.db"
    first = await Database.open(path)
    second = await Database.open(path)
    index = WalIndex.acquire(path)
    assert index is not None
    index.release()
    try:
        await second.close()
        assert index.header() is not None  # still open for the first
        watch = first.change_watch()
        before = await watch.version()
        async with first.write() as conn:
            await conn.execute("INSERT INTO servers (guild_id, created_at) VALUES (1, 0)")
        assert await watch.version() != before
        watch.close()
    finally:
        await first.close()
    assert WalIndex._shared == {}  # and its descriptor closed


@pytest.mark.sqlite_only(reason="PRAGMA data_version is SQLite's")
async def test_without_the_wal_index_data_version_notices_commits(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    db = await Database.open(path)
    watch = SqliteChangeWatch(path)  # no WAL index: where `pread` is missing
    try:
        before = await watch.version()
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("INSERT INTO servers (guild_id, created_at) VALUES (1, 0)")
        other.close()
        assert await watch.version() != before
    finally:
        watch.close()
        await db.close()


class _QueriedWatch(ChangeWatch):
    """A watch whose version read is a query answered when the test says (as on PostgreSQL,
    where two reads can finish out of order)."""

    def __init__(self) -> None:
        super().__init__(lambda: 0)
        self.answers: list[asyncio.Future[int]] = []

    async def _read(self) -> int:
        answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.answers.append(answer)
        return await answer


async def test_an_older_read_finishing_last_is_not_kept() -> None:
    watch = _QueriedWatch()
    seen: list[tuple[int, int | None]] = []

    async def read_then_look() -> None:
        value = await watch.version()
        seen.append((value, watch.known()))  # the same step: what the rest of the turn gets

    older = asyncio.create_task(read_then_look())
    await asyncio.sleep(0)
    newer = asyncio.create_task(watch.version())
    await asyncio.sleep(0)
    assert len(watch.answers) == 2
    watch.answers[1].set_result(6)  # the later read answers first...
    assert await newer == 6
    watch.answers[0].set_result(5)  # ...and the earlier one's older answer is not kept
    await older
    assert seen == [(5, None)]
