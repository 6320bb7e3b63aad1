"""`rimpllee backup PATH` while the bot runs: a consistent, restorable copy."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bot.app import Rimpllee
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import SandboxWorld
from bot.store.tickets import SqliteTicketStore
from tests.conftest import LoopErrors, run_cli, running
from tests.helpers import close_form, open_ticket

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.sqlite_only(
        reason="rimpllee backup copies the SQLite file; PostgreSQL is backed up with pg_dump"
    ),
]


async def test_a_backup_taken_while_running_restores_every_ticket_and_transcript(
    app: Rimpllee,
    emulator: DiscordEmulator,
    world: SandboxWorld,
    loop_errors: LoopErrors,
    tmp_path: Path,
) -> None:
    closed = await open_ticket(app, world.members[0].id)
    await close_form(emulator, world, app, closed, "done")
    kept = await open_ticket(app, world.members[1].id)
    database = app.config.database.path
    (original,) = (database.parent / "transcripts").rglob("*.html")
    assert stat.S_IMODE(original.stat().st_mode) == 0o600
    assert stat.S_IMODE(original.parent.stat().st_mode) == 0o700
    target = tmp_path / "backups" / "today"
    code, out, err = await run_cli("backup", str(target), "--database", str(database), cwd=tmp_path)
    assert code == 0, err
    assert "2 tickets" in out
    assert "1 transcript(s)" in out
    copy = target / database.name
    (transcript,) = (target / "transcripts").rglob("*.html")
    for file in (copy, transcript):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    # A second backup into the same folder is refused rather than mixed in.
    code, _, err = await run_cli("backup", str(target), "--database", str(database), cwd=tmp_path)
    assert code == 1
    assert "not empty" in err

    # Restore as the README says: stop, put the copy where database.path points, start.
    await app.stop()
    restored = tmp_path / "restored" / "rimpllee.db"
    restored.parent.mkdir()
    copy.rename(restored)
    (target / "transcripts").rename(restored.parent / "transcripts")
    async with running(emulator, restored, loop_errors) as again:
        assert again.db is not None
        rows = await SqliteTicketStore(again.db).tickets(world.guild.id)
        assert [(t.channel_id, t.state) for t in rows] == [(closed, "closed"), (kept, "open")]
        assert rows[0].transcript_path is not None


async def test_a_config_on_postgresql_is_refused_with_the_pg_dump_command_instead(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[database]\nurl = "postgresql://rimpllee:secret@db.example.com/rimpllee"\n')
    target = tmp_path / "backups" / "today"
    code, out, err = await run_cli("backup", str(target), "--config", str(config), cwd=tmp_path)
    assert code == 1
    assert out == ""
    assert err == (
        f"rimpllee: {config} uses PostgreSQL (database.url) and rimpllee backup copies only a "
        f"SQLite file, so nothing was written to {target}. Back PostgreSQL up with its own tool "
        f'instead: pg_dump --format=directory --file={target} "<database.url>"\n'
    )
    assert "secret" not in err
    assert not target.parent.exists()
