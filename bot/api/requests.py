"""Request IDs: every answer carries `X-Request-Id` (the client's own when it sent a valid one),
and the access log line names it, so a report from an integrator finds its line in the log.
`bot.api.app.answers` (the app's one middleware of its own) calls `assign` and `finish`."""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time

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


# Request IDs must be unique, not secret: this process's random prefix and a counter, instead of
# a system call (or 96 random bits) per request. The 48-bit prefix keeps processes apart.
_PREFIX = f"req_{secrets.randbits(48):012x}"
_COUNTER = itertools.count(secrets.randbits(32))


def new_request_id() -> str:
    return f"{_PREFIX}{next(_COUNTER) & 0xFFFFFFFFFFFF:012x}"


def assign(request: web.Request) -> str:
    """The request's ID: the client's own when valid, else a new one."""
    given = request.headers.get(HEADER, "")
    rid = given if _VALID.fullmatch(given) else new_request_id()
    request[REQUEST_ID] = rid
    return rid


def finish(request: web.Request, response: web.StreamResponse, rid: str, started: float) -> None:
    """Name the request and the server on the answer, and log the exchange."""
    headers = response.headers
    headers[HEADER] = rid
    # No Python or aiohttp version for a scanner to match. Every answer passes here unprepared
    # (errors become answers first, and no handler streams), which costs less than a signal.
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
