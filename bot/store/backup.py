"""`rimpllee backup`: a consistent copy of the live database and its transcripts.

The database is copied with SQLite's online backup API, in one read transaction: a snapshot the
running bot keeps writing past, without stopping. The transcripts are copied after it, so every
transcript the copied database names is in the backup (a newer one is harmless).
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from bot.store.database import DatabaseError
from bot.store.private import private_dir, private_file

TRANSCRIPTS = "transcripts"


@dataclass(frozen=True, slots=True)
class BackupResult:
    database: Path
    tickets: int
    transcripts: int


def backup(database: Path, target: Path) -> BackupResult:
    """Copy `database` and the transcripts beside it into the new folder `target`."""
    if not database.is_file():
        raise DatabaseError(f"{database} does not exist (check database.path or --database)")
    if target.exists() and any(target.iterdir()):
        raise DatabaseError(f"{target} is not empty: back up into a new folder")
    private_dir(target)
    copy = target / database.name
    private_file(copy)
    try:
        with (
            contextlib.closing(sqlite3.connect(database)) as live,
            contextlib.closing(sqlite3.connect(copy)) as into,
        ):
            live.execute("PRAGMA busy_timeout = 5000")
            live.backup(into)  # all pages in one step: one consistent snapshot
            checked = into.execute("PRAGMA integrity_check").fetchone()[0]
            tickets = into.execute("SELECT count(*) FROM tickets").fetchone()[0]
    except sqlite3.Error as error:
        raise DatabaseError(f"{database}: backup failed: {error}") from error
    if checked != "ok":
        raise DatabaseError(f"{copy}: the copy failed its integrity check: {checked}")
    copied = 0
    source = database.parent / TRANSCRIPTS
    if source.is_dir():
        for file in sorted(source.rglob("*.html")):
            into_file = target / TRANSCRIPTS / file.relative_to(source)
            private_dir(into_file.parent)
            private_file(into_file)
            shutil.copyfile(file, into_file)
            copied += 1
    return BackupResult(copy, int(tickets), copied)
