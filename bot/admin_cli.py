"""`rimpllee apikey …` and `rimpllee blacklist …`: the admin slash commands, from a shell.

Each command opens the bot's database, does one thing and closes it again. WAL, IMMEDIATE write
transactions and a busy timeout make that safe while the bot runs on the same file, and the bot
reads keys and the blacklist per request, so a change here counts from the bot's next request.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.store.database import Database

AdminAction = Callable[["Database", argparse.Namespace], Awaitable[None]]

# SQLite stores snowflakes as signed 64-bit INTEGERs; 0 is never a Discord ID.
_MAX_SNOWFLAKE = 2**63 - 1
_DIGITS = re.compile(r"[0-9]+")
# The same limit as the `/blacklist add` slash command's reason option.
REASON_MAX = 200


def snowflake(text: str) -> int:
    """argparse type: a Discord ID, so a typo fails before the database is touched."""
    if _DIGITS.fullmatch(text) is None or not 0 < int(text) <= _MAX_SNOWFLAKE:
        raise argparse.ArgumentTypeError(f"expected a Discord ID (digits only), got {text!r}")
    return int(text)


def reason(text: str) -> str:
    """argparse type: a reason that shows as one line in `blacklist list` and on Discord."""
    cleaned = text.strip()
    if not cleaned:
        raise argparse.ArgumentTypeError("must not be empty")
    if not cleaned.isprintable():
        raise argparse.ArgumentTypeError("must be one line without control characters")
    if len(cleaned) > REASON_MAX:
        raise argparse.ArgumentTypeError(f"at most {REASON_MAX} characters, got {len(cleaned)}")
    return cleaned


def utc_iso(timestamp: float) -> str:
    """Stored times are Unix seconds; admins read UTC ISO 8601 whatever the host's zone."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def _printable(text: str) -> str:
    """Text written by someone else (e.g. a reason given on Discord), safe to print as one line."""
    return "".join(ch if ch.isprintable() else " " for ch in text)


def _note(message: str) -> None:
    """Human-facing remarks go to stderr, so stdout stays just the data (e.g. only the key)."""
    print(f"rimpllee: {message}", file=sys.stderr)


async def _apikey_generate(db: Database, args: argparse.Namespace) -> None:
    from bot.core.admin import ApiKeys  # noqa: PLC0415 - keeps `rimpllee --help` fast
    from bot.store.admin import SqliteKeyStore  # noqa: PLC0415

    key = await ApiKeys(SqliteKeyStore(db)).generate(args.guild)
    print(key)
    _note(f"new API key for server {args.guild}; it is shown only this once")


async def _apikey_regenerate(db: Database, args: argparse.Namespace) -> None:
    from bot.core.admin import ApiKeys  # noqa: PLC0415
    from bot.store.admin import SqliteKeyStore  # noqa: PLC0415

    key = await ApiKeys(SqliteKeyStore(db)).regenerate(args.guild)
    print(key)
    _note(
        f"new API key for server {args.guild}; it is shown only this once "
        "and the old key no longer works"
    )


async def _apikey_revoke(db: Database, args: argparse.Namespace) -> None:
    from bot.core.admin import ApiKeys  # noqa: PLC0415
    from bot.store.admin import SqliteKeyStore  # noqa: PLC0415

    await ApiKeys(SqliteKeyStore(db)).revoke(args.guild)
    print(f"API key of server {args.guild} revoked: the API refuses it from now on")


async def _apikey_status(db: Database, args: argparse.Namespace) -> None:
    from bot.core.admin import ApiKeys  # noqa: PLC0415
    from bot.store.admin import SqliteKeyStore  # noqa: PLC0415

    info = await ApiKeys(SqliteKeyStore(db)).status(args.guild)
    if info is None:
        print(f"no API key for server {args.guild}")
        return
    by = f" by user {info.created_by}" if info.created_by is not None else ""
    print(f"API key {info.display_prefix} created {utc_iso(info.created_at)}{by}")


async def _blacklist_add(db: Database, args: argparse.Namespace) -> None:
    from bot.core.admin import Blacklist  # noqa: PLC0415
    from bot.store.admin import SqliteBlacklistStore  # noqa: PLC0415

    await Blacklist(SqliteBlacklistStore(db)).add(args.guild, args.user, None, args.reason)
    print(f"user {args.user} can no longer open tickets on server {args.guild}")


async def _blacklist_remove(db: Database, args: argparse.Namespace) -> None:
    from bot.core.admin import Blacklist  # noqa: PLC0415
    from bot.store.admin import SqliteBlacklistStore  # noqa: PLC0415

    await Blacklist(SqliteBlacklistStore(db)).remove(args.guild, args.user)
    print(f"user {args.user} can open tickets on server {args.guild} again")


async def _blacklist_list(db: Database, args: argparse.Namespace) -> None:
    from bot.core.admin import Blacklist  # noqa: PLC0415
    from bot.store.admin import SqliteBlacklistStore  # noqa: PLC0415

    entries = await Blacklist(SqliteBlacklistStore(db)).entries(args.guild)
    for entry in entries:
        # Tab-separated with the free text last, so `cut -f1` gives the user ids.
        print(f"{entry.user_id}\t{utc_iso(entry.added_at)}\t{_printable(entry.reason or '')}")
    if not entries:
        _note(f"nobody is blacklisted on server {args.guild}")


def _command(
    group: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help_text: str,
    action: AdminAction,
    *,
    writes: bool,
    user: bool = False,
) -> argparse.ArgumentParser:
    """One leaf command with the options every admin command shares."""
    parser = group.add_parser(name, help=help_text, description=help_text)
    parser.add_argument(
        "--guild", type=snowflake, required=True, metavar="ID", help="the server's ID"
    )
    if user:
        parser.add_argument(
            "--user", type=snowflake, required=True, metavar="ID", help="the member's ID"
        )
    where = parser.add_argument_group("database")
    where.add_argument(
        "--config",
        type=Path,
        default=Path("config.toml"),
        metavar="PATH",
        help="config file, read for database.path only (default: config.toml)",
    )
    where.add_argument(
        "--database",
        type=Path,
        metavar="PATH",
        help="database file; if given, the config file is not read",
    )
    parser.set_defaults(admin_action=action, admin_writes=writes)
    return parser


def add_admin_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `apikey` and `blacklist` on the top-level parser's subcommands."""
    apikey = commands.add_parser("apikey", help="manage a server's API key")
    keys = apikey.add_subparsers(dest="action", required=True, metavar="ACTION")
    _command(
        keys,
        "generate",
        "create the server's API key and print it once",
        _apikey_generate,
        writes=True,
    )
    _command(
        keys,
        "regenerate",
        "replace the API key; the old one stops working at once",
        _apikey_regenerate,
        writes=True,
    )
    _command(keys, "revoke", "delete the API key: API access off", _apikey_revoke, writes=True)
    _command(
        keys,
        "status",
        "whether the server has an API key (never shows the key)",
        _apikey_status,
        writes=False,
    )

    blacklist = commands.add_parser("blacklist", help="manage who may not open tickets")
    entries = blacklist.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = _command(
        entries, "add", "stop a member opening tickets", _blacklist_add, writes=True, user=True
    )
    add.add_argument(
        "--reason", type=reason, metavar="TEXT", help=f"why, for the staff (≤{REASON_MAX} chars)"
    )
    _command(
        entries,
        "remove",
        "let a member open tickets again",
        _blacklist_remove,
        writes=True,
        user=True,
    )
    _command(
        entries,
        "list",
        "who is blacklisted: user id, added (UTC), reason",
        _blacklist_list,
        writes=False,
    )


def _database_path(args: argparse.Namespace) -> Path:
    """`--database`, else the config's database.path; the token is not needed for this."""
    if args.database is not None:
        path: Path = args.database
        return path
    from bot.config import load_config  # noqa: PLC0415 - imports hikari

    return load_config(args.config, require_token=False).database.path


async def run_admin(args: argparse.Namespace) -> None:
    """Open the database, run the chosen command, close it; errors become one-line exits."""
    import sqlite3  # noqa: PLC0415

    from bot.store.database import Database, DatabaseError  # noqa: PLC0415

    path = _database_path(args)
    action: AdminAction = args.admin_action
    created = not path.exists()
    if created and not args.admin_writes:
        # Creating an empty database just to report that it is empty would hide a wrong path.
        raise DatabaseError(
            f"{path} does not exist (check database.path or --database; "
            "a relative path is taken from the current directory)"
        )
    db = await Database.open(path)
    if created:
        _note(f"created a new database at {path.resolve()}")
    try:
        await action(db, args)
    except sqlite3.Error as error:  # e.g. still locked after the busy timeout
        raise DatabaseError(f"{path}: {error}") from error
    finally:
        await db.close()
