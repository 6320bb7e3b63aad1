"""Shared fixtures: a seeded emulator, the real bot connected to it, and strict failure collection.

Every test that runs the bot fails on an unhandled loop exception or a hikari `ExceptionEvent`, and
every test that runs the emulator fails if the emulator itself broke on a request.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import os
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import hikari
import pytest
import pytest_asyncio

from bot.app import Rimpllee
from bot.config import Config
from bot.core.limits import Clock
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import SandboxWorld, sandbox_config, seed, seed_database
from bot.store import Database
from tests import postgres
from tests.browser import INSTALL, Sandbox, chromium, running_sandbox
from tests.openapi_check import Recorder, problems

# `rimpllee`, through tests/engine_main.py: on the PostgreSQL run it opens what the test does.
CLI = [sys.executable, str(Path(__file__).with_name("engine_main.py"))]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "sqlite_only(reason): the test is about SQLite itself (its file, pragmas, query plans); "
        "it does not run on PostgreSQL",
    )
    config.addinivalue_line(
        "markers", "engines_inside(reason): the test opens the engines it compares itself: once"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test runs on both engines, except those marked sqlite_only (with their reason)."""
    if "store_engine" in metafunc.fixturenames:
        only = metafunc.definition.get_closest_marker(
            "sqlite_only"
        ) or metafunc.definition.get_closest_marker("engines_inside")
        if only is not None:
            assert only.kwargs.get("reason"), f"{only.name} needs a reason="
        # A database is opened through a path under tmp_path (the app fixture and every bot
        # or `rimpllee` process a test starts get theirs there): a test without one has no
        # database to run on PostgreSQL, so it runs once.
        no_database = not {"tmp_path", "app"} & set(metafunc.fixturenames)
        engines = ["sqlite"] if only or no_database else ["sqlite", "postgres"]
        metafunc.parametrize("store_engine", engines, indirect=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[postgres.PostgresServer]:
    """One PostgreSQL server for the session, with a migrated template database."""
    reason = postgres.missing_reason()
    if reason is not None:
        pytest.skip(reason)
    with postgres.postgres_server() as server:
        asyncio.run(_create_template(server))
        yield server


async def _admin(server: postgres.PostgresServer, *statements: str) -> None:
    await postgres.admin(server.url("postgres"), *statements)


async def _create_template(server: postgres.PostgresServer) -> None:
    await _admin(server, f"CREATE DATABASE {postgres.TEMPLATE}")
    db = await Database.open(server.url(postgres.TEMPLATE))
    await db.close()


_TEST_NUMBERS = itertools.count(1)


@pytest.fixture(autouse=True)
def store_engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The engine this run of the test uses: SQLite files as written, or PostgreSQL underneath
    every path the test (or a `rimpllee` process it starts) opens (tests/postgres.py)."""
    engine = getattr(request, "param", "sqlite")
    if engine == "sqlite":
        yield engine
        return
    server: postgres.PostgresServer = request.getfixturevalue("pg_server")
    files = postgres.PostgresFiles(server.url("{}"), f"t{os.getpid()}_{next(_TEST_NUMBERS)}_")
    files.install(monkeypatch)
    try:
        yield engine
    finally:
        monkeypatch.undo()
        asyncio.run(files.drop_all())


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say plainly which tests did not run (browser, PostgreSQL), and the command that fixes it."""
    skipped_pg = [
        r
        for r in terminalreporter.stats.get("skipped", [])
        if postgres.SKIP_PREFIX in str(r.longrepr)
    ]
    if skipped_pg:
        modules = sorted({r.nodeid.split("::")[0].rsplit("/", 1)[-1] for r in skipped_pg})
        terminalreporter.write_line(
            f"SKIPPED {len(skipped_pg)} test(s) on PostgreSQL (every [postgres] case, in "
            f"{', '.join(modules)}): no PostgreSQL server binaries. Install them (as root) "
            f"with: {postgres.INSTALL}",
            yellow=True,
        )
    skipped = [
        r for r in terminalreporter.stats.get("skipped", []) if "browser test:" in str(r.longrepr)
    ]
    if skipped:
        names = ", ".join(r.nodeid.split("::")[-1] for r in skipped)
        terminalreporter.write_line(
            f"SKIPPED {len(skipped)} browser test(s) ({names}): Chromium is not installed. "
            f"Install it (as root) with: {INSTALL}",
            yellow=True,
        )


async def run_cli(
    *args: str, cwd: Path, timeout: float = 30, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """`rimpllee ARGS` as a real process, without a token in its environment (unless in `env`)."""
    env = {k: v for k, v in os.environ.items() if k != "RIMPLLEE_TOKEN"} | (env or {})
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    assert "Traceback" not in err.decode()
    return proc.returncode, out.decode(), err.decode()


# A token shaped like Discord's (base64 of a snowflake, then two parts) for config-only tests.
FAKE_TOKEN = base64.b64encode(b"123456789012345678").decode() + ".Gx.yy"


class LoopErrors:
    """Exceptions the loop's handler or hikari's ExceptionEvent saw; must stay empty."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    def handler(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        self.items.append(context)

    async def on_exception(self, event: hikari.ExceptionEvent[Any]) -> None:
        self.items.append(event.exception)


@pytest_asyncio.fixture
async def loop_errors() -> AsyncIterator[LoopErrors]:
    errors = LoopErrors()
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(errors.handler)
    yield errors
    loop.set_exception_handler(previous)
    assert errors.items == [], f"unhandled errors during the test: {errors.items}"


@pytest_asyncio.fixture
async def emulator(loop_errors: LoopErrors) -> AsyncIterator[DiscordEmulator]:
    emu = DiscordEmulator()
    await emu.start()
    yield emu
    await emu.stop()
    assert emu.internal_errors == [], "the emulator failed on a request"


@pytest.fixture
def world(emulator: DiscordEmulator) -> SandboxWorld:
    world = seed(emulator.state, member_count=10)
    emulator.owner_id = world.owner.id
    return world


async def wait_until_cached(bot: hikari.GatewayBot, guild_id: int) -> None:
    async with asyncio.timeout(5):
        while bot.cache.get_guild(guild_id) is None:
            await asyncio.sleep(0.01)


async def wait_until_members_known(rimpllee: Rimpllee, guild_id: int) -> None:
    """Until the server's member chunks have all arrived (the index answers alone from then)."""
    async with asyncio.timeout(5):
        while not rimpllee.discord.members.is_known(guild_id):
            await asyncio.sleep(0.01)


class FakeClock:
    """Injected time: tests move it instead of sleeping through a window."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@contextlib.asynccontextmanager
async def running(
    emulator: DiscordEmulator,
    database: Path,
    loop_errors: LoopErrors,
    *,
    clock: Clock = time.time,
    config: Config | None = None,
) -> AsyncIterator[Rimpllee]:
    """A real Rimpllee on `database`, connected to the emulator, its cache warm and every
    member chunk received (unless the test holds them back); stopped after.

    Its hikari ExceptionEvents fail the test, like the loop's unhandled exceptions, and so does
    any HTTP answer it gave that the OpenAPI document does not describe.
    """
    rimpllee = Rimpllee(
        config or sandbox_config(emulator, http_port=0, database=database),
        max_retries=0,
        clock=clock,
    )
    rimpllee.discord.bot.subscribe(hikari.ExceptionEvent, loop_errors.on_exception)
    recorder = Recorder()
    rimpllee.http_middlewares.append(recorder.middleware())
    await rimpllee.start()
    try:
        for guild_id in emulator.state.guilds:
            await wait_until_cached(rimpllee.discord.bot, guild_id)
            if emulator.gateway.chunks_flowing.is_set() and members_intent(rimpllee):
                await wait_until_members_known(rimpllee, guild_id)
        yield rimpllee
    finally:
        await rimpllee.stop()
    # Every answer the test received is one the OpenAPI document describes.
    mismatches = problems(recorder.exchanges)
    assert not mismatches, "responses the OpenAPI document does not describe:\n" + "\n".join(
        mismatches
    )


def members_intent(rimpllee: Rimpllee) -> bool:
    return hikari.Intents.GUILD_MEMBERS in rimpllee.config.discord.intents


@pytest_asyncio.fixture
async def app(
    emulator: DiscordEmulator,
    world: SandboxWorld,
    loop_errors: LoopErrors,
    tmp_path: Path,
    clock: FakeClock,
) -> AsyncIterator[Rimpllee]:
    """The real Rimpllee, connected to the emulator, with a warm cache and the demo data."""
    database = tmp_path / "rimpllee.db"
    await seed_database(database, world)
    async with running(emulator, database, loop_errors, clock=clock) as rimpllee:
        yield rimpllee


@pytest_asyncio.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    """A real `rimpllee sandbox` process, for the browser tests."""
    async with running_sandbox(tmp_path) as box:
        yield box


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Any]:
    """A headless Chromium (the browser tests skip without one, see tests/browser.py)."""
    async with chromium() as launched:
        yield launched


@pytest_asyncio.fixture
async def spawned() -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """Processes a test starts: any still running at its end is killed and waited for."""
    procs: list[asyncio.subprocess.Process] = []
    yield procs
    for proc in procs:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
