"""The emulated gateway: one websocket session per connected shard.

Speaks Discord's v10 gateway protocol as hikari expects it: HELLO, heartbeat ACKs, IDENTIFY → READY
and one GUILD_CREATE per guild of the shard, RESUME, Request Guild Members (op 8) answered with
GUILD_MEMBERS_CHUNK events, and dispatches of state changes to the shard that owns the guild.
Members arrive as on Discord: without the Guild Presences intent GUILD_CREATE carries only the bot
itself (nobody is in voice here); everyone else comes by chunks. A connection that sends more
than 120 payloads in 60 s is closed with 4008, as Discord does.
Transport compression follows the `compress` query parameter (zlib-stream, or zstd-stream when
`backports.zstd` is importable).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from bot.sandbox.state import JSON, DiscordState, Guild, Member

_LOG = logging.getLogger("rimpllee.sandbox.gateway")

HEARTBEAT_INTERVAL_MS = 41_250

# Gateway intents (https://discord.com/developers/docs/events/gateway#gateway-intents).
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
MESSAGE_CONTENT = 1 << 15

# Which intent an event needs; events not listed are always sent.
_EVENT_INTENTS = {
    "GUILD_CREATE": GUILDS,
    "CHANNEL_CREATE": GUILDS,
    "CHANNEL_UPDATE": GUILDS,
    "CHANNEL_DELETE": GUILDS,
    "THREAD_CREATE": GUILDS,
    "THREAD_UPDATE": GUILDS,
    "THREAD_DELETE": GUILDS,
    # Other members' changes need Guild Members (gateway-events.mdx, Thread Members Update).
    "THREAD_MEMBERS_UPDATE": GUILD_MEMBERS,
    "GUILD_MEMBER_ADD": GUILD_MEMBERS,
    "GUILD_MEMBER_UPDATE": GUILD_MEMBERS,
    "GUILD_MEMBER_REMOVE": GUILD_MEMBERS,
    "MESSAGE_CREATE": GUILD_MESSAGES,
    "MESSAGE_UPDATE": GUILD_MESSAGES,
    "MESSAGE_DELETE": GUILD_MESSAGES,
}

# Close codes.
AUTHENTICATION_FAILED = 4004
RATE_LIMITED = 4008
INVALID_SHARD = 4010
SHARDING_REQUIRED = 4011
GUILDS_PER_SHARD_MAX = 2500  # Discord requires sharding past this many servers on one shard

# https://discord.com/developers/docs/events/gateway#rate-limiting: 120 payloads per connection
# per 60 s. The window opens with the first payload; a little grace absorbs the scheduling delay
# between a client's clock and ours (hikari counts the same fixed windows on its side).
SEND_LIMIT = 120
SEND_WINDOW_S = 60.0
SEND_WINDOW_GRACE_S = 2.0

# Request Guild Members and GUILD_CREATE (gateway-events.mdx).
CHUNK_SIZE = 1000
MAX_REQUESTED_IDS = 100  # user_ids, and members matching a query
MAX_NONCE_BYTES = 32
LARGE_THRESHOLD_DEFAULT = 50
LARGE_THRESHOLD_RANGE = (50, 250)
PRESENCES_MEMBER_CAP = 75_000  # above this GUILD_CREATE never lists every member


def _compressor(kind: str | None) -> Callable[[bytes], bytes] | None:
    if kind == "zlib-stream":
        zctx = zlib.compressobj()
        return lambda data: zctx.compress(data) + zctx.flush(zlib.Z_SYNC_FLUSH)
    if kind == "zstd-stream":
        from backports import zstd  # type: ignore[import-not-found,unused-ignore]  # noqa: PLC0415

        zstd_ctx: Any = zstd.ZstdCompressor()
        return lambda data: bytes(zstd_ctx.compress(data, zstd_ctx.FLUSH_BLOCK))
    return None


class SendLimit:
    """Discord's fixed window of 120 payloads per 60 s per connection."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._window_ends = -math.inf
        self._count = 0

    def hit(self) -> bool:
        """Count one received payload; False once the window's budget is exceeded."""
        now = self._clock()
        if now >= self._window_ends:
            self._window_ends = now + SEND_WINDOW_S - SEND_WINDOW_GRACE_S
            self._count = 0
        self._count += 1
        return self._count <= SEND_LIMIT


@dataclass
class GatewaySession:
    ws: web.WebSocketResponse
    compress: Callable[[bytes], bytes] | None
    session_id: str = ""
    intents: int = 0
    shard: tuple[int, int] = (0, 1)
    large_threshold: int = LARGE_THRESHOLD_DEFAULT
    seq: int = 0
    identified: bool = False
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    limit: SendLimit = field(default_factory=SendLimit)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def owns(self, guild_id: int) -> bool:
        """Discord's shard formula: (guild_id >> 22) % num_shards."""
        shard_id, count = self.shard
        return (guild_id >> 22) % count == shard_id

    async def send(self, payload: JSON) -> None:
        data = json.dumps(payload).encode()
        async with self.send_lock:
            if self.ws.closed:
                return
            if self.compress is None:
                await self.ws.send_str(data.decode())
            else:
                await self.ws.send_bytes(self.compress(data))

    async def dispatch(self, event: str, data: JSON) -> None:
        self.seq += 1
        await self.send({"op": 0, "t": event, "s": self.seq, "d": data})


class Gateway:
    """Accepts shard connections and fans state changes out to identified sessions."""

    def __init__(self, state: DiscordState, token: str, public_url: Callable[[], str]) -> None:
        self._state = state
        self._token = token
        self._public_url = public_url
        self.sessions: list[GatewaySession] = []
        self._resumable: dict[str, GatewaySession] = {}
        self._session_counter = 0
        self.recommended_shards = 1  # what GET /gateway/bot advises
        self.max_concurrency = 1
        # Cleared: member chunks wait (to test the window before a server's members are known).
        self.chunks_flowing = asyncio.Event()
        self.chunks_flowing.set()
        self.member_requests: list[JSON] = []  # every op 8 received, for tests
        # Not None: events wait here, in order (a gateway lagging behind REST, for tests).
        self._held: list[tuple[str, JSON]] | None = None

    def hold_events(self) -> None:
        """From now on, events wait: REST answers while the bots' caches stay as they were."""
        if self._held is None:
            self._held = []

    async def release_events(self) -> None:
        """Deliver the held events, in order, and let the next ones flow."""
        held, self._held = self._held or [], None
        for event, data in held:
            await self.dispatch(event, data)

    def shards_to_recommend(self) -> int:
        """What GET /gateway/bot advises: `recommended_shards`, and never fewer than Discord
        requires (one per 2,500 servers, else IDENTIFY is closed with 4011)."""
        needed = -(-len(self._state.guilds) // GUILDS_PER_SHARD_MAX)
        return max(self.recommended_shards, needed, 1)

    def hold_member_chunks(self) -> None:
        self.chunks_flowing.clear()

    def release_member_chunks(self) -> None:
        self.chunks_flowing.set()

    @property
    def connected(self) -> int:
        return sum(1 for s in self.sessions if s.identified and not s.ws.closed)

    async def dispatch(self, event: str, data: JSON) -> None:
        if self._held is not None:
            self._held.append((event, data))
            return
        needed = _EVENT_INTENTS.get(event, 0)
        guild_id = int(
            data.get("guild_id") or (data.get("id") if event.startswith("GUILD_") else 0) or 0
        )
        for session in list(self.sessions):
            # Guild events go to the guild's shard; the rest (DMs) to shard 0, as on Discord.
            owner = session.owns(guild_id) if guild_id else session.shard[0] == 0
            if session.identified and owner and (needed == 0 or session.intents & needed):
                body = data
                if (
                    event == "MESSAGE_CREATE"
                    and not session.intents & MESSAGE_CONTENT
                    and not self._readable_without_intent(data)
                ):
                    body = {
                        **data,
                        "content": "",
                        "embeds": [],
                        "attachments": [],
                        "components": [],
                    }
                await session.dispatch(event, body)

    def _readable_without_intent(self, message: JSON) -> bool:
        bot = str(self._state.bot.id)
        return (
            message["author"]["id"] == bot
            or f"<@{bot}>" in message.get("content", "")
            or "guild_id" not in message
        )

    def sees_content(self) -> bool:
        """Whether the (first) connected bot asked for the Message Content intent."""
        return any(s.intents & MESSAGE_CONTENT for s in self.sessions if s.identified)

    async def close_all(self) -> None:
        for session in list(self.sessions):
            await session.ws.close()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        session = GatewaySession(ws=ws, compress=_compressor(request.query.get("compress")))
        self.sessions.append(session)
        try:
            await session.send({"op": 10, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}})
            async for msg in ws:
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    break
                if not session.limit.hit():
                    await ws.close(code=RATE_LIMITED, message=b"You are being rate limited.")
                    break
                raw = msg.data if msg.type == WSMsgType.TEXT else msg.data.decode()
                await self._on_payload(session, json.loads(raw))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.sessions.remove(session)
            for task in list(session.tasks):
                task.cancel()
            with contextlib.suppress(Exception):
                await ws.close()
        return ws

    async def _on_payload(self, session: GatewaySession, payload: JSON) -> None:
        op = payload.get("op")
        data: JSON = payload.get("d") or {}
        if op == 1:
            await session.send({"op": 11})
        elif op == 2:
            await self._identify(session, data)
        elif op == 6:
            await self._resume(session, data)
        elif op == 8:
            await self._request_members(session, data)
        # Presence (3) and voice (4) updates are accepted and ignored.

    async def _identify(self, session: GatewaySession, data: JSON) -> None:
        if data.get("token") != self._token:
            await session.ws.close(code=AUTHENTICATION_FAILED, message=b"Authentication failed.")
            return
        self._session_counter += 1
        session.session_id = f"sandbox-session-{self._session_counter}"
        session.intents = int(data.get("intents", 0))
        shard = data.get("shard") or [0, 1]
        problem = self._shard_problem(shard)
        if problem is not None:
            code, reason = problem
            await session.ws.close(code=code, message=reason.encode())
            return
        session.shard = (int(shard[0]), int(shard[1]))
        low, high = LARGE_THRESHOLD_RANGE
        session.large_threshold = min(max(int(data.get("large_threshold", low)), low), high)
        session.identified = True
        self._resumable[session.session_id] = session
        state = self._state
        guilds = [g for g in list(state.guilds.values()) if session.owns(g.id)]
        await session.dispatch(
            "READY",
            {
                "v": 10,
                "user": state.bot.payload(),
                "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
                "session_id": session.session_id,
                "resume_gateway_url": self._public_url(),
                "shard": shard,
                "application": {"id": str(state.application_id), "flags": 0},
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "guild_join_requests": [],
                "geo_ordered_rtc_regions": [],
            },
        )
        for guild in guilds:
            await session.dispatch("GUILD_CREATE", self._guild_create(session, guild))

    def _shard_problem(self, shard: object) -> tuple[int, str] | None:
        """Discord's answers to a bad `shard` in IDENTIFY: 4010 Invalid shard (not `[id,
        count]` with 0 <= id < count), 4011 Sharding required (a shard would hold more than
        2,500 servers)."""
        if (
            not isinstance(shard, list)
            or len(shard) != 2
            or not all(isinstance(n, int) and not isinstance(n, bool) for n in shard)
            or not 0 <= shard[0] < shard[1]
        ):
            return INVALID_SHARD, "Invalid shard."
        if len(self._state.guilds) > shard[1] * GUILDS_PER_SHARD_MAX:
            return SHARDING_REQUIRED, "Sharding required."
        return None

    def _guild_create(self, session: GatewaySession, guild: Guild) -> JSON:
        """Which members GUILD_CREATE lists (gateway-events.mdx, Guild Create and op 8): without
        the presences intent (or above 75k members) only the bot and members in voice (none
        here); above `large_threshold`, those with a role or a nickname (online members too, but
        nobody is online here); otherwise everyone."""
        count = len(guild.members)
        large = count > session.large_threshold
        members: list[Member]
        if not session.intents & GUILD_PRESENCES or count > PRESENCES_MEMBER_CAP:
            bot = guild.members.get(self._state.bot.id)
            members = [bot] if bot else []
        elif large:
            members = [
                m
                for m in guild.members.values()
                if m.role_ids or m.nick or m.user.id == self._state.bot.id
            ]
        else:
            members = list(guild.members.values())
        return guild.gateway_payload(members=members, large=large)

    async def _resume(self, session: GatewaySession, data: JSON) -> None:
        old = self._resumable.get(str(data.get("session_id")))
        if old is None or data.get("token") != self._token:
            await session.send({"op": 9, "d": False})
            return
        session.session_id = old.session_id
        session.intents = old.intents
        session.seq = old.seq
        session.identified = True
        self._resumable[session.session_id] = session
        await session.dispatch("RESUMED", {})

    async def _request_members(self, session: GatewaySession, data: JSON) -> None:
        """Op 8: the matching members in GUILD_MEMBERS_CHUNK events of at most 1,000 each."""
        self.member_requests.append(data)
        guild = self._state.guilds.get(int(data.get("guild_id") or 0))
        if guild is None or not session.owns(guild.id):
            return
        raw_ids = data.get("user_ids")
        wanted: list[int] | None = None
        if raw_ids is not None:
            ids = raw_ids if isinstance(raw_ids, list) else [raw_ids]
            wanted = list(dict.fromkeys(int(u) for u in ids))[:MAX_REQUESTED_IDS]
            members = [guild.members[u] for u in wanted if u in guild.members]
        else:
            query = str(data.get("query") or "").lower()
            limit = int(data.get("limit") or 0)
            if not query and not limit and not session.intents & GUILD_MEMBERS:
                _LOG.warning("op 8 for every member without the GUILD_MEMBERS intent: ignored")
                return
            members = [
                m for m in guild.members.values() if m.user.username.lower().startswith(query)
            ]
            if query:
                limit = min(limit or MAX_REQUESTED_IDS, MAX_REQUESTED_IDS)
            if limit:
                members = members[:limit]
        nonce = data.get("nonce")
        if not isinstance(nonce, str) or len(nonce.encode()) > MAX_NONCE_BYTES:
            nonce = None  # Discord ignores an invalid nonce
        presences = bool(data.get("presences")) and bool(session.intents & GUILD_PRESENCES)
        count = max(1, math.ceil(len(members) / CHUNK_SIZE))
        chunks: list[JSON] = []
        for index in range(count):
            part = members[index * CHUNK_SIZE : (index + 1) * CHUNK_SIZE]
            chunk: JSON = {
                "guild_id": str(guild.id),
                "members": [m.payload() for m in part],
                "chunk_index": index,
                "chunk_count": count,
            }
            if wanted is not None:
                chunk["not_found"] = [str(u) for u in wanted if u not in guild.members]
            if presences:
                chunk["presences"] = []  # nobody is online in the emulator
            if nonce is not None:
                chunk["nonce"] = nonce
            chunks.append(chunk)
        task = asyncio.create_task(self._send_chunks(session, chunks))
        session.tasks.add(task)
        task.add_done_callback(session.tasks.discard)

    async def _send_chunks(self, session: GatewaySession, chunks: list[JSON]) -> None:
        await self.chunks_flowing.wait()
        for chunk in chunks:
            await session.dispatch("GUILD_MEMBERS_CHUNK", chunk)
