"""Request IDs: every answer carries `X-Request-Id` (the client's own when it sent a valid one),
and the access log line names it, so a report from an integrator finds its line in the log.
The same middleware names the server plainly in `Server`."""

from __future__ import annotations

import logging
import random
import re
import secrets
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.api.server import SERVER_NAME

_LOG = logging.getLogger("rimpllee.api.access")

HEADER = "X-Request-Id"
REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id", str)
# What a client may choose: printable, no spaces or quotes, at most 128 characters.
_VALID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")


def request_id(request: web.Request) -> str:
    """The request's ID (the dashboard's request log records it too)."""
    rid: str = request.get(REQUEST_ID, "")
    return rid


# Request IDs must be unique, not secret: a generator seeded once from the OS, instead of a
# system call per request.
_IDS = random.Random(secrets.randbits(128))


def new_request_id() -> str:
    return f"req_{_IDS.getrandbits(96):024x}"


@web.middleware
async def request_ids(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    given = request.headers.get(HEADER, "")
    rid = given if _VALID.fullmatch(given) else new_request_id()
    request[REQUEST_ID] = rid
    started = time.perf_counter()
    response = await handler(request)
    headers = response.headers
    headers[HEADER] = rid
    # No Python or aiohttp version for a scanner to match. Every answer passes here unprepared
    # (errors become answers inside, and no handler streams), which costs less than a signal.
    headers["Server"] = SERVER_NAME
    if _LOG.isEnabledFor(logging.INFO):
        _LOG.info(
            "%s %s %d %.1f ms request_id=%s",
            request.method,
            request.path,
            response.status,
            (time.perf_counter() - started) * 1000,
            rid,
        )
    return response
