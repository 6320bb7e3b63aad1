"""The members the bot knows, kept compact from the raw gateway payloads.

hikari's member cache holds a `Member` and a `User` object per member (about 0.8 KiB); at a
thousand servers that is most of the process, for three facts the bot needs: is this user a
member, their roles (support roles, the bot's own permissions) and their name (channel names,
transcripts). So hikari's member cache is off and each server keeps just those:

- the member IDs as a sorted array of 64-bit integers (8 bytes each, looked up by bisection),
- in parallel, one string per member: the username, and the display name only when it differs,
- in parallel, their role IDs as a tuple shared by every member with the same roles.

Members arriving in bulk (chunks of 1,000) wait in a small dict and are merged in sorted batches
that grow with the server, so loading a server costs O(n log n) rather than a shift per member.

A server's members are *known* once Discord has sent every one of them: in GUILD_CREATE when it
lists them all, otherwise in every chunk answering the Request Guild Members (op 8) sent for it.
Until then a miss proves nothing (see `HikariDiscord.find_member`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import hikari

_LOG = logging.getLogger("rimpllee.discord.members")

RoleIds = tuple[int, ...]
_NAME_SEPARATOR = "\x00"  # never in a Discord username or display name
_MIN_BATCH = 4096


@dataclass(frozen=True, slots=True)
class MemberEntry:
    user_id: int
    username: str
    display_name: str
    role_ids: RoleIds


def _pack(username: str, display_name: str) -> str:
    if display_name == username:
        return username
    return f"{username}{_NAME_SEPARATOR}{display_name}"


def _entry(user_id: int, packed: str, role_ids: RoleIds) -> MemberEntry:
    username, separator, display_name = packed.partition(_NAME_SEPARATOR)
    return MemberEntry(user_id, username, display_name if separator else username, role_ids)


class ServerMembers:
    """One server's members (see the module docstring for the layout)."""

    __slots__ = (
        "_fresh",
        "_ids",
        "_names",
        "_role_sets",
        "_roles",
        "chunks_seen",
        "known",
        "nonce",
    )

    def __init__(self) -> None:
        self._ids = array("q")
        self._names: list[str] = []
        self._roles: list[RoleIds] = []
        self._fresh: dict[int, tuple[str, RoleIds]] = {}  # never holds an ID of `_ids`
        self._role_sets: dict[RoleIds, RoleIds] = {(): ()}
        self.known = False
        self.nonce: str | None = None  # of the op 8 request whose chunks are awaited
        self.chunks_seen = 0

    def __len__(self) -> int:
        return len(self._ids) + len(self._fresh)

    def _index(self, user_id: int) -> int:
        i = bisect_left(self._ids, user_id)
        return i if i < len(self._ids) and self._ids[i] == user_id else -1

    def put(self, user_id: int, username: str, display_name: str, role_ids: RoleIds) -> None:
        packed = _pack(username, display_name)
        roles = self._role_sets.setdefault(role_ids, role_ids)
        i = self._index(user_id)
        if i >= 0:
            self._names[i] = packed
            self._roles[i] = roles
            return
        self._fresh[user_id] = (packed, roles)
        if len(self._fresh) > max(_MIN_BATCH, len(self._ids) // 4):
            self.merge()

    def remove(self, user_id: int) -> None:
        if self._fresh.pop(user_id, None) is not None:
            return
        i = self._index(user_id)
        if i >= 0:
            del self._ids[i]
            del self._names[i]
            del self._roles[i]

    def get(self, user_id: int) -> MemberEntry | None:
        fresh = self._fresh.get(user_id)
        if fresh is not None:
            return _entry(user_id, *fresh)
        i = self._index(user_id)
        return None if i < 0 else _entry(user_id, self._names[i], self._roles[i])

    def ids(self) -> Iterator[int]:
        yield from self._ids
        yield from list(self._fresh)

    def merge(self) -> None:
        """Fold the fresh members into the sorted arrays (timsort merges the two sorted runs)."""
        if not self._fresh:
            return
        added = sorted(self._fresh)
        ids = self._ids.tolist() + added
        names = self._names + [self._fresh[u][0] for u in added]
        roles = self._roles + [self._fresh[u][1] for u in added]
        order = sorted(range(len(ids)), key=ids.__getitem__)
        self._ids = array("q", [ids[i] for i in order])
        self._names = [names[i] for i in order]
        self._roles = [roles[i] for i in order]
        self._fresh = {}

    def mark_known(self) -> None:
        self.known = True
        self.nonce = None
        self.merge()


class DisplayNames(Mapping[int, str]):
    """A server's display names by user ID, read from the index (for transcripts' mentions)."""

    def __init__(self, server: ServerMembers | None) -> None:
        self._server = server or ServerMembers()

    def __getitem__(self, user_id: int) -> str:
        entry = self._server.get(user_id)
        if entry is None:
            raise KeyError(user_id)
        return entry.display_name

    def __iter__(self) -> Iterator[int]:
        return self._server.ids()

    def __len__(self) -> int:
        return len(self._server)


def _fields(member: Mapping[str, Any]) -> tuple[int, str, str, RoleIds]:
    user = member["user"]
    username = str(user["username"])
    display = member.get("nick") or user.get("global_name") or username
    roles = tuple(sorted(int(r) for r in member.get("roles") or ()))
    return int(user["id"]), username, str(display), roles


Handler = Callable[[hikari.api.GatewayShard, Mapping[str, Any]], None]


class MemberIndex:
    """Every server's members, fed by GUILD_CREATE, GUILD_MEMBERS_CHUNK, GUILD_MEMBER_ADD/UPDATE/
    REMOVE and the member of each interaction, straight from the raw payloads."""

    def __init__(self, bot: hikari.GatewayBot) -> None:
        self._bot = bot
        self.servers: dict[int, ServerMembers] = {}
        self._nonces = itertools.count(1)
        self._requests: set[asyncio.Task[None]] = set()
        self._handlers: dict[str, Handler] = {
            "GUILD_CREATE": self._guild_create,
            "GUILD_DELETE": self._guild_delete,
            "GUILD_MEMBERS_CHUNK": self._chunk,
            "GUILD_MEMBER_ADD": self._member_seen,
            "GUILD_MEMBER_UPDATE": self._member_seen,
            "GUILD_MEMBER_REMOVE": self._member_removed,
            "INTERACTION_CREATE": self._interaction,
            "RESUMED": self._resumed,
        }

    @property
    def tracks_membership(self) -> bool:
        """With the members intent, joins and leaves arrive, so a known server's index is the
        truth; without it, the index only remembers names and roles it happened to see."""
        return hikari.Intents.GUILD_MEMBERS in self._bot.intents

    def install(self) -> None:
        self._bot.subscribe(hikari.ShardPayloadEvent, self._on_payload)

    async def close(self) -> None:
        for task in list(self._requests):
            task.cancel()
        if self._requests:
            await asyncio.gather(*self._requests, return_exceptions=True)

    # -- reading -----------------------------------------------------------------------------------

    def get(self, guild_id: int, user_id: int) -> MemberEntry | None:
        server = self.servers.get(guild_id)
        return server.get(user_id) if server else None

    def is_known(self, guild_id: int) -> bool:
        server = self.servers.get(guild_id)
        return server is not None and server.known

    def display_names(self, guild_id: int) -> DisplayNames:
        return DisplayNames(self.servers.get(guild_id))

    def progress(self) -> tuple[int, int]:
        """(servers whose members are all known, servers)."""
        return sum(1 for s in self.servers.values() if s.known), len(self.servers)

    def member_count(self) -> int:
        return sum(len(s) for s in self.servers.values())

    # -- writing -----------------------------------------------------------------------------------

    def remember(self, guild_id: int, member: hikari.Member) -> None:
        """A member Discord confirmed over REST."""
        if server := self.servers.get(guild_id):
            roles = tuple(sorted(int(r) for r in member.role_ids if int(r) != guild_id))
            server.put(int(member.id), member.username, member.display_name, roles)

    async def _on_payload(self, event: hikari.ShardPayloadEvent) -> None:
        handler = self._handlers.get(event.name)
        if handler is not None:
            handler(event.shard, event.payload)

    def _guild_create(self, shard: hikari.api.GatewayShard, payload: Mapping[str, Any]) -> None:
        if payload.get("unavailable"):
            return
        guild_id = int(payload["id"])
        server = ServerMembers()  # a (re)connection starts over: anyone may have left meanwhile
        self.servers[guild_id] = server
        for member in payload.get("members") or ():
            server.put(*_fields(member))
        if len(server) >= int(payload.get("member_count") or 0):
            server.mark_known()
        elif self.tracks_membership:
            self._ask_for_members(shard, guild_id, server)

    def _ask_for_members(
        self, shard: hikari.api.GatewayShard, guild_id: int, server: ServerMembers
    ) -> None:
        server.nonce = f"rmp.{next(self._nonces)}"
        server.chunks_seen = 0
        task = asyncio.create_task(self._request(shard, guild_id, server.nonce))
        self._requests.add(task)
        task.add_done_callback(self._requests.discard)

    def _resumed(self, shard: hikari.api.GatewayShard, payload: Mapping[str, Any]) -> None:
        """Chunks lost with the old connection are not replayed: ask again for those servers."""
        for guild_id, server in self.servers.items():
            if not server.known and (guild_id >> 22) % shard.shard_count == shard.id:
                self._ask_for_members(shard, guild_id, server)

    async def _request(self, shard: hikari.api.GatewayShard, guild_id: int, nonce: str) -> None:
        """Op 8 for every member; hikari paces it within the gateway's 120 per 60 s."""
        with contextlib.suppress(hikari.ComponentStateConflictError):  # the shard is closing
            await shard.request_guild_members(guild_id, nonce=nonce)

    def _guild_delete(self, shard: hikari.api.GatewayShard, payload: Mapping[str, Any]) -> None:
        self.servers.pop(int(payload["id"]), None)

    def _chunk(self, shard: hikari.api.GatewayShard, payload: Mapping[str, Any]) -> None:
        server = self.servers.get(int(payload["guild_id"]))
        if server is None:
            return
        for member in payload.get("members") or ():
            server.put(*_fields(member))
        if server.nonce is not None and payload.get("nonce") == server.nonce:
            server.chunks_seen += 1
            if server.chunks_seen >= int(payload["chunk_count"]):
                server.mark_known()

    def _member_seen(self, shard: hikari.api.GatewayShard, payload: Mapping[str, Any]) -> None:
        if server := self.servers.get(int(payload["guild_id"])):
            server.put(*_fields(payload))

    def _member_removed(self, shard: hikari.api.GatewayShard, payload: Mapping[str, Any]) -> None:
        if server := self.servers.get(int(payload["guild_id"])):
            server.remove(int(payload["user"]["id"]))

    def _interaction(self, shard: hikari.api.GatewayShard, payload: Mapping[str, Any]) -> None:
        """Discord only sends a server's interaction from a member: the clicker is one, now."""
        member = payload.get("member")
        if member is not None and "guild_id" in payload:
            self._member_seen(shard, {**member, "guild_id": payload["guild_id"]})


class MemberAwareBot(hikari.GatewayBot):
    """hikari's bot, carrying the member index for code that is handed the bot (lightbulb injects
    it into commands) and needs a member's roles while hikari's member cache is off."""

    __slots__ = ("members",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.members = MemberIndex(self)


def member_roles(bot: hikari.GatewayBot, guild_id: int, user_id: int) -> RoleIds | None:
    """A member's role IDs from the index (or hikari's cache when that holds members)."""
    if isinstance(bot, MemberAwareBot):
        entry = bot.members.get(guild_id, user_id)
        return entry.role_ids if entry else None
    member = bot.cache.get_member(guild_id, user_id)
    return tuple(int(r) for r in member.role_ids) if member else None
