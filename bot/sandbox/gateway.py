"""The emulated gateway: one websocket session per connected shard.

Speaks Discord's v10 gateway protocol as hikari expects it: HELLO, heartbeat ACKs, IDENTIFY → READY
and one GUILD_CREATE per guild, RESUME, member chunk requests, and dispatches of state changes.
Transport compression follows the `compress` query parameter (zlib-stream, or zstd-stream when
`backports.zstd` is importable).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from bot.sandbox.state import JSON, DiscordState

_LOG = logging.getLogger("rimpllee.sandbox.gateway")

HEARTBEAT_INTERVAL_MS = 41_250

# Gateway intents (https://discord.com/developers/docs/events/gateway#gateway-intents).
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_MESSAGES = 1 << 9
MESSAGE_CONTENT = 1 << 15

# Which intent an event needs; events not listed are always sent.
_EVENT_INTENTS = {
    "GUILD_CREATE": GUILDS,
    "CHANNEL_CREATE": GUILDS,
    "CHANNEL_UPDATE": GUILDS,
    "CHANNEL_DELETE": GUILDS,
    "GUILD_MEMBER_ADD": GUILD_MEMBERS,
    "GUILD_MEMBER_UPDATE": GUILD_MEMBERS,
    "GUILD_MEMBER_REMOVE": GUILD_MEMBERS,
    "MESSAGE_CREATE": GUILD_MESSAGES,
    "MESSAGE_UPDATE": GUILD_MESSAGES,
    "MESSAGE_DELETE": GUILD_MESSAGES,
}

# Close codes.
AUTHENTICATION_FAILED = 4004


def _compressor(kind: str | None) -> Callable[[bytes], bytes] | None:
    if kind == "zlib-stream":
        zctx = zlib.compressobj()
        return lambda data: zctx.compress(data) + zctx.flush(zlib.Z_SYNC_FLUSH)
    if kind == "zstd-stream":
        from backports import zstd  # type: ignore[import-not-found,unused-ignore]  # noqa: PLC0415

        zstd_ctx: Any = zstd.ZstdCompressor()
        return lambda data: bytes(zstd_ctx.compress(data, zstd_ctx.FLUSH_BLOCK))
    return None


@dataclass
class GatewaySession:
    ws: web.WebSocketResponse
    compress: Callable[[bytes], bytes] | None
    session_id: str = ""
    intents: int = 0
    seq: int = 0
    identified: bool = False
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

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

    @property
    def connected(self) -> int:
        return sum(1 for s in self.sessions if s.identified and not s.ws.closed)

    async def dispatch(self, event: str, data: JSON) -> None:
        needed = _EVENT_INTENTS.get(event, 0)
        for session in list(self.sessions):
            if session.identified and (needed == 0 or session.intents & needed):
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
                raw = msg.data if msg.type == WSMsgType.TEXT else msg.data.decode()
                await self._on_payload(session, json.loads(raw))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.sessions.remove(session)
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
        session.identified = True
        self._resumable[session.session_id] = session
        shard = data.get("shard", [0, 1])
        state = self._state
        await session.dispatch(
            "READY",
            {
                "v": 10,
                "user": state.bot.payload(),
                "guilds": [{"id": str(g), "unavailable": True} for g in state.guilds],
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
        with_members = bool(session.intents & GUILD_MEMBERS)
        for guild in list(state.guilds.values()):
            await session.dispatch("GUILD_CREATE", guild.gateway_payload(with_members=with_members))

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
        guild = self._state.guilds.get(int(data.get("guild_id", 0)))
        if guild is None:
            return
        wanted = {int(u) for u in data.get("user_ids") or []}
        members = [m for uid, m in guild.members.items() if not wanted or uid in wanted]
        chunk: JSON = {
            "guild_id": str(guild.id),
            "members": [m.payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [str(u) for u in wanted - guild.members.keys()],
        }
        if nonce := data.get("nonce"):
            chunk["nonce"] = nonce
        await session.dispatch("GUILD_MEMBERS_CHUNK", chunk)
