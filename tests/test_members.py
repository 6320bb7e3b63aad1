"""Members as Discord delivers them: chunks after GUILD_CREATE, the send limit, member events; and
the bot's compact member index, which never refuses a member just because it has not heard yet."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from bot.app import Rimpllee
from bot.discord.members import ServerMembers
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.gateway import GUILD_MEMBERS, GUILD_PRESENCES, GUILDS
from bot.sandbox.runner import REPORT_BUTTON_ID, SandboxWorld, seed_database
from tests.conftest import LoopErrors, running
from tests.helpers import answer, click, error, opened_channel, post, posted_panel, ticket

pytestmark = pytest.mark.asyncio

MEMBER_LOOKUP = ("GET", "/guilds/{guild_id}/members/{user_id}")


# -- a raw gateway client: what Discord sends, without hikari in between ------------------------


class RawGateway:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def send(self, op: int, data: Any) -> None:
        await self.ws.send_str(json.dumps({"op": op, "d": data}))

    async def receive(self) -> dict[str, Any]:
        message = await asyncio.wait_for(self.ws.receive(), 5)
        assert message.type == aiohttp.WSMsgType.TEXT, message
        payload: dict[str, Any] = json.loads(message.data)
        return payload

    async def dispatch(self, event: str) -> dict[str, Any]:
        """The next dispatch named `event` (heartbeat ACKs and other events are skipped)."""
        while True:
            payload = await self.receive()
            if payload.get("t") == event:
                data: dict[str, Any] = payload["d"]
                return data

    async def identify(self, token: str, intents: int, **extra: Any) -> dict[str, Any]:
        hello = await self.receive()
        assert hello["op"] == 10
        await self.send(2, {"token": token, "intents": intents, "properties": {}, **extra})
        return await self.dispatch("READY")


@pytest_asyncio.fixture
async def raw(emulator: DiscordEmulator) -> AsyncIterator[RawGateway]:
    async with aiohttp.ClientSession() as http, http.ws_connect(emulator.gateway_url) as ws:
        yield RawGateway(ws)


def member_ids(chunk_or_guild: dict[str, Any]) -> set[int]:
    return {int(m["user"]["id"]) for m in chunk_or_guild["members"]}


async def test_guild_create_carries_only_the_bot_without_the_presences_intent(
    emulator: DiscordEmulator, world: SandboxWorld, raw: RawGateway
) -> None:
    await raw.identify(emulator.token, GUILDS | GUILD_MEMBERS)
    guild = await raw.dispatch("GUILD_CREATE")
    assert member_ids(guild) == {emulator.state.bot.id}
    assert guild["member_count"] == len(world.guild.members)


async def test_guild_create_with_presences_follows_large_threshold(
    emulator: DiscordEmulator, world: SandboxWorld, raw: RawGateway
) -> None:
    await raw.identify(emulator.token, GUILDS | GUILD_PRESENCES, large_threshold=50)
    small = await raw.dispatch("GUILD_CREATE")
    assert small["large"] is False
    assert member_ids(small) == set(world.guild.members)
    state = emulator.state
    for i in range(50):
        state.add_member(world.guild, state.add_user(f"extra{i}"))
    nicked = world.members[0].id
    world.guild.members[nicked].nick = "Nick"
    async with aiohttp.ClientSession() as http, http.ws_connect(emulator.gateway_url) as ws:
        again = RawGateway(ws)
        await again.identify(emulator.token, GUILDS | GUILD_PRESENCES, large_threshold=50)
        large = await again.dispatch("GUILD_CREATE")
    assert large["large"] is True
    # Above the threshold: members with a role or a nickname (and the bot), not everyone.
    assert member_ids(large) == {world.admin.id, world.support_member.id, state.bot.id, nicked}


async def test_request_guild_members_answers_in_chunks_of_a_thousand(
    emulator: DiscordEmulator, world: SandboxWorld, raw: RawGateway
) -> None:
    state = emulator.state
    for i in range(2300):
        state.add_member(world.guild, state.add_user(f"crowd{i:04d}"))
    await raw.identify(emulator.token, GUILDS | GUILD_MEMBERS)
    await raw.dispatch("GUILD_CREATE")
    await raw.send(8, {"guild_id": str(world.guild.id), "query": "", "limit": 0, "nonce": "n1"})
    chunks = [await raw.dispatch("GUILD_MEMBERS_CHUNK") for _ in range(3)]
    assert [c["chunk_index"] for c in chunks] == [0, 1, 2]
    assert {c["chunk_count"] for c in chunks} == {3}
    assert {c["nonce"] for c in chunks} == {"n1"}
    assert [len(c["members"]) for c in chunks] == [1000, 1000, len(world.guild.members) - 2000]
    assert set().union(*(member_ids(c) for c in chunks)) == set(world.guild.members)


async def test_request_guild_members_by_id_and_by_prefix(
    emulator: DiscordEmulator, world: SandboxWorld, raw: RawGateway
) -> None:
    await raw.identify(emulator.token, GUILDS | GUILD_MEMBERS)
    await raw.dispatch("GUILD_CREATE")
    wanted = [str(world.members[0].id), "42"]
    await raw.send(8, {"guild_id": str(world.guild.id), "user_ids": wanted, "nonce": "x" * 33})
    by_id = await raw.dispatch("GUILD_MEMBERS_CHUNK")
    assert member_ids(by_id) == {world.members[0].id}
    assert by_id["not_found"] == ["42"]
    assert "nonce" not in by_id  # over 32 bytes: Discord ignores it
    await raw.send(8, {"guild_id": str(world.guild.id), "query": "MEMBER0", "limit": 3})
    by_prefix = await raw.dispatch("GUILD_MEMBERS_CHUNK")
    names = [m["user"]["username"] for m in by_prefix["members"]]
    assert names == ["member01", "member02", "member03"]
    assert (by_prefix["chunk_index"], by_prefix["chunk_count"]) == (0, 1)


async def test_more_than_120_payloads_a_minute_close_the_connection_with_4008(
    emulator: DiscordEmulator, world: SandboxWorld, raw: RawGateway
) -> None:
    await raw.identify(emulator.token, GUILDS)  # the identify is the first of the 120
    for seq in range(119):
        await raw.send(1, seq)
    for _ in range(119):
        assert (await raw.receive())["op"] in (0, 11)  # still served
    await raw.send(1, 119)
    while (message := await asyncio.wait_for(raw.ws.receive(), 5)).type != aiohttp.WSMsgType.CLOSE:
        pass
    assert message.data == 4008


async def test_shards_get_only_their_servers(emulator: DiscordEmulator, raw: RawGateway) -> None:
    state = emulator.state
    owner = state.add_user("owner")
    guilds = [state.add_guild(f"g{i}", owner) for i in range(6)]
    ready = await raw.identify(emulator.token, GUILDS, shard=[1, 2])
    mine = {g.id for g in guilds if (g.id >> 22) % 2 == 1}
    assert {int(g["id"]) for g in ready["guilds"]} == mine


# -- the bot: the index, and no wrong refusal while members are still arriving --------------------


async def test_member_events_keep_the_index_true(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    index = app.discord.members
    guild = world.guild.id
    newcomer = emulator.state.add_user("newcomer")
    await emulator.member_join(guild, newcomer, roles=[world.support_role_id])
    await emulator.member_update(guild, world.members[1].id, nick="Bee")
    leaver = world.members[2].id
    await emulator.member_leave(guild, leaver)
    async with asyncio.timeout(5):
        while index.get(guild, leaver) is not None:
            await asyncio.sleep(0.01)
    joined = index.get(guild, newcomer.id)
    assert joined is not None
    assert joined.role_ids == (world.support_role_id,)
    renamed = index.get(guild, world.members[1].id)
    assert renamed is not None
    assert (renamed.username, renamed.display_name) == ("member02", "Bee")
    before = len(emulator.requests)
    reply = await post(app, ticket(leaver))
    assert (reply[0], error(reply)["code"]) == (400, "user_not_member")
    assert emulator.requests[before:] == []  # known members: the index answers alone
    assert (await post(app, ticket(newcomer.id)))[0] == 200


@pytest_asyncio.fixture
async def unchunked(
    emulator: DiscordEmulator, world: SandboxWorld, loop_errors: LoopErrors, tmp_path: Path
) -> AsyncIterator[Rimpllee]:
    """The bot serving while the server's member chunks are held back by Discord."""
    database = tmp_path / "rimpllee.db"
    await seed_database(database, world)
    emulator.gateway.hold_member_chunks()
    async with running(emulator, database, loop_errors) as rimpllee:
        yield rimpllee


async def test_a_member_not_yet_chunked_opens_by_api_and_by_click(
    unchunked: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    app, guild = unchunked, world.guild.id
    assert app.ready
    assert not app.discord.members.is_known(guild)
    async with aiohttp.ClientSession() as http, http.get(app.http_url + "/healthz") as resp:
        assert (await resp.json())["members"] == {"servers": 1, "known": 0}

    before = len(emulator.requests)
    assert (await post(app, ticket(world.members[0].id)))[0] == 200
    made = [(r.method, r.route) for r in emulator.requests[before:]]
    assert made[0] == MEMBER_LOOKUP  # one lookup settles the miss, then the usual two
    assert len(made) == 3

    before = len(emulator.requests)
    stranger = emulator.state.add_user("stranger")
    reply = await post(app, ticket(stranger.id))
    assert (reply[0], error(reply)["code"]) == (400, "user_not_member")
    assert [(r.method, r.route) for r in emulator.requests[before:]] == [MEMBER_LOOKUP]

    message_id = await posted_panel(app, world, app.clock)  # type: ignore[arg-type]
    before = len(emulator.requests)
    record = await click(emulator, world, world.members[1].id, message_id, REPORT_BUTTON_ID)
    text = await answer(record)
    assert opened_channel(emulator, text).guild_id == guild
    # The click itself shows Discord's word that the clicker is a member: no lookup.
    assert MEMBER_LOOKUP not in [(r.method, r.route) for r in emulator.requests[before:]]

    emulator.gateway.release_member_chunks()
    async with asyncio.timeout(5):
        while not app.discord.members.is_known(guild):
            await asyncio.sleep(0.01)
    before = len(emulator.requests)
    assert (await post(app, ticket(world.members[2].id)))[0] == 200
    assert len(emulator.requests[before:]) == 2


async def test_a_rate_limited_member_request_is_sent_again(
    unchunked: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    """Discord answers a second request for all of a server's members within 30 s with
    RATE_LIMITED (op 8, retry_after); the bot asks again after that, and gets them."""
    index, guild = unchunked.discord.members, world.guild.id
    async with asyncio.timeout(5):
        while not emulator.gateway.member_requests:
            await asyncio.sleep(0.01)
    meta = {"guild_id": str(guild), "nonce": index.servers[guild].nonce}
    await emulator.publish("RATE_LIMITED", {"opcode": 8, "retry_after": 0.05, "meta": meta})
    async with asyncio.timeout(5):
        while len(emulator.gateway.member_requests) < 2:
            await asyncio.sleep(0.01)
    second = emulator.gateway.member_requests[1]
    assert second["nonce"] == index.servers[guild].nonce != meta["nonce"]
    emulator.gateway.release_member_chunks()
    async with asyncio.timeout(5):
        while not index.is_known(guild):
            await asyncio.sleep(0.01)


async def test_the_bot_asks_for_each_servers_members_once(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    (request,) = emulator.gateway.member_requests
    assert request["guild_id"] == str(world.guild.id)
    assert (request["query"], request["limit"]) == ("", 0)
    assert len(app.discord.members.servers[world.guild.id]) == len(world.guild.members)


async def test_server_members_stay_sorted_through_batches_updates_and_removals() -> None:
    rng = random.Random(7)
    ids = rng.sample(range(10**17, 10**18), 30_000)
    server = ServerMembers()
    for uid in ids:
        server.put(uid, f"u{uid}", f"u{uid}", ())
    server.put(ids[5], "renamed", "Shown", (3, 9))
    for uid in ids[:1000]:
        if uid != ids[5]:
            server.remove(uid)
    server.mark_known()
    assert len(server) == 29_001
    assert list(server.ids()) == sorted([ids[5], *ids[1000:]])
    entry = server.get(ids[5])
    assert entry is not None
    assert (entry.username, entry.display_name, entry.role_ids) == ("renamed", "Shown", (3, 9))
    assert server.username(ids[5]) == "renamed"  # the API's lookup: the name alone
    server.put(7, "fresh", "Fresh one", ())  # not merged yet
    assert server.username(7) == "fresh"
    server.remove(7)
    assert server.get(ids[6]) is None
    assert server.username(ids[6]) is None
    last = server.get(ids[-1])
    assert last is not None
    assert last.display_name == f"u{ids[-1]}"


async def test_renames_leave_no_stale_names_after_a_merge() -> None:
    server = ServerMembers()
    ids = list(range(10**17, 10**17 + 5000))
    for uid in ids:
        server.put(uid, f"user{uid}", f"user{uid}", ())
    server.mark_known()
    for uid in ids:
        server.put(uid, f"user{uid}", f"Old {uid}", ())
    for uid in ids:
        server.put(uid, f"user{uid}", f"Shown {uid % 7}", (uid % 3,) if uid % 3 else ())
    server.merge()  # the old records are most of the buffer now: rewritten without them
    for uid in ids[::97]:
        entry = server.get(uid)
        assert entry is not None
        assert (entry.username, entry.display_name) == (f"user{uid}", f"Shown {uid % 7}")
        assert entry.role_ids == ((uid % 3,) if uid % 3 else ())
