"""`rimpllee apikey|blacklist|panel …`: the admin slash commands (and panel files), from a shell.

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

from bot.core.numbers import BLACKLIST_REASON_MAX, SNOWFLAKE_MAX
from bot.webhook_cli import add_webhook_commands

if TYPE_CHECKING:
    from bot.core.models import Panel
    from bot.store.database import Database

AdminAction = Callable[["Database", argparse.Namespace], Awaitable[None]]
# Runs before the database is opened: checks that need no database (e.g. reading a panel file).
AdminPrepare = Callable[[argparse.Namespace], None]

_DIGITS = re.compile(r"[0-9]+")


def snowflake(text: str) -> int:
    """argparse type: a Discord ID, so a typo fails before the database is touched."""
    if _DIGITS.fullmatch(text) is None or not 0 < int(text) <= SNOWFLAKE_MAX:
        raise argparse.ArgumentTypeError(f"expected a Discord ID (digits only), got {text!r}")
    return int(text)


def reason(text: str) -> str:
    """argparse type: a reason that shows as one line in `blacklist list` and on Discord."""
    cleaned = text.strip()
    if not cleaned:
        raise argparse.ArgumentTypeError("must not be empty")
    if not cleaned.isprintable():
        raise argparse.ArgumentTypeError("must be one line without control characters")
    if len(cleaned) > BLACKLIST_REASON_MAX:
        raise argparse.ArgumentTypeError(
            f"at most {BLACKLIST_REASON_MAX} characters, got {len(cleaned)}"
        )
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


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _summary(panels: list[Panel]) -> str:
    """`2 panels (3 buttons, 1 question)`."""
    buttons = [b for p in panels for b in p.buttons]
    questions = sum(len(b.questions) for b in buttons)
    return (
        f"{_count(len(panels), 'panel')} "
        f"({_count(len(buttons), 'button')}, {_count(questions, 'question')})"
    )


async def _panel_export(db: Database, args: argparse.Namespace) -> None:
    from bot.core.panel_file import dump_panels  # noqa: PLC0415
    from bot.store.panels import SqlitePanelStore  # noqa: PLC0415

    panels = await SqlitePanelStore(db).list_panels(args.guild)
    text = dump_panels(panels)
    if args.output is None:
        # Bytes, so the file is UTF-8 with \n line ends whatever the terminal's locale.
        sys.stdout.buffer.write(text.encode())
        sys.stdout.flush()
        _note(f"exported {_summary(panels)} of server {args.guild}")
        return
    import asyncio  # noqa: PLC0415

    from bot.core.errors import AdminError  # noqa: PLC0415

    output: Path = args.output
    try:
        await asyncio.to_thread(output.write_text, text, encoding="utf-8", newline="\n")
    except OSError as error:
        raise AdminError(f"{output}: cannot write ({error.strerror})") from None
    print(f"exported {_summary(panels)} of server {args.guild} to {output}")


def _read_panel_file(args: argparse.Namespace) -> None:
    """Read and check the whole file before the database is opened (or created)."""
    from bot.core.errors import AdminError  # noqa: PLC0415
    from bot.core.panel_file import read_panel_file  # noqa: PLC0415

    path: Path = args.file
    try:
        # utf-8-sig: tolerate the BOM that Windows editors add.
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise AdminError(f"{path}: file not found") from None
    except UnicodeDecodeError as error:
        raise AdminError(f"{path}: not UTF-8 (byte {error.start})") from None
    except OSError as error:
        raise AdminError(f"{path}: cannot read ({error.strerror})") from None
    args.panel_file = read_panel_file(text, source=str(path), guild_id=args.guild)


async def _panel_import(db: Database, args: argparse.Namespace) -> None:
    import time  # noqa: PLC0415

    from bot.core.errors import AdminError  # noqa: PLC0415
    from bot.core.panel_file import PanelFile  # noqa: PLC0415
    from bot.store.panels import SqlitePanelStore  # noqa: PLC0415

    file: PanelFile = args.panel_file
    store = SqlitePanelStore(db)
    before = {p.panel_id: p for p in await store.list_panels(args.guild)}
    file.check_ids_stay(list(before.values()))
    try:
        await store.replace_all(args.guild, file.panels, time.time())
    except AdminError as error:  # an ID another server uses: nothing was written
        raise AdminError(f"{args.file}: {error}") from None
    # The file is the truth: check the store took it exactly, rather than report what it didn't.
    wanted = {p.panel_id: p for p in file.panels}
    held = {p.panel_id: p for p in await store.list_panels(args.guild)}
    if held != wanted:
        wrong = min(i for i in wanted.keys() | held.keys() if wanted.get(i) != held.get(i))
        raise AdminError(
            f"{args.file}: written, but the database's panel {wrong} is not what the file says "
            "(a Rimpllee bug; `rimpllee panel export` shows what it holds)"
        )
    kept = {p.panel_id for p in file.panels}
    removed = [p for p in before.values() if p.panel_id not in kept]
    line = f"imported {_summary(file.panels)}"
    if removed:
        noun = "panel" if len(removed) == 1 else "panels"
        line += f"; removed {len(removed)} {noun} not in the file: "
        line += ", ".join(p.panel_id for p in removed)
    print(line)
    if file.new_ids:
        _note(
            f"new ids: {', '.join(file.new_ids)}; run `rimpllee panel export` to write them "
            "into your file (importing it again as it is would replace them with other new ids)"
        )
    # The shell has no Discord connection: say which posted messages are now out of date.
    for panel in file.panels:
        if panel.message_id is not None and before.get(panel.panel_id) != panel:
            _note(
                f"panel {panel.panel_id} is posted in channel {panel.channel_id}: that message "
                "shows the panel as it was until the panel is posted again"
            )
    for panel in removed:
        if panel.message_id is not None:
            _note(
                f"removed panel {panel.panel_id} was posted in channel {panel.channel_id}: "
                "delete that message in Discord, its buttons no longer open tickets"
            )


def _command(
    group: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help_text: str,
    action: AdminAction,
    *,
    writes: bool,
    user: bool = False,
    prepare: AdminPrepare | None = None,
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
    parser.set_defaults(admin_action=action, admin_writes=writes, admin_prepare=prepare)
    return parser


def add_admin_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `apikey`, `blacklist` and `panel` on the top-level parser's subcommands."""
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
        "--reason",
        type=reason,
        metavar="TEXT",
        help=f"why, for the staff (≤{BLACKLIST_REASON_MAX} chars)",
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

    panel = commands.add_parser("panel", help="export or import a server's panels as a TOML file")
    files = panel.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = _command(
        files,
        "export",
        "write the server's panels, buttons and questions as TOML, IDs included",
        _panel_export,
        writes=False,
    )
    export.add_argument(
        "--output", type=Path, metavar="FILE", help="write to FILE (default: standard output)"
    )
    imported = _command(
        files,
        "import",
        "make the server's panels exactly those in FILE: panels not in the file are DELETED. "
        "The whole file is checked first and written in one transaction; on any error nothing "
        "changes. Posted panel messages are not edited.",
        _panel_import,
        writes=True,
        prepare=_read_panel_file,
    )
    imported.add_argument(
        "file", type=Path, metavar="FILE", help="a panel file (see panels.example.toml)"
    )
    add_webhook_commands(commands, _command)


def _database_path(args: argparse.Namespace) -> Path | str:
    """`--database`, else the config's database (its url, else its path); no token needed."""
    if args.database is not None:
        path: Path = args.database
        return path
    from bot.config import load_config  # noqa: PLC0415 - imports hikari

    return load_config(args.config, require_token=False).database.target


def _too_large(error: BaseException) -> bool:
    """An ID above 2**63-1: SQLite's OverflowError, or asyncpg's refusal to encode it."""
    return isinstance(error, OverflowError) or isinstance(error.__cause__, OverflowError)


async def run_admin(args: argparse.Namespace) -> None:
    """Open the database, run the chosen command, close it; errors become one-line exits."""
    from bot.store.database import Database, DatabaseError, DatabaseFailure  # noqa: PLC0415

    prepare: AdminPrepare | None = args.admin_prepare
    if prepare is not None:
        prepare(args)
    path = _database_path(args)
    action: AdminAction = args.admin_action
    created = isinstance(path, Path) and not path.exists()
    if created and not args.admin_writes:
        # Creating an empty database just to report that it is empty would hide a wrong path.
        raise DatabaseError(
            f"{path} does not exist (check database.path or --database; "
            "a relative path is taken from the current directory)"
        )
    db = await Database.open(path)
    where = getattr(db, "where", path)  # a PostgreSQL URL without its password
    if created and isinstance(path, Path):
        _note(f"created a new database at {path.resolve()}")
    try:
        await action(db, args)
    except (OverflowError, *DatabaseFailure) as error:  # e.g. still locked after the timeout
        if not _too_large(error):
            raise DatabaseError(f"{where}: {error}") from error
        # A Discord ID may be up to 2**64-1, SQLite's and PostgreSQL's integers stop at
        # 2**63-1: no real ID is that large before Discord's clock gets there (about 2084), so
        # this is a typo.
        raise DatabaseError(
            f"{where}: cannot store a Discord ID above {2**63 - 1} (the database's largest integer)"
        ) from None
    finally:
        await db.close()
