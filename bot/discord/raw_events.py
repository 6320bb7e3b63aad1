"""Raw gateway payloads, read in hikari's own consumer as they arrive, before hikari's cache.

The member index (bot/discord/members.py) and the channel counts (bot/discord/channels.py) keep
what the bot needs from the payloads themselves, in step with hikari's cache: a handler runs in
the same call that updates the cache, with no task and no copy in between. The consumer table is
hikari 2.6's (pinned); `tests/test_members.py` fails if it changes shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import hikari
from hikari.impl import event_manager_base

Handler = Callable[[hikari.api.GatewayShard, Mapping[str, Any]], None]


def tap(bot: hikari.GatewayBot, event_name: str, handler: Handler) -> None:
    """Run `handler` on each raw `event_name` payload (lower case: "guild_create"), then
    hikari's own consumer. Several handlers on one event run in the order they were tapped."""
    consumers: dict[str, Any] = getattr(bot.event_manager, "_consumers")  # noqa: B009
    current = consumers[event_name]
    if isinstance(current.callback, _Tap):
        current.callback.handlers.append(handler)
        return
    consumers[event_name] = _Tap(current, handler).consumer


class _Tap:
    """A consumer that always runs the handlers, then hikari's own one when hikari would have
    (it caches that event, or someone listens to it: hikari keeps those counts on the consumer in
    the table, so on this one)."""

    def __init__(self, original: Any, handler: Handler) -> None:
        self.original = original
        self.handlers = [handler]
        self.consumer = event_manager_base._Consumer(self, original.events_bitmask, True)
        self.consumer.listener_group_count = original.listener_group_count
        self.consumer.waiter_group_count = original.waiter_group_count

    def __call__(self, shard: hikari.api.GatewayShard, payload: Mapping[str, Any]) -> None:
        try:
            for handler in self.handlers:
                handler(shard, payload)
        finally:
            tapped = self.consumer
            if self.original.is_caching or tapped.listener_group_count or tapped.waiter_group_count:
                self.original.callback(shard, payload)
