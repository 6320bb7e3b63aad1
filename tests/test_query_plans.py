"""Every hot statement stays flat as history grows: none visits all of a server's tickets.

SQLite's own planner (EXPLAIN QUERY PLAN) on a migrated database judges each statement, so a new
query, or an index dropped, fails here instead of slowing opens down a year later. The timings
at 1k, 100k and 1M tickets are in `make bench`.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from bot.store import Database
from bot.store.database import load_migrations
from bot.store.tickets import (
    KEPT_IN_GUILD_SQL,
    LIMIT_FACTS_SQL,
    OPENING_TICKETS_SQL,
    RAW_FACTS_SQL,
)

pytestmark = pytest.mark.sqlite_only(
    reason="SQLite's query plans (EXPLAIN QUERY PLAN); PostgreSQL has the same indexes "
    "(tests/test_engines.py) and its own planner"
)

PARAMS = {"g": 1, "u": 2, "since": 0.0}

HOT_STATEMENTS = {
    "limit facts (every open and refusal)": (LIMIT_FACTS_SQL, PARAMS),
    "limit facts as the API's memo reads them": (RAW_FACTS_SQL, PARAMS),
    "sweep of a server's kept tickets": (KEPT_IN_GUILD_SQL, (1,)),
    "start-up reconciliation": (OPENING_TICKETS_SQL, ()),
    # The shape a dashboard's ticket list takes (indexed by 0003 for it).
    "a page of a server's tickets by status": (
        "SELECT ticket_id FROM tickets WHERE guild_id = ? AND state = ? "
        "ORDER BY opened_at DESC LIMIT 50",
        (1, "open"),
    ),
}

_ON_TICKETS = re.compile(r"(SCAN|SEARCH) tickets(?: USING (?:COVERING )?INDEX (\w+))?(.*)")


def history_scans(connection: sqlite3.Connection, sql: str, params: object) -> list[str]:
    """The plan steps that read every ticket (SCAN) or every ticket of a server (a search on
    `guild_id` alone), unless through a partial index that holds only the few rows wanted."""
    partial = {row[1] for row in connection.execute("PRAGMA index_list(tickets)") if row[4]}
    bad = []
    for *_, detail in connection.execute(f"EXPLAIN QUERY PLAN {sql}", params):  # type: ignore[arg-type]
        match = _ON_TICKETS.fullmatch(detail)
        if match is None:
            if "TEMP B-TREE" in detail:
                bad.append(detail)  # sorting what it read: the order is not from an index
            continue
        kind, index, constraint = match.groups()
        if index in partial:
            continue
        if kind == "SCAN" or constraint.strip() == "(guild_id=?)":
            bad.append(detail)
    return bad


async def migrated(path: Path, upto: int | None = None) -> sqlite3.Connection:
    migrations = load_migrations()
    db = await Database.open(path, migrations[:upto] if upto else migrations)
    await db.close()
    return sqlite3.connect(path)


@pytest.mark.asyncio
@pytest.mark.parametrize("name", HOT_STATEMENTS)
async def test_hot_statement_reads_no_servers_whole_history(tmp_path: Path, name: str) -> None:
    connection = await migrated(tmp_path / "plans.db")
    sql, params = HOT_STATEMENTS[name]
    try:
        assert history_scans(connection, sql, params) == []
    finally:
        connection.close()


@pytest.mark.asyncio
async def test_the_check_catches_the_limit_facts_without_the_indexes(tmp_path: Path) -> None:
    """Before 0003, the limit facts searched the server's tickets by guild alone (twice)."""
    connection = await migrated(tmp_path / "old.db", upto=2)
    try:
        scans = history_scans(connection, LIMIT_FACTS_SQL, PARAMS)
        assert len(scans) == 2
        assert all("(guild_id=?)" in s for s in scans)
    finally:
        connection.close()
