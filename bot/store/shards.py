"""The SQL for "servers on this process's shards", shared by the outboxes and the timers.

Discord's formula `(guild_id >> 22) % shard_count` in SQL, with this process's shard IDs as a
JSON array parameter: one statement shape whatever the number of shards. Every shard: no
condition at all (the single-process setup reads exactly what it read before).
"""

from __future__ import annotations

import json

from bot.core.shards import Shards


def on_shards(column: str, shards: Shards | None) -> tuple[str, tuple[object, ...]]:
    """` AND <condition>` (or nothing) and its parameters, for `column` holding a guild ID."""
    if shards is None or shards.every:
        return "", ()
    return (
        f" AND (({column} >> 22) % ?) IN (SELECT value FROM json_each(?))",
        (shards.count, json.dumps(sorted(shards.ids))),
    )
