"""Three real bot processes on three shard ranges, one emulated Discord, one shared database.

Each process is `rimpllee run` (the real entry point) running one shard of three. A thousand API
opens, all at once, spread over the three processes and over six servers (two on each shard):
every process opens tickets for servers whose gateway another process holds. Then the limits must
hold as if one process had served them all: exactly 30 opened per server (the minute's budget),
no member over the cooldown or the per-button and per-server maximum, no ticket number or channel
twice, every ticket open with its one channel and its one welcome message, no channel without a
ticket and nothing left 'opening' or queued for cleanup. Then one process is killed (SIGKILL) and
the other two go on serving the API, also for the killed process's servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import itertools
import os
import random
import resource
import signal
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.core.ports import CachedChannel
from bot.core.tickets import ticket_marker
from bot.discord.render import CLOSE_PREFIX
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import SandboxWorld, seed
from tests import postgres
from tests.conftest import CLI
from tests.helpers import free_port, seed_server, server_key, wait_healthy

pytestmark = pytest.mark.asyncio

SHARDS = 3
BUSY_PER_SHARD = 2  # servers the burst opens tickets on
MEMBERS = 60  # per server: more than the 30 a minute allows, so the server's budget binds
OPENS = 1000
PER_MINUTE = 30  # the default limits: 30 a minute per server, 20 s cooldown, 3 open per member
COOLDOWN_S = 20.0
USER_MAX_OPEN = 3
HELP_MAX_OPEN = 1  # the demo panel's help button (the report button allows 3)


@dataclass
class Server:
    world: SandboxWorld
    shard: int
    panel_id: str
    key: str
    n: int

    @property
    def guild_id(self) -> int:
        return self.world.guild.id

    def button(self, kind: str) -> str:
        return f"btn_s{self.n}{kind}"


@dataclass
class BotProcess:
    shard: int
    port: int
    proc: asyncio.subprocess.Process
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def database_section(store_engine: str, database: Path) -> str:
    """The processes' `[database]`: the shared SQLite file, or (on the PostgreSQL run) the
    PostgreSQL database the test's own opens of `database` reach, named by `database.url` as an
    admin would write it."""
    if store_engine == "sqlite":
        return f'[database]\npath = "{database}"\n'
    files = postgres.PostgresFiles.from_environment()
    assert files is not None
    return f'[database]\nurl = "{await files.url(database, None)}"\n'


def config_text(emulator: DiscordEmulator, shard: int, port: int, database: str) -> str:
    return (
        f'[discord]\ntoken = "{emulator.token}"\nrest_url = "{emulator.rest_url}"\n'
        f'cdn_url = "{emulator.cdn_url}"\nshard_count = {SHARDS}\nshard_ids = [{shard}]\n'
        f"[http]\nport = {port}\n{database}"
    )


def seed_servers(emulator: DiscordEmulator) -> list[Server]:
    """Two busy servers and one quiet one on each shard (the quiet ones are for after the kill:
    the busy ones have spent their minute's budget)."""
    servers = []
    for n in range(SHARDS * (BUSY_PER_SHARD + 1)):
        shard = n % SHARDS
        world = seed(emulator.state, member_count=MEMBERS, name=f"server{n}", shard=(shard, SHARDS))
        servers.append(Server(world, shard, f"pnl_s{n}", server_key(n), n))
    return servers


async def wait_ready(http: aiohttp.ClientSession, bot: BotProcess) -> None:
    """Until the process's start-up is done (its API serves) and its servers' members are in."""
    async with asyncio.timeout(60):
        while True:
            if bot.proc.returncode is not None:
                raise AssertionError(f"shard {bot.shard} exited:\n{bot.log.read_text()}")
            with contextlib.suppress(aiohttp.ClientConnectionError):
                async with http.get(bot.url + "/healthz") as resp:
                    body = await resp.json()
                    members = body["members"]
                    if body["ready"] and members["known"] == members["servers"] == 3:
                        return
            await asyncio.sleep(0.1)


def plan(servers: list[Server], seed_value: int = 15) -> Iterator[tuple[int, Server, int, str]]:
    """(process index, server, member, button) for each open: every process gets opens for every
    busy server, a quarter of them on the help button (at most one open each)."""
    rng = random.Random(seed_value)
    busy = [s for s in servers if s.n < SHARDS * BUSY_PER_SHARD]
    for i in range(OPENS):
        server = busy[i % len(busy)]
        member = rng.choice(server.world.members)
        yield i % SHARDS, server, member.id, "help" if i % 4 == 0 else "report"


async def open_one(
    http: aiohttp.ClientSession, bot: BotProcess, server: Server, user_id: int, kind: str
) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {
        "userId": str(user_id),
        "panelId": server.panel_id,
        "buttonId": server.button(kind),
    }
    if kind == "help":
        body["answers"] = [{"label": "What do you need help with?", "value": "three processes"}]
    headers = {"Authorization": f"Bearer {server.key}"}
    async with http.post(bot.url + "/api/v1/tickets", json=body, headers=headers) as resp:
        return resp.status, await resp.json()


async def tickets_of(
    http: aiohttp.ClientSession, bot: BotProcess, server: Server
) -> list[dict[str, Any]]:
    """Every ticket of every member of the server, through the API (whatever the engine)."""
    found = []
    headers = {"Authorization": f"Bearer {server.key}"}
    for member in server.world.members:
        url = f"{bot.url}/api/v1/tickets?userId={member.id}&limit=100"
        async with http.get(url, headers=headers) as resp:
            body = await resp.json()
            assert resp.status == 200, body
            assert body["nextCursor"] is None
            found += body["tickets"]
    return found


def seconds(iso: str) -> float:
    return datetime.datetime.fromisoformat(iso).timestamp()


def check_limits(server: Server, tickets: list[dict[str, Any]]) -> None:
    opened = sorted(seconds(t["openedAt"]) for t in tickets)
    assert len(opened) == PER_MINUTE, f"server {server.n}: {len(opened)} opened"
    # Within one minute, so the minute's budget is what bound them (and 30 is all it allows).
    assert opened[-1] - opened[0] < 60.0
    assert [t["status"] for t in tickets] == ["open"] * PER_MINUTE  # none left 'opening'
    numbers = [t["number"] for t in tickets]
    assert len(set(numbers)) == len(numbers)
    channels = [t["channelId"] for t in tickets]
    assert None not in channels
    assert len(set(channels)) == len(channels)
    by_user: dict[str, list[dict[str, Any]]] = {}
    for ticket in tickets:
        by_user.setdefault(ticket["userId"], []).append(ticket)
    for user, theirs in by_user.items():
        assert len(theirs) <= USER_MAX_OPEN, user
        helps = [t for t in theirs if t["buttonId"] == server.button("help")]
        assert len(helps) <= HELP_MAX_OPEN, user
        times = sorted(seconds(t["openedAt"]) for t in theirs)
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(gap >= COOLDOWN_S - 0.01 for gap in gaps), (user, gaps)


def check_discord(emulator: DiscordEmulator, server: Server, tickets: list[dict[str, Any]]) -> None:
    """Every ticket's channel exists with exactly one welcome (its Close button); no other
    channel made for a ticket is left on the server."""
    state = emulator.state
    guild = state.guilds[server.guild_id]
    wanted = {int(t["channelId"]) for t in tickets}
    made = {
        c.id
        for c in guild.channels.values()
        if c.type == 0
        and ticket_marker(
            CachedChannel(
                c.id,
                c.topic,
                frozenset(o.id for o in c.overwrites.values() if o.type == 1),
            )
        )
        is not None
    }
    assert made == wanted, f"server {server.n}: orphans {made - wanted}, missing {wanted - made}"
    for channel_id in wanted:
        welcomes = [
            m
            for m in state.messages.get(channel_id, {}).values()
            if m.author.id == state.bot.id
            and any(
                c.get("custom_id", "").startswith(CLOSE_PREFIX)
                for row in m.components
                for c in row["components"]
            )
        ]
        assert len(welcomes) == 1, f"channel {channel_id}: {len(welcomes)} welcome messages"


async def test_three_processes_share_the_limits_and_survive_a_kill(
    emulator: DiscordEmulator,
    tmp_path: Path,
    store_engine: str,
    spawned: list[asyncio.subprocess.Process],
) -> None:
    emulator.gateway.recommended_shards = SHARDS
    emulator.gateway.max_concurrency = SHARDS
    servers = seed_servers(emulator)
    database = await database_section(store_engine, tmp_path / "shared.db")
    for server in servers:
        await seed_server(tmp_path / "shared.db", server.world, server.n, server.key)
    env = {k: v for k, v in os.environ.items() if k != "RIMPLLEE_TOKEN"}
    bots = []
    for shard in range(SHARDS):
        port = free_port()
        config = tmp_path / f"shard{shard}.toml"
        config.write_text(config_text(emulator, shard, port, database))
        log = tmp_path / f"shard{shard}.log"
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                *CLI, "run", "--config", str(config), cwd=tmp_path, env=env, stderr=out
            )
        spawned.append(proc)
        bots.append(BotProcess(shard, port, proc, log))

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPENS + 500  # every open in flight at once, and the emulator's own sockets
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    connector = aiohttp.TCPConnector(limit=OPENS)
    async with aiohttp.ClientSession(connector=connector) as http:
        for bot in bots:
            await wait_healthy(bot.url + "/healthz", bot.proc)
            await wait_ready(http, bot)
        assert sorted(s.shard for s in emulator.gateway.sessions) == [(n, SHARDS) for n in range(3)]

        started = asyncio.get_running_loop().time()
        answers = await asyncio.gather(
            *(open_one(http, bots[p], s, u, k) for p, s, u, k in plan(servers))
        )
        burst_s = asyncio.get_running_loop().time() - started
        statuses = Counter(status for status, _ in answers)
        assert set(statuses) <= {200, 409, 429}, statuses
        busy = [s for s in servers if s.n < SHARDS * BUSY_PER_SHARD]
        # A member's second request for the same button while the first is opening gets the
        # first one's answer (a double click opens one ticket): count tickets, not answers.
        opened = {body["ticket"]["channelId"] for status, body in answers if status == 200}
        assert len(opened) == PER_MINUTE * len(busy), (statuses, len(opened), burst_s)

        for server in busy:
            tickets = await tickets_of(http, bots[server.n % SHARDS], server)
            check_limits(server, tickets)
            check_discord(emulator, server, tickets)

        # One process dies without a word; the other two serve every server, the dead one's
        # included (its quiet server has its whole budget left).
        dead = bots[1]
        dead.proc.send_signal(signal.SIGKILL)
        await dead.proc.wait()
        with pytest.raises(aiohttp.ClientConnectionError):
            async with http.get(dead.url + "/healthz"):
                pass
        quiet = [s for s in servers if s.n >= SHARDS * BUSY_PER_SHARD]
        for bot in (bots[0], bots[2]):
            for server in quiet:
                member = server.world.members[bot.shard]
                status, body = await open_one(http, bot, server, member.id, "report")
                assert status == 200, body
                channel = emulator.state.channels[int(body["ticket"]["channelId"])]
                assert channel.guild_id == server.guild_id
            async with http.get(bot.url + "/healthz") as resp:
                assert resp.status == 200
    for bot in (bots[0], bots[2]):
        bot.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(bot.proc.wait(), 30) == 0
        assert "Traceback" not in bot.log.read_text(), bot.log.read_text()
