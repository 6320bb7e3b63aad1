"""Answers kept in memory only while the database is unchanged, whoever changes it."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.store import Database
from bot.store.changes import ChangeWatch, Memo

pytestmark = pytest.mark.asyncio


async def test_a_commit_by_any_connection_empties_the_memo(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    db = await Database.open(path)
    watch = ChangeWatch(path)
    try:
        memo: Memo[str, int | None] = Memo(watch)
        found, _, token = memo.get("k")
        assert not found
        memo.put("k", 1, token)
        assert memo.get("k")[:2] == (True, 1)
        async with db.write() as conn:  # this process's writer
            await conn.execute("INSERT INTO servers (guild_id, created_at) VALUES (1, 0)")
        assert memo.get("k")[0] is False
        _, _, token = memo.get("k")
        memo.put("k", 2, token)
        other = sqlite3.connect(path, isolation_level=None)  # another process, as the CLI is
        other.execute("INSERT INTO servers (guild_id, created_at) VALUES (2, 0)")
        other.close()
        assert memo.get("k")[0] is False
    finally:
        watch.close()
        await db.close()


async def test_a_read_that_raced_a_commit_is_not_kept(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    db = await Database.open(path)
    watch = ChangeWatch(path)
    try:
        memo: Memo[str, int] = Memo(watch)
        _, _, stale = memo.get("k")  # a lookup starts, reads...
        async with db.write() as conn:  # ...while a commit lands
            await conn.execute("INSERT INTO servers (guild_id, created_at) VALUES (1, 0)")
        memo.get("other")  # another lookup notices the commit first
        memo.put("k", 1, stale)  # the first lookup's answer may predate the commit: dropped
        assert memo.get("k")[0] is False
    finally:
        watch.close()
        await db.close()


async def test_with_local_commits_the_version_is_read_once_per_turn_of_the_loop(
    tmp_path: Path,
) -> None:
    path = tmp_path / "m.db"
    db = await Database.open(path)
    watch = ChangeWatch(path, lambda: db.commits)
    other = sqlite3.connect(path, isolation_level=None)  # another process, as the CLI is
    try:
        before = watch.version()
        other.execute("INSERT INTO servers (guild_id, created_at) VALUES (1, 0)")
        assert watch.version() == before  # the same turn: as if the commit came a moment later
        await asyncio.sleep(0)  # the next turn sees it
        after = watch.version()
        assert after != before
        # This process's own write counts at once, also for a lookup in the same turn after it.
        async with db.write() as conn:
            await conn.execute("INSERT INTO servers (guild_id, created_at) VALUES (2, 0)")
        assert watch.version() != after
    finally:
        other.close()
        watch.close()
        await db.close()


async def test_without_a_loop_the_version_is_read_every_time(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    db = await Database.open(path)
    watch = ChangeWatch(path, lambda: db.commits)
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:

        def two_reads() -> tuple[int, int]:
            first = watch.version()
            other.execute("INSERT INTO servers (guild_id, created_at) VALUES (3, 0)")
            return first, watch.version()

        first, second = await asyncio.to_thread(two_reads)
        assert first != second
    finally:
        other.close()
        watch.close()
        await db.close()
