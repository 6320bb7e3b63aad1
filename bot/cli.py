"""`rimpllee` on the command line: run the bot, run it against the sandbox, or admin it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any

from bot.admin_cli import add_admin_commands, run_admin
from bot.core.errors import AdminError
from bot.errors import StartupError

_LOG = logging.getLogger("rimpllee")


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # hikari's notice about running without -O is noise for a self-hosted bot.
    logging.getLogger("hikari.ux").setLevel(logging.ERROR)


@contextlib.contextmanager
def shutdown_signals() -> Iterator[asyncio.Event]:
    """An event set by the first SIGINT or SIGTERM, caught from before start-up on: a signal
    that arrives while the bot is still starting stops it as soon as it has started."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        yield stop
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


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


async def start_or_stop(starting: Coroutine[Any, Any, None], stop: asyncio.Event) -> bool:
    """Start, unless a signal comes first: then abandon the start (it cleans up after itself)
    and return False. A slow or stuck Discord never makes Ctrl+C wait."""
    start = asyncio.ensure_future(starting)
    signal_seen = asyncio.ensure_future(stop.wait())
    await asyncio.wait({start, signal_seen}, return_when=asyncio.FIRST_COMPLETED)
    signal_seen.cancel()
    if start.done():
        start.result()  # a StartupError surfaces here
        return True
    start.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await start
    _LOG.info("stopped while starting")
    return False


async def _sandbox(state_file: Path, port: int, discord_port: int, data_dir: Path) -> None:
    from bot.sandbox.runner import run_sandbox  # noqa: PLC0415

    setup_logging("INFO")
    await run_sandbox(
        state_file=state_file, http_port=port, discord_port=discord_port, data_dir=data_dir
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rimpllee", description="Self-hosted Discord ticket bot with a public REST API."
    )
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
    add_admin_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    job: Callable[[], Coroutine[Any, Any, None]]
    if args.command == "run":
        job = lambda: _run(args.config)  # noqa: E731
    elif args.command in ("apikey", "blacklist", "panel", "webhook"):
        job = lambda: run_admin(args)  # noqa: E731
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
