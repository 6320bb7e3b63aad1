"""`rimpllee` on the command line: run the bot, run it against the sandbox, or admin it."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from bot.admin_cli import add_admin_commands, run_admin, snowflake
from bot.core.errors import AdminError
from bot.errors import StartupError
from bot.process import shutdown_signals, start_or_stop

_LOG = logging.getLogger("rimpllee")


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # hikari's notice about running without -O is noise for a self-hosted bot.
    logging.getLogger("hikari.ux").setLevel(logging.ERROR)


async def _run(config_path: Path) -> None:
    from bot.app import Rimpllee  # noqa: PLC0415 - keeps `rimpllee --help` fast
    from bot.config import load_config  # noqa: PLC0415

    config = load_config(config_path)
    setup_logging(config.log.level)
    app = Rimpllee(config)
    with shutdown_signals() as stop:
        if await start_or_stop(app.start(), stop):
            try:
                await stop.wait()
                _LOG.info("shutting down")
            finally:
                await app.stop()


def invite_url(application_id: int) -> str:
    """The link that adds the bot to a server with the permissions it works with (README)."""
    from bot.core.ports import Perm  # noqa: PLC0415
    from bot.core.tickets import BOT_PERMS  # noqa: PLC0415

    # What the bot grants itself in every ticket channel, plus Manage Roles to change a ticket
    # channel's permission overwrites later (claim, add/remove, close, reopen).
    permissions = BOT_PERMS | Perm.MANAGE_ROLES
    return (
        f"https://discord.com/oauth2/authorize?client_id={application_id}"
        f"&scope=bot+applications.commands&permissions={int(permissions)}"
    )


def _application_id(args: argparse.Namespace) -> int:
    """--application-id, else the ID a bot token names: RIMPLLEE_TOKEN, else the config's."""
    import os  # noqa: PLC0415

    from bot.config import TOKEN_ENV_VAR, load_config, token_user_id  # noqa: PLC0415

    if args.application_id is not None:
        return int(args.application_id)
    token = os.environ.get(TOKEN_ENV_VAR, "").strip()
    if not token and args.config.exists():
        token = load_config(args.config, require_token=False).discord.token
    if not token:
        raise StartupError(
            f"no application ID: pass --application-id, or set discord.token in {args.config} "
            f"or the {TOKEN_ENV_VAR} environment variable"
        )
    application_id = token_user_id(token)
    if application_id is None:
        raise StartupError("the bot token does not name the bot; pass --application-id")
    return application_id


async def _sandbox(state_file: Path, port: int, discord_port: int, data_dir: Path) -> None:
    from bot.sandbox.runner import run_sandbox  # noqa: PLC0415

    setup_logging("INFO")
    await run_sandbox(
        state_file=state_file, http_port=port, discord_port=discord_port, data_dir=data_dir
    )


async def _emulator(state_file: Path, port: int, http_port: int, data_dir: Path) -> None:
    from bot.sandbox.runner import run_emulator  # noqa: PLC0415

    setup_logging("INFO")
    await run_emulator(state_file=state_file, port=port, http_port=http_port, data_dir=data_dir)


def _add_emulator_command(commands: Any) -> None:
    emulator = commands.add_parser(
        "emulator",
        help="run only the emulated Discord (seeded like the sandbox) for `rimpllee run`",
    )
    emulator.add_argument(
        "--state-file",
        type=Path,
        default=Path("data/emulator.json"),
        help="where to write its URLs, token and IDs (JSON)",
    )
    emulator.add_argument("--port", type=int, default=8081, help="its port (0: any free)")
    emulator.add_argument(
        "--http-port", type=int, default=8080, help="the HTTP API port written in the bot's config"
    )
    emulator.add_argument(
        "--data-dir",
        type=Path,
        default=Path("data/emulator"),
        help="where the bot's config.toml and seeded database are written",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rimpllee", description="Self-hosted Discord ticket bot with a public REST API."
    )
    parser.add_argument("--version", action="version", version=f"rimpllee {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the bot")
    run.add_argument("--config", type=Path, default=Path("config.toml"), help="config file")
    sandbox = commands.add_parser(
        "sandbox", help="run the bot against an emulated Discord on this machine"
    )
    sandbox.add_argument(
        "--state-file",
        type=Path,
        default=Path("data/sandbox.json"),
        help="where to write the sandbox's URLs and IDs (JSON)",
    )
    sandbox.add_argument("--port", type=int, default=8080, help="HTTP API port (0: any free)")
    sandbox.add_argument(
        "--discord-port", type=int, default=8081, help="emulated Discord's port (0: any free)"
    )
    sandbox.add_argument(
        "--data-dir", type=Path, default=Path("data"), help="where the sandbox database lives"
    )
    invite = commands.add_parser(
        "invite-url",
        help="print the link that adds the bot to a server with the permissions it needs",
    )
    invite.add_argument(
        "--config",
        type=Path,
        default=Path("config.toml"),
        help="config file whose bot token names the application (RIMPLLEE_TOKEN wins)",
    )
    invite.add_argument(
        "--application-id",
        type=snowflake,
        metavar="ID",
        help="the application ID (Developer Portal → General Information) instead of the token's",
    )
    _add_emulator_command(commands)
    backup = commands.add_parser(
        "backup",
        help="copy the database and transcripts into a new folder (safe while the bot runs)",
    )
    backup.add_argument("path", type=Path, metavar="PATH", help="a new (or empty) folder")
    backup.add_argument(
        "--config", type=Path, default=Path("config.toml"), help="read for database.path only"
    )
    backup.add_argument("--database", type=Path, help="database file; the config is not read")
    health = commands.add_parser(
        "health",
        help="exit 0 if the bot of this config is up and ready (its /healthz), else 1",
    )
    health.add_argument("--config", type=Path, default=Path("config.toml"), help="config file")
    health.add_argument(
        "--wait", type=float, default=0.0, metavar="SECONDS", help="keep asking until ready"
    )
    migrate = commands.add_parser(
        "migrate-sqlite-to-postgres",
        help="copy a SQLite database into an empty PostgreSQL database (stop the bot first)",
    )
    migrate.add_argument("sqlite_file", type=Path, metavar="SQLITE_FILE", help="the bot's file")
    migrate.add_argument(
        "postgres_url", metavar="POSTGRES_URL", help="postgresql://user:password@host/database"
    )
    add_admin_commands(commands)
    return parser


def _version() -> str:
    from importlib import metadata  # noqa: PLC0415

    try:
        return metadata.version("rimpllee")
    except metadata.PackageNotFoundError:  # run from a checkout without `pip install`
        return "unknown"


async def _backup(path: Path, config: Path, database: Path | None) -> None:
    from bot.config import load_config  # noqa: PLC0415
    from bot.store.backup import backup  # noqa: PLC0415

    if database is None:
        settings = load_config(config, require_token=False).database
        if settings.url:
            raise StartupError(
                f"{config} uses PostgreSQL (database.url) and rimpllee backup copies only a "
                f"SQLite file, so nothing was written to {path}. Back PostgreSQL up with its own "
                f'tool instead: pg_dump --format=directory --file={path} "<database.url>"'
            )
    source = database or load_config(config, require_token=False).database.path
    done = await asyncio.to_thread(backup, source, path)
    print(
        f"backed up {source} ({done.tickets} tickets) and {done.transcripts} transcript(s) "
        f"to {path}"
    )


async def _migrate_to_postgres(sqlite_file: Path, url: str) -> None:
    from bot.store.transfer import copy_sqlite_to_postgres  # noqa: PLC0415

    if not url.startswith(("postgresql://", "postgres://")):
        raise StartupError(f"{url!r} is not a postgresql:// URL")
    from bot.store.database import DatabaseFailure  # noqa: PLC0415

    try:
        copied = await copy_sqlite_to_postgres(sqlite_file, url)
    except DatabaseFailure as error:
        raise StartupError(f"copying {sqlite_file} failed, nothing was copied: {error}") from error
    for item in copied:
        print(f"{item.table}: {item.rows} row(s)")
    total = sum(item.rows for item in copied)
    print(
        f"copied {total} row(s) in {len(copied)} tables from {sqlite_file}; the counts match. "
        "Set database.url to this database in config.toml to use it."
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    job: Callable[[], Coroutine[Any, Any, None]]
    if args.command == "invite-url":
        try:
            print(invite_url(_application_id(args)))
        except StartupError as exc:
            print(f"rimpllee: {exc}", file=sys.stderr)
            sys.exit(1)
        return
    if args.command == "health":
        from bot.health_cli import check  # noqa: PLC0415

        try:
            print(check(args.config, args.wait))
        except StartupError as exc:
            print(f"rimpllee: {exc}", file=sys.stderr)
            sys.exit(1)
        return
    if args.command == "run":
        job = lambda: _run(args.config)  # noqa: E731
    elif args.command in ("apikey", "blacklist", "panel", "webhook"):
        job = lambda: run_admin(args)  # noqa: E731
    elif args.command == "emulator":
        job = lambda: _emulator(  # noqa: E731
            args.state_file, args.port, args.http_port, args.data_dir
        )
    elif args.command == "migrate-sqlite-to-postgres":
        job = lambda: _migrate_to_postgres(args.sqlite_file, args.postgres_url)  # noqa: E731
    elif args.command == "backup":
        job = lambda: _backup(args.path, args.config, args.database)  # noqa: E731
    else:
        job = lambda: _sandbox(  # noqa: E731
            args.state_file, args.port, args.discord_port, args.data_dir
        )
    try:
        asyncio.run(job())
    except (StartupError, AdminError) as exc:
        # AdminError: a refused admin command (a key exists, a user is not blacklisted, ...).
        print(f"rimpllee: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
