"""Which servers this process answers for, by Discord's shard formula.

Discord puts a server on shard `(guild_id >> 22) % shard_count`. A process runs some of the
shards (`discord.shard_ids` of `discord.shard_count`); its gateway cache and member index hold only
those shards' servers, and its background work (settling opens a crash interrupted, the cleanup
outbox, ticket timers, webhook deliveries) is only for them, so two processes never work the same
row. Its HTTP API still serves every server (see `bot.discord.port`).
"""

from __future__ import annotations

from dataclasses import dataclass


def shard_of(guild_id: int, shard_count: int) -> int:
    """Discord's formula: the shard a server's events arrive on."""
    return (guild_id >> 22) % shard_count


@dataclass(frozen=True, slots=True)
class Shards:
    """`ids` of `count` shards. An empty `ids` (or `count` 0, "as Discord recommends") is every
    shard: the single-process setup, which owns every server."""

    ids: frozenset[int] = frozenset()
    count: int = 0

    @property
    def every(self) -> bool:
        return not self.ids or self.count <= 0 or len(self.ids) >= self.count

    def owns(self, guild_id: int) -> bool:
        return self.every or shard_of(guild_id, self.count) in self.ids

    def describe(self) -> str:
        if self.every:
            return "every shard"
        return f"shard(s) {', '.join(map(str, sorted(self.ids)))} of {self.count}"


EVERY_SHARD = Shards()
