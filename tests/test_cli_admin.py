"""`rimpllee apikey|blacklist` as a shell admin runs them: real processes on real SQLite files."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from pathlib import Path

import pytest

from bot.core.admin import ApiKeys, Blacklist
from bot.core.errors import InvalidApiKey
from bot.store.admin import SqliteBlacklistStore, SqliteKeyStore
from bot.store.database import Database
from tests.conftest import run_cli

pytestmark = pytest.mark.asyncio

GUILD = 111111111111111111
USER = 222222222222222222
OTHER_USER = 333333333333333333
KEY_RE = re.compile(r"rmp_[A-Za-z0-9_-]{43}")
UTC_ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00"


async def admin(*args: str, db: Path) -> tuple[int, str, str]:
    """An admin command on the database file `db`, run from its directory."""
    return await run_cli(*args, "--database", str(db), cwd=db.parent)


async def ok(*args: str, db: Path) -> str:
    """stdout of a command that must succeed."""
    code, out, err = await admin(*args, db=db)
    assert code == 0, err
    return out


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got:\n{stderr}"
    return lines[0]


async def generate(db: Path, guild: int = GUILD) -> str:
    out = await ok("apikey", "generate", "--guild", str(guild), db=db)
    assert KEY_RE.fullmatch(out.strip()), out
    assert out.count("\n") == 1, "stdout is the key on its own line, nothing else"
    return out.strip()


async def authenticate(db_path: Path, key: str) -> int:
    db = await Database.open(db_path)
    try:
        return await ApiKeys(SqliteKeyStore(db)).authenticate(key)
    finally:
        await db.close()


async def test_generate_prints_the_key_once_and_status_shows_only_its_prefix(
    tmp_path: Path,
) -> None:
    db = tmp_path / "bot.db"
    code, out, err = await admin("apikey", "generate", "--guild", str(GUILD), db=db)
    assert code == 0, err
    key = out.strip()
    assert KEY_RE.fullmatch(key), out
    assert out == key + "\n", "stdout is the key on its own line, nothing else"
    assert f"created a new database at {db}" in err
    assert "shown only this once" in err
    assert await authenticate(db, key) == GUILD

    status = await ok("apikey", "status", "--guild", str(GUILD), db=db)
    assert key not in status
    assert key[:12] + "…" in status
    assert re.search(f"created {UTC_ISO}", status), status
    assert " by " not in status, "created_by is None from the command line"


async def test_generate_twice_is_refused_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    key = await generate(db)
    code, out, err = await admin("apikey", "generate", "--guild", str(GUILD), db=db)
    assert code == 1
    assert out == ""
    assert one_line(err).startswith("rimpllee: this server already has an API key")
    assert await authenticate(db, key) == GUILD, "the refused generate left the key alone"


async def test_regenerate_replaces_the_key_and_the_old_one_stops_working(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    old = await generate(db)
    out = await ok("apikey", "regenerate", "--guild", str(GUILD), db=db)
    new = out.strip()
    assert KEY_RE.fullmatch(new)
    assert new != old
    with pytest.raises(InvalidApiKey):
        await authenticate(db, old)
    assert await authenticate(db, new) == GUILD


async def test_regenerate_without_a_key_creates_one(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    key = (await ok("apikey", "regenerate", "--guild", str(GUILD), db=db)).strip()
    assert await authenticate(db, key) == GUILD


async def test_revoke_then_status_says_no_key(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    key = await generate(db)
    await ok("apikey", "revoke", "--guild", str(GUILD), db=db)
    with pytest.raises(InvalidApiKey):
        await authenticate(db, key)

    status = await ok("apikey", "status", "--guild", str(GUILD), db=db)
    assert "no API key" in status

    code, _, err = await admin("apikey", "revoke", "--guild", str(GUILD), db=db)
    assert code == 1
    assert one_line(err) == "rimpllee: this server has no API key to revoke"


async def test_blacklist_add_list_remove_round_trip(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    g = str(GUILD)
    await ok("blacklist", "add", "--guild", g, "--user", str(USER), "--reason", "spam", db=db)
    await ok("blacklist", "add", "--guild", g, "--user", str(OTHER_USER), db=db)

    lines = (await ok("blacklist", "list", "--guild", g, db=db)).splitlines()
    assert len(lines) == 2
    assert re.fullmatch(rf"{USER}\t{UTC_ISO}\tspam", lines[0]), lines
    assert re.fullmatch(rf"{OTHER_USER}\t{UTC_ISO}\t", lines[1]), lines

    code, _, err = await admin("blacklist", "add", "--guild", g, "--user", str(USER), db=db)
    assert code == 1
    assert one_line(err) == f"rimpllee: user {USER} is already blacklisted"

    await ok("blacklist", "remove", "--guild", g, "--user", str(USER), db=db)
    lines = (await ok("blacklist", "list", "--guild", g, db=db)).splitlines()
    assert [line.split("\t")[0] for line in lines] == [str(OTHER_USER)]

    code, _, err = await admin("blacklist", "remove", "--guild", g, "--user", str(USER), db=db)
    assert code == 1
    assert one_line(err) == f"rimpllee: user {USER} is not blacklisted"

    database = await Database.open(db)
    try:
        entries = await Blacklist(SqliteBlacklistStore(database)).entries(GUILD)
    finally:
        await database.close()
    assert [(e.user_id, e.added_by, e.reason) for e in entries] == [(OTHER_USER, None, None)]


async def test_blacklist_list_of_an_empty_server_prints_nothing_on_stdout(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    await generate(db)
    code, out, err = await admin("blacklist", "list", "--guild", str(GUILD), db=db)
    assert code == 0
    assert out == ""
    assert "nobody is blacklisted" in one_line(err)


@pytest.mark.parametrize("explicit", [True, False], ids=["--config", "default config.toml"])
async def test_config_with_only_a_database_path_is_enough(tmp_path: Path, explicit: bool) -> None:
    db = tmp_path / "data" / "bot.db"
    config = tmp_path / ("admin.toml" if explicit else "config.toml")
    config.write_text(f'[database]\npath = "{db}"\n')
    config_args = ["--config", str(config)] if explicit else []

    code, out, err = await run_cli(
        "apikey", "generate", "--guild", str(GUILD), *config_args, cwd=tmp_path
    )
    assert code == 0, err
    assert await authenticate(db, out.strip()) == GUILD
    code, out, err = await run_cli(
        "apikey", "status", "--guild", str(GUILD), *config_args, cwd=tmp_path
    )
    assert code == 0, err
    assert out.strip().startswith("API key rmp_")


async def test_database_option_skips_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("this is = not [toml\n")
    await generate(tmp_path / "bot.db")


@pytest.mark.parametrize("bad", ["abc", "12a", "-5", "0", "1.5", " 12", "١٢٣", str(2**64)])
async def test_a_bad_guild_id_is_a_usage_error_naming_the_option(tmp_path: Path, bad: str) -> None:
    code, out, err = await admin("apikey", "status", "--guild", bad, db=tmp_path / "bot.db")
    assert code == 2
    assert out == ""
    assert "argument --guild:" in err
    assert not (tmp_path / "bot.db").exists()


async def test_a_bad_user_id_is_a_usage_error_naming_the_option(tmp_path: Path) -> None:
    code, _, err = await admin(
        "blacklist", "add", "--guild", str(GUILD), "--user", "<@123>", db=tmp_path / "bot.db"
    )
    assert code == 2
    assert "argument --user:" in err


def _postgres_url(where: str) -> str:
    return where.removeprefix("rimpllee: ") if "postgresql://" in where else "(not PostgreSQL)"


async def test_a_discord_id_too_large_for_sqlite_is_refused_in_one_line(tmp_path: Path) -> None:
    # 2**63 is a Discord ID (snowflakes are unsigned 64-bit) but no SQLite integer.
    code, out, err = await admin(
        "blacklist", "add", "--guild", str(GUILD), "--user", str(2**63), db=tmp_path / "bot.db"
    )
    assert code == 1
    assert out == ""
    # The file's path, or on PostgreSQL the database's URL (without a password).
    where, message = err.splitlines()[-1].rsplit(": ", 1)
    assert where in (f"rimpllee: {tmp_path / 'bot.db'}", f"rimpllee: {_postgres_url(where)}")
    assert (
        message == f"cannot store a Discord ID above {2**63 - 1} (the database's largest integer)"
    )


async def test_a_multi_line_reason_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = await admin(
        "blacklist",
        "add",
        "--guild",
        str(GUILD),
        "--user",
        str(USER),
        "--reason",
        "one\ntwo",
        db=tmp_path / "bot.db",
    )
    assert code == 2
    assert "argument --reason:" in err


async def test_a_toml_error_is_one_line_naming_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[database]\npath = "bot.db\n')
    code, out, err = await run_cli("blacklist", "list", "--guild", str(GUILD), cwd=tmp_path)
    assert code == 1
    assert out == ""
    line = one_line(err)
    assert line.startswith(f"rimpllee: {config.name}:2: invalid TOML")


async def test_a_missing_config_is_one_line(tmp_path: Path) -> None:
    code, _, err = await run_cli("apikey", "status", "--guild", str(GUILD), cwd=tmp_path)
    assert code == 1
    assert one_line(err) == "rimpllee: config.toml: file not found"


async def test_reading_a_missing_database_does_not_create_it(tmp_path: Path) -> None:
    db = tmp_path / "typo.db"
    for command in (["apikey", "status"], ["blacklist", "list"]):
        code, _, err = await admin(*command, "--guild", str(GUILD), db=db)
        assert code == 1
        assert one_line(err).startswith(f"rimpllee: {db} does not exist")
    assert not db.exists()


@pytest.mark.sqlite_only(reason="refusing a file that is not SQLite is about the SQLite file")
async def test_a_file_that_is_not_sqlite_is_one_line_and_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    db.write_text("not sqlite at all\n")
    code, _, err = await admin("apikey", "generate", "--guild", str(GUILD), db=db)
    assert code == 1
    assert "is not a SQLite database" in one_line(err)
    assert db.read_text() == "not sqlite at all\n"


@pytest.mark.sqlite_only(reason="refusing another app's SQLite file is about the SQLite file")
async def test_another_apps_sqlite_database_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    code, _, err = await admin("blacklist", "list", "--guild", str(GUILD), db=db)
    assert code == 1
    assert "not Rimpllee's" in one_line(err)


async def test_cli_and_a_running_bot_see_each_others_writes(tmp_path: Path) -> None:
    """The test process holds the database open the way the running bot does."""
    path = tmp_path / "bot.db"
    bot_db = await Database.open(path)
    try:
        keys = ApiKeys(SqliteKeyStore(bot_db))
        blacklist = Blacklist(SqliteBlacklistStore(bot_db))

        key = await generate(path)  # CLI writes, the bot reads
        assert await keys.authenticate(key) == GUILD

        await blacklist.add(GUILD, USER, reason="from discord")  # the bot writes, the CLI reads
        lines = (await ok("blacklist", "list", "--guild", str(GUILD), db=path)).splitlines()
        assert [line.split("\t")[::2] for line in lines] == [[str(USER), "from discord"]]

        # The CLI waits out a write the bot has in progress (on the same row) instead of failing.
        async with bot_db.write() as conn:
            await conn.execute(
                "UPDATE api_keys SET created_by = created_by WHERE guild_id = ?", (GUILD,)
            )
            revoke = asyncio.create_task(admin("apikey", "revoke", "--guild", str(GUILD), db=path))
            await asyncio.sleep(1)
            assert not revoke.done()
        code, _, err = await revoke
        assert code == 0, err
        with pytest.raises(InvalidApiKey):
            await keys.authenticate(key)
        assert await keys.status(GUILD) is None
    finally:
        await bot_db.close()
    if bot_db.engine == "sqlite":
        assert not (tmp_path / "bot.db-wal").exists(), "the bot, last to close, checkpointed"


async def test_help_lists_the_old_and_new_commands(tmp_path: Path) -> None:
    code, out, _ = await run_cli("--help", cwd=tmp_path)
    assert code == 0
    for command in ("run", "sandbox", "apikey", "blacklist"):
        assert command in out
