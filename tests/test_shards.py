"""Shard-split processes: the config, the emulator's shards, and a process's API serving a server
that another process's gateway holds."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import pathlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import hikari
import pytest

from bot.app import Rimpllee
from bot.config import Config, ConfigError, config_from_mapping, load_config
from bot.core.limits import Clock
from bot.core.ports import ChannelRef, CloseRequest, MemberInfo
from bot.core.shards import Shards, shard_of
from bot.core.tickets import OPEN_BOUND_S
from bot.core.webhooks import Endpoint
from bot.discord.port import RecentMembers
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import sandbox_config, seed
from bot.sandbox.state import Overwrite
from bot.store import Database
from bot.store.automation import SqliteAutomationStore
from bot.store.cleanups import SqliteCleanupStore
from bot.store.tickets import SqliteLifecycleStore, SqliteTicketStore
from bot.store.webhooks import SqliteWebhookStore
from tests.conftest import FAKE_TOKEN, FakeClock, LoopErrors, run_cli, wait_until_cached
from tests.helpers import AUTH, free_port, seed_server, server_key

TOKEN_ENV = {"RIMPLLEE_TOKEN": FAKE_TOKEN}


def load(tmp_path: Path, text: str) -> Shards:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_config(path, TOKEN_ENV).discord.shards


def error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, TOKEN_ENV)
    return str(info.value)


# -- configuration --------------------------------------------------------------------------------


def test_default_is_every_shard(tmp_path: Path) -> None:
    shards = load(tmp_path, "")
    assert shards.every
    assert shards.owns(1 << 22)
    assert shards.owns(5 << 22)


def test_a_share_of_the_shards(tmp_path: Path) -> None:
    shards = load(tmp_path, "[discord]\nshard_count = 4\nshard_ids = [3, 1]\n")
    assert shards == Shards(frozenset({1, 3}), 4)
    assert not shards.every
    assert [shards.owns(n << 22) for n in range(4)] == [False, True, False, True]
    assert shards.describe() == "shard(s) 1, 3 of 4"


def test_every_shard_listed_is_every_shard(tmp_path: Path) -> None:
    assert load(tmp_path, "[discord]\nshard_count = 2\nshard_ids = [0, 1]\n").every


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("[discord]\n\nshard_ids = [0]\n", 3, "needs discord.shard_count"),
        ("[discord]\nshard_count = 2\nshard_ids = [0, 2]\n", 3, "shard 2 is outside"),
        ("[discord]\nshard_count = 3\nshard_ids = [1, 1]\n", 3, "listed twice"),
        ("[discord]\nshard_ids = 1\n", 2, "expected a list of shard IDs"),
        ("[discord]\nshard_ids = [-1]\n", 2, "between 0 and"),
        ("[discord]\nshard_count = -1\n", 2, "between 0 and"),
    ],
)
def test_shard_errors_name_key_and_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    message = error(tmp_path, text)
    key = "shard_count" if "shard_count = -1" in text else "shard_ids"
    assert message.startswith(f"{tmp_path / 'config.toml'}:{line}: discord.{key}: "), message
    assert words in message


# -- the emulator's shards ------------------------------------------------------------------------


def test_guilds_can_be_placed_on_a_shard(emulator: DiscordEmulator) -> None:
    owner = emulator.state.add_user("owner")
    for shard_id in (2, 0, 1, 2):
        guild = emulator.state.add_guild("g", owner, shard=(shard_id, 3))
        assert shard_of(guild.id, 3) == shard_id


async def identify(emulator: DiscordEmulator, shard: object) -> int | None:
    """IDENTIFY with `shard`; the close code the emulator answers with (None: READY came)."""
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(emulator.gateway_url) as ws,
    ):
        await ws.receive_json()  # HELLO
        payload = {"token": emulator.token, "intents": 1, "properties": {}, "shard": shard}
        await ws.send_json({"op": 2, "d": payload})
        message = await ws.receive()
        if message.type == aiohttp.WSMsgType.TEXT:
            assert json.loads(message.data)["t"] == "READY"
            return None
        return ws.close_code


@pytest.mark.asyncio
async def test_identify_checks_the_shard(emulator: DiscordEmulator) -> None:
    assert await identify(emulator, [1, 3]) is None
    assert await identify(emulator, [3, 3]) == 4010  # Invalid shard
    assert await identify(emulator, [0, 0]) == 4010
    assert await identify(emulator, "0") == 4010
    owner = emulator.state.add_user("owner")
    for _ in range(2501):
        emulator.state.add_guild("g", owner)
    assert await identify(emulator, [0, 1]) == 4011  # Sharding required
    assert await identify(emulator, [0, 2]) is None
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bot {emulator.token}"}
        async with http.get(emulator.rest_url + "/gateway/bot", headers=headers) as resp:
            assert (await resp.json())["shards"] == 2  # as many as Discord requires


# -- two processes' worth of bots on one database -------------------------------------------------

KEYS = (server_key(0), server_key(1))


@contextlib.asynccontextmanager
async def shard_bot(
    emulator: DiscordEmulator,
    database: Path,
    loop_errors: LoopErrors,
    shard_id: int,
    count: int,
    clock: Clock = time.time,
) -> AsyncIterator[Rimpllee]:
    base = sandbox_config(emulator, http_port=0, database=database)
    config = config_from_mapping(
        {
            "discord": {
                "token": emulator.token,
                "rest_url": emulator.rest_url,
                "shard_ids": [shard_id],
                "shard_count": count,
            },
            "http": {"host": "127.0.0.1", "port": 0},
            "database": {"path": str(database)},
        },
        source=base.source,
        env={},
    )
    bot = Rimpllee(config, max_retries=0, clock=clock)
    bot.discord.bot.subscribe(hikari.ExceptionEvent, loop_errors.on_exception)
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()


@pytest.mark.asyncio
async def test_each_process_holds_its_shards_and_serves_every_server(
    emulator: DiscordEmulator, loop_errors: LoopErrors, tmp_path: Path
) -> None:
    emulator.gateway.recommended_shards = 2
    emulator.gateway.max_concurrency = 2
    worlds = [seed(emulator.state, member_count=6, name=f"s{n}", shard=(n, 2)) for n in (0, 1)]
    database = tmp_path / "shared.db"
    panels = [await seed_server(database, w, n, KEYS[n]) for n, w in enumerate(worlds)]
    async with (
        shard_bot(emulator, database, loop_errors, 0, 2) as zero,
        shard_bot(emulator, database, loop_errors, 1, 2) as one,
    ):
        for bot, world in ((zero, worlds[0]), (one, worlds[1])):
            await wait_until_cached(bot.discord.bot, world.guild.id)
        assert sorted(s.shard for s in emulator.gateway.sessions) == [(0, 2), (1, 2)]
        # Each gateway (so each cache and member index) holds its own shard's server only.
        assert zero.discord.guild_ids() == [worlds[0].guild.id]
        assert one.discord.guild_ids() == [worlds[1].guild.id]
        assert worlds[1].guild.id not in zero.discord.members.servers

        # Process 0's API opens a ticket on server 1 (on process 1's shard).
        lookups = len(emulator.calls("GET", "/guilds/{guild_id}/members/{user_id}"))
        member = worlds[1].members[0]
        headers = {"Authorization": f"Bearer {KEYS[1]}"}
        body = {"userId": str(member.id), "panelId": panels[1], "buttonId": "btn_s1report"}
        async with aiohttp.ClientSession() as http:
            url = zero.http_url + "/api/v1/tickets"
            async with http.post(url, json=body, headers=headers) as resp:
                opened = await resp.json()
                assert resp.status == 200, opened
            channel = emulator.state.channels[int(opened["ticket"]["channelId"])]
            assert channel.guild_id == worlds[1].guild.id
            # Membership came from one REST lookup; a refusal right after reuses its answer.
            after = emulator.calls("GET", "/guilds/{guild_id}/members/{user_id}")
            assert len(after) == lookups + 1
            async with http.post(url, json=body, headers=headers) as resp:
                assert resp.status == 429, await resp.json()  # the member's cooldown
            assert len(emulator.calls("GET", "/guilds/{guild_id}/members/{user_id}")) == (
                lookups + 1
            )
            # A user who is not on the server is told so, from Discord's 10007.
            stranger = emulator.state.add_user("stranger")
            body["userId"] = str(stranger.id)
            async with http.post(url, json=body, headers=headers) as resp:
                refused = await resp.json()
                assert resp.status == 400, refused
                assert refused["error"]["code"] == "user_not_member"

            # Process 0 closes it too: the transcript names the server and the channel as
            # process 1 would, from REST (process 0's cache doesn't hold them).
            close = f"{zero.http_url}/api/v1/tickets/{opened['ticket']['channelId']}/close"
            async with http.post(close, headers=headers) as resp:
                assert resp.status == 200, await resp.json()
            assert zero.db is not None
            done = await SqliteLifecycleStore(zero.db).by_channel(channel.id)
            assert done is not None
            assert done.transcript_path is not None
            html = Path(done.transcript_path).read_text("utf-8")
            assert "s1" in html
            assert channel.name in html
            assert member.username in html

            # A full category on server 1: process 0 reads the channels over REST and puts the
            # next ticket in a new overflow category, made like the full one.
            full = emulator.state.channels[worlds[1].category_id]
            support = worlds[1].support_role_id
            full.overwrites[support] = Overwrite(support, 0, allow=1 << 10, deny=0)
            for i in range(50):
                emulator.state.add_channel(worlds[1].guild, f"old-{i}", parent_id=full.id)
            body["userId"] = str(worlds[1].members[1].id)
            async with http.post(url, json=body, headers=headers) as resp:
                overflowed = await resp.json()
                assert resp.status == 200, overflowed
            placed = emulator.state.channels[int(overflowed["ticket"]["channelId"])]
            assert placed.parent_id not in (None, full.id)
            made = emulator.state.channels[placed.parent_id]
            assert made.name == "Tickets 2"
            assert made.overwrites[support].allow == 1 << 10

            # The dashboard's pages of server 1 are process 1's: process 0 says so.
            page = f"/servers/{worlds[1].guild.id}/tickets"
            async with http.get(zero.http_url + page, allow_redirects=False) as resp:
                assert resp.status == 421
                assert "gateway shard 1 of 2" in await resp.text()
            async with http.get(one.http_url + page, allow_redirects=False) as resp:
                assert resp.status == 303  # its own: log in first


@pytest.mark.asyncio
async def test_background_work_is_only_for_own_shards(tmp_path: Path) -> None:
    """The cleanup outbox hands a process only its own shards' channels (so two processes never
    delete the same one), and says when the next of those is due."""
    db = await Database.open(tmp_path / "outbox.db")
    try:
        store = SqliteCleanupStore(db)
        guilds = [(n << 22) | 7 for n in range(3)]
        for at, guild_id in enumerate(guilds):
            await store.add(ChannelRef(guild_id, 1000 + at), float(at))
        mine = SqliteCleanupStore(db, Shards(frozenset({1, 2}), 3))
        only_zero = SqliteCleanupStore(db, Shards(frozenset({0}), 3))
        assert await mine.next_at() == 1.0
        assert await only_zero.next_at() == 0.0
        assert sorted(c.channel.guild_id for c in await mine.due(10.0)) == guilds[1:]
        assert [c.channel.channel_id for c in await only_zero.due(10.0)] == [1000]
    finally:
        await db.close()


def test_example_config_documents_the_shard_keys() -> None:
    example = pathlib.Path(__file__).resolve().parent.parent / "config.example.toml"
    text = example.read_text()
    assert "shard_count = 0" in text
    assert "shard_ids = []" in text


@pytest.mark.asyncio
async def test_healthz_says_when_the_api_serves(app: Rimpllee, tmp_path: Path) -> None:
    """`ready` is the supervisor's readiness check: false until start-up's last steps are done
    (the API answers 503 not_ready meanwhile), true once the API serves."""
    unstarted = Rimpllee(sandbox_config_for(app, tmp_path))
    assert unstarted.health().ready is False
    async with aiohttp.ClientSession() as http:
        async with http.get(app.http_url + "/healthz") as resp:
            body = await resp.json()
        assert resp.status == 200
        assert body["ready"] is True
        async with http.get(app.http_url + "/api/v1/panels", headers=AUTH) as resp:
            assert resp.status == 200
        app.ready = False  # as during start-up's last steps, or while stopping
        async with http.get(app.http_url + "/healthz") as resp:
            assert resp.status == 200
            assert (await resp.json())["ready"] is False
        async with http.get(app.http_url + "/api/v1/panels", headers=AUTH) as resp:
            assert resp.status == 503
            assert (await resp.json())["error"]["code"] == "not_ready"
        app.ready = True


def sandbox_config_for(app: Rimpllee, tmp_path: Path) -> Config:
    return dataclasses.replace(
        app.config, database=dataclasses.replace(app.config.database, path=tmp_path / "x.db")
    )


async def interrupted_open(database: Path, guild_id: int, panel_id: str, at: float) -> int:
    """An 'opening' row as an open cut short leaves it (before its channel was made)."""
    db = await Database.open(database)
    try:
        async with SqliteTicketStore(db).reserve(guild_id) as tx:
            ticket = await tx.insert_opening(
                user_id=42,
                panel_id=panel_id,
                button_id=panel_id.replace("pnl_", "btn_") + "report",
                source="api",
                answers=(),
                support_role_ids=(),
                now=at,
            )
        return ticket.ticket_id
    finally:
        await db.close()


async def still_opening(bot: Rimpllee) -> set[int]:
    assert bot.db is not None
    return {t.ticket_id for t in await SqliteTicketStore(bot.db).opening_tickets()}


@pytest.mark.asyncio
async def test_each_process_settles_only_its_own_servers_interrupted_opens(
    emulator: DiscordEmulator, loop_errors: LoopErrors, tmp_path: Path, clock: FakeClock
) -> None:
    """An open another process may still be making is not a crash's: a process settles only its
    own shards' servers' 'opening' rows, and only those older than any open can take."""
    emulator.gateway.max_concurrency = 2
    worlds = [seed(emulator.state, member_count=3, name=f"s{n}", shard=(n, 2)) for n in (0, 1)]
    database = tmp_path / "shared.db"
    panels = [await seed_server(database, w, n, KEYS[n]) for n, w in enumerate(worlds)]
    now = clock()
    old_zero = await interrupted_open(database, worlds[0].guild.id, panels[0], now - 600)
    old_one = await interrupted_open(database, worlds[1].guild.id, panels[1], now - 600)
    young_one = await interrupted_open(database, worlds[1].guild.id, panels[1], now - 10)
    async with shard_bot(emulator, database, loop_errors, 0, 2, clock) as zero:
        # Process 0 started alone: it settled its own server's crashed open, nothing else,
        # then or later.
        assert await still_opening(zero) == {old_one, young_one}
        assert await zero.tickets.next_at() is None  # type: ignore[union-attr]
        clock.advance(OPEN_BOUND_S)
        assert await zero.tickets.run_due() == 0  # type: ignore[union-attr]
        assert await still_opening(zero) == {old_one, young_one}
        younger = await interrupted_open(database, worlds[1].guild.id, panels[1], clock() - 10)
        async with shard_bot(emulator, database, loop_errors, 1, 2, clock) as one:
            # Process 1 settles its server's rows older than any open can take; the younger
            # one may be another process's open in progress: it is settled once it is old.
            assert await still_opening(one) == {younger}
            assert await one.tickets.next_at() == clock() - 10 + OPEN_BOUND_S  # type: ignore[union-attr]
            clock.advance(OPEN_BOUND_S)
            await one.scheduler.tick()
            assert await still_opening(one) == set()
    assert old_zero not in {old_one, young_one}


@pytest.mark.asyncio
async def test_health_command_is_the_supervisors_check(app: Rimpllee, tmp_path: Path) -> None:
    config = tmp_path / "health.toml"
    config.write_text(f'[http]\nhost = "0.0.0.0"\nport = {app.http_port}\n')
    code, out, err = await run_cli("health", "--config", str(config), cwd=tmp_path)
    assert (code, err) == (0, "")
    assert out.startswith("ready: gateway connected, database open, members known in 1 of 1")
    app.ready = False
    code, out, err = await run_cli("health", "--config", str(config), cwd=tmp_path)
    app.ready = True
    assert code == 1
    assert err.startswith("rimpllee: not ready: gateway connected")
    config.write_text(f"[http]\nport = {free_port()}\n")
    code, _, err = await run_cli("health", "--config", str(config), "--wait", "1", cwd=tmp_path)
    assert code == 1
    assert err.startswith("rimpllee: nothing answers at http://127.0.0.1:")


@pytest.mark.asyncio
async def test_timers_and_webhook_deliveries_go_to_their_servers_process(
    emulator: DiscordEmulator, tmp_path: Path
) -> None:
    """Each process claims only its own shards' timers and sends only its own shards' webhook
    deliveries: with disjoint shard ranges no timer fires twice and no event is sent twice."""
    worlds = [seed(emulator.state, member_count=3, name=f"s{n}", shard=(n, 2)) for n in (0, 1)]
    database = tmp_path / "shared.db"
    panels = [await seed_server(database, w, n, KEYS[n]) for n, w in enumerate(worlds)]
    db = await Database.open(database)
    try:
        tickets = []
        for n, world in enumerate(worlds):
            await SqliteWebhookStore(db).add_endpoint(
                Endpoint(
                    f"whe_{n:016x}",
                    world.guild.id,
                    "https://example.com/hook",
                    ("ticket.opened",),
                    "whsec_x",
                    1.0,
                ),
                limit=5,
            )
            ticket_id = await interrupted_open(database, world.guild.id, panels[n], 100.0)
            store = SqliteTicketStore(db)
            await store.set_channel(ticket_id, 9000 + n)
            await store.mark_open(ticket_id, 9100 + n)  # records ticket.opened
            await SqliteAutomationStore(db).put_request(
                CloseRequest(ticket_id, 1, None, 200.0), 100.0
            )
            tickets.append(ticket_id)
        shards = [Shards(frozenset({n}), 2) for n in (0, 1)]
        for n in (0, 1):
            hooks = SqliteWebhookStore(db, shards[n])
            assert [d.endpoint_id for d in await hooks.due(1e12, 10, [])] == [f"whe_{n:016x}"]
            timers = SqliteAutomationStore(db, shards[n])
            assert await timers.next_at() == 200.0
            claimed = await timers.claim_due(300.0, 60.0, 10)
            assert [t.ticket_id for t in claimed] == [tickets[n]]
            assert await timers.claim_due(300.0, 60.0, 10) == []  # leased: not again
    finally:
        await db.close()


def test_confirmed_members_of_other_processes_servers_are_kept_a_minute() -> None:
    clock = FakeClock(0.0)
    recent = RecentMembers(ttl=60.0, max_entries=2, clock=clock)
    recent.put(1, MemberInfo(10, "ann"))
    assert recent.get(1, 10) == MemberInfo(10, "ann")
    assert recent.get(2, 10) is None  # per server
    clock.advance(60.5)
    assert recent.get(1, 10) is None  # a member who left is believed a minute at most
    for user_id in (11, 12, 13):
        recent.put(1, MemberInfo(user_id, f"u{user_id}"))
    assert [recent.get(1, u) is not None for u in (11, 12, 13)] == [False, True, True]
