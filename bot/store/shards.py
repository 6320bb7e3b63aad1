"""The SQL for "servers on this process's shards", shared by the outboxes and the timers.

Discord's formula `(guild_id >> 22) % shard_count` in SQL, with this process's shard count and
IDs written into the statement as integers (they come from the validated config, never from a
request): one fixed statement per process, the same text on SQLite and PostgreSQL. Every shard:
no condition at all (the single-process setup reads exactly what it read before).
"""

from __future__ import annotations

from bot.core.shards import Shards


def on_shards(column: str, shards: Shards | None) -> str:
    """` AND <condition>` (or nothing), for `column` holding a guild ID."""
    if shards is None or shards.every:
        return ""
    ids = ", ".join(str(int(i)) for i in sorted(shards.ids))
    return f" AND (({column} >> 22) % {int(shards.count)}) IN ({ids})"
