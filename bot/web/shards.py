"""Server pages of a server on another process's shards: said plainly, not "not found".

A process's dashboard reads servers, channels, roles and members from its own gateway cache and
member index, which hold only its shards' servers (see `bot.core.shards`). A server page asked
of the wrong process answers 421 Misdirected Request naming the shard that serves it, instead of
a page built from nothing or a false "Rimpllee is not in this server".
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from bot.core.shards import Shards, shard_of
from bot.web.security import PageError

_SERVER_PATH = re.compile(r"/servers/(\d{1,20})(?:/|$)")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def served_here(shards: Shards) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        match = _SERVER_PATH.match(request.path)
        if match is not None and not shards.owns(int(match[1])):
            shard = shard_of(int(match[1]), shards.count)
            raise PageError(
                421,
                "Served by another process",
                f"This server is on gateway shard {shard} of {shards.count}, which another "
                f"Rimpllee process runs (this one runs {shards.describe()}): open its pages "
                "on that process's dashboard.",
            )
        return await handler(request)

    return middleware
