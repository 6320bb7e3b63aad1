"""The members the bot knows, kept compact from the raw gateway payloads.

hikari's member cache holds a `Member` and a `User` object per member (about 0.8 KiB); at a
thousand servers that is most of the process, for three facts the bot needs: is this user a
member, their roles (support roles, the bot's own permissions) and their name (channel names,
transcripts). So hikari's member cache is off and each server keeps just those:

- the member IDs as a sorted array of 64-bit integers (8 bytes each, looked up by bisection),
- in parallel, where each member's name record starts in one byte buffer (the UTF-8 username,
  and the display name only when it differs), and which of the server's role sets they hold.

No Python object per member survives: a string or tuple kept from each payload would pin the
memory of the whole parsed payload around it (CPython frees its small-object arenas only when
they are empty). Members arriving in bulk (chunks of 1,000) wait in a small dict and are merged
in sorted batches that grow with the server, so loading a server costs O(n log n) rather than a
shift per member.

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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import hikari

from bot.discord.raw_events import Handler, tap

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
        "_at",
        "_blob",
        "_fresh",
        "_garbage",
        "_ids",
        "_role_index",
        "_role_of",
        "_role_sets",
        "chunks_seen",
        "known",
        "nonce",
    )

    def __init__(self) -> None:
        self._ids = array("q")  # sorted
        self._at = array("I")  # where each member's name record starts in `_blob`
        self._role_of = array("I")  # each member's role set, an index into `_role_sets`
        self._blob = bytearray()  # name records: 2-byte length, then UTF-8
        self._garbage = 0  # bytes of records no member points at any more
        self._role_sets: list[RoleIds] = [()]
        self._role_index: dict[RoleIds, int] = {(): 0}
        self._fresh: dict[int, tuple[str, RoleIds]] = {}  # never holds an ID of `_ids`
        self.known = False
        self.nonce: str | None = None  # of the op 8 request whose chunks are awaited
        self.chunks_seen = 0

    def __len__(self) -> int:
        return len(self._ids) + len(self._fresh)

    def _index(self, user_id: int) -> int:
        i = bisect_left(self._ids, user_id)
        return i if i < len(self._ids) and self._ids[i] == user_id else -1

    def _record(self, packed: str) -> int:
        data = packed.encode()
        at = len(self._blob)
        self._blob += len(data).to_bytes(2, "little") + data
        return at

    def _read(self, at: int) -> str:
        size = int.from_bytes(self._blob[at : at + 2], "little")
        return self._blob[at + 2 : at + 2 + size].decode()

    def _role_set(self, role_ids: RoleIds) -> int:
        index = self._role_index.get(role_ids)
        if index is None:
            index = self._role_index[role_ids] = len(self._role_sets)
            self._role_sets.append(role_ids)
        return index

    def put(self, user_id: int, username: str, display_name: str, role_ids: RoleIds) -> None:
        packed = _pack(username, display_name)
        i = self._index(user_id)
        if i < 0:
            self._fresh[user_id] = (packed, role_ids)
            if len(self._fresh) > max(_MIN_BATCH, len(self._ids) // 4):
                self.merge()
            return
        self._role_of[i] = self._role_set(role_ids)
        if self._read(self._at[i]) != packed:
            self._garbage += 2 + len(self._read(self._at[i]).encode())
            self._at[i] = self._record(packed)

    def remove(self, user_id: int) -> None:
        if self._fresh.pop(user_id, None) is not None:
            return
        i = self._index(user_id)
        if i >= 0:
            self._garbage += 2 + len(self._read(self._at[i]).encode())
            del self._ids[i]
            del self._at[i]
            del self._role_of[i]

    def get(self, user_id: int) -> MemberEntry | None:
        fresh = self._fresh.get(user_id)
        if fresh is not None:
            return _entry(user_id, *fresh)
        i = self._index(user_id)
        if i < 0:
            return None
        return _entry(user_id, self._read(self._at[i]), self._role_sets[self._role_of[i]])

    def username(self, user_id: int) -> str | None:
        """`get(user_id).username`, without building the entry (every API open asks this)."""
        fresh = self._fresh.get(user_id)
        if fresh is not None:
            packed = fresh[0]
        else:
            i = self._index(user_id)
            if i < 0:
                return None
            packed = self._read(self._at[i])
        return packed.partition(_NAME_SEPARATOR)[0]

    def ids(self) -> Iterator[int]:
        yield from self._ids
        yield from list(self._fresh)

    def merge(self) -> None:
        """Fold the fresh members into the sorted arrays (timsort merges the two sorted runs),
        and rewrite the names without the stale records once those are half of them."""
        if not self._fresh and self._garbage <= len(self._blob) // 2:
            return
        added = sorted(self._fresh)
        ids = self._ids.tolist() + added
        at = self._at.tolist() + [self._record(self._fresh[u][0]) for u in added]
        roles = self._role_of.tolist() + [self._role_set(self._fresh[u][1]) for u in added]
        self._fresh = {}
        order = sorted(range(len(ids)), key=ids.__getitem__)
        self._ids = array("q", [ids[i] for i in order])
        self._role_of = array("I", [roles[i] for i in order])
        if self._garbage > len(self._blob) // 2:
            old, self._blob, self._garbage = self._blob, bytearray(), 0
            self._at = array("I")
            for i in order:
                size = int.from_bytes(old[at[i] : at[i] + 2], "little")
                self._at.append(len(self._blob))
                self._blob += old[at[i] : at[i] + 2 + size]
        else:
            self._at = array("I", [at[i] for i in order])

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


class MemberIndex:
    """Every server's members, fed by GUILD_CREATE, GUILD_MEMBERS_CHUNK, GUILD_MEMBER_ADD/UPDATE/
    REMOVE and the member of each interaction, straight from the raw payloads."""

    def __init__(self, bot: hikari.GatewayBot) -> None:
        self._bot = bot
        self.servers: dict[int, ServerMembers] = {}
        # Per server, how often someone may have left it: what a refusal kept in memory rests
        # on (`HikariDiscord.departures`). Counts only ever grow, so a number is never reused.
        self._departures: dict[int, int] = {}
        # A bot's intents are fixed when it is made; every API open asks this.
        self._tracks = hikari.Intents.GUILD_MEMBERS in bot.intents
        self._nonces = itertools.count(1)
        self._requests: set[asyncio.Task[None]] = set()
        self._handlers: dict[str, Handler] = {
            "guild_create": self._guild_create,
            "guild_delete": self._guild_delete,
            "guild_members_chunk": self._chunk,
            "guild_member_add": self._member_seen,
            "guild_member_update": self._member_seen,
            "guild_member_remove": self._member_removed,
            "interaction_create": self._interaction,
            "resumed": self._resumed,
            "rate_limited": self._rate_limited,
        }

    @property
    def tracks_membership(self) -> bool:
        """With the members intent, joins and leaves arrive, so a known server's index is the
        truth; without it, the index only remembers names and roles it happened to see."""
        return self._tracks

    def install(self) -> None:
        """Read each raw payload in hikari's own consumer, before hikari handles it.

        hikari's `ShardPayloadEvent` would deliver the same payloads, but later, each in a task:
        while a burst of chunks arrives, hundreds of parsed payloads then wait in memory, and the
        fragmentation they leave keeps the process large long after. In the consumer, a payload
        is indexed and released as it arrives (bot/discord/raw_events.py).
        """
        for name, handler in self._handlers.items():
            tap(self._bot, name, handler)

    async def close(self) -> None:
        for task in list(self._requests):
            task.cancel()
        if self._requests:
            await asyncio.gather(*self._requests, return_exceptions=True)

    # -- reading -----------------------------------------------------------------------------------

    def get(self, guild_id: int, user_id: int) -> MemberEntry | None:
        server = self.servers.get(guild_id)
        return server.get(user_id) if server else None

    def username(self, guild_id: int, user_id: int) -> str | None:
        server = self.servers.get(guild_id)
        return server.username(user_id) if server else None

    def is_known(self, guild_id: int) -> bool:
        server = self.servers.get(guild_id)
        return server is not None and server.known

    def has_server(self, guild_id: int) -> bool:
        """The bot is in it: its GUILD_CREATE came, and no GUILD_DELETE since (hikari's cache
        says the same, but answers with a copy of the whole guild)."""
        return guild_id in self.servers

    def departures(self, guild_id: int) -> int:
        return self._departures.get(guild_id, 0)

    def _departed(self, guild_id: int) -> None:
        self._departures[guild_id] = self._departures.get(guild_id, 0) + 1

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

    def _guild_create(self, shard: hikari.api.GatewayShard, payload: Mapping[str, Any]) -> None:
        if payload.get("unavailable"):
            return
        guild_id = int(payload["id"])
        server = ServerMembers()  # a (re)connection starts over: anyone may have left meanwhile
        self.servers[guild_id] = server
        self._departed(guild_id)
        for member in payload.get("members") or ():
            server.put(*_fields(member))
        if len(server) >= int(payload.get("member_count") or 0):
            server.mark_known()
        elif self.tracks_membership:
            self._ask_for_members(shard, guild_id, server)

    def _ask_for_members(
        self, shard: hikari.api.GatewayShard, guild_id: int, server: ServerMembers, delay: float = 0
    ) -> None:
        server.nonce = f"rmp.{next(self._nonces)}"
        server.chunks_seen = 0
        task = asyncio.create_task(self._request(shard, guild_id, server.nonce, delay))
        self._requests.add(task)
        task.add_done_callback(self._requests.discard)

    def _resumed(self, shard: hikari.api.GatewayShard, payload: Mapping[str, Any]) -> None:
        """Chunks lost with the old connection are not replayed: ask again for those servers."""
        for guild_id, server in self.servers.items():
            if not server.known and (guild_id >> 22) % shard.shard_count == shard.id:
                self._ask_for_members(shard, guild_id, server)

    async def _request(
        self, shard: hikari.api.GatewayShard, guild_id: int, nonce: str, delay: float = 0.0
    ) -> None:
        """Op 8 for every member; hikari paces it within the gateway's 120 per 60 s."""
        await asyncio.sleep(delay)
        with contextlib.suppress(hikari.ComponentStateConflictError):  # the shard is closing
            await shard.request_guild_members(guild_id, nonce=nonce)

    def _rate_limited(self, shard: hikari.api.GatewayShard, payload: Mapping[str, Any]) -> None:
        """Discord allows one request for all of a server's members per 30 s (a reconnect can
        ask sooner): ask again once `retry_after` has passed."""
        meta = payload.get("meta") or {}
        if payload.get("opcode") != 8 or "guild_id" not in meta:
            return
        guild_id = int(meta["guild_id"])
        server = self.servers.get(guild_id)
        if server is None or server.known or server.nonce != meta.get("nonce"):
            return
        self._ask_for_members(shard, guild_id, server, float(payload.get("retry_after") or 0))

    def _guild_delete(self, shard: hikari.api.GatewayShard, payload: Mapping[str, Any]) -> None:
        guild_id = int(payload["id"])
        self.servers.pop(guild_id, None)
        self._departed(guild_id)

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
        guild_id = int(payload["guild_id"])
        self._departed(guild_id)
        if server := self.servers.get(guild_id):
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
