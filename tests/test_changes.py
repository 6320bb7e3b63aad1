"""Answers kept in memory only while the database is unchanged, whoever changes it."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.store import Database
from bot.store.changes import Memo

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
