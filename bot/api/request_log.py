"""Recording each request made with a valid key, for the dashboard's Integrations page."""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any

from aiohttp import web

from bot.api.errors import MAPPED_ERRORS, status_and_code
from bot.api.repeats import Repeated
from bot.api.requests import request_id
from bot.api.schemas import SENT_FIELDS
from bot.core.integrations import ApiRequestLog


async def _sent_fields(request: web.Request) -> dict[str, Any]:
    """userId, panelId and buttonId as the client sent them, if the body is a JSON object (read
    again when parsing stopped before keeping it)."""
    try:
        data = json.loads(await request.read())
    except Exception:
        return {}
    return data if isinstance(data, dict) else {}


class recorded:  # used as `async with recorded(...)`, like the function it was
    """Record the outcome of the block: 200, or the status and code its error maps to.

    A class rather than an `asynccontextmanager`: no generator to drive on every request."""

    __slots__ = ("_guild_id", "_log", "_request")

    def __init__(self, request: web.Request, log: ApiRequestLog | None, guild_id: int) -> None:
        self._request = request
        self._log = log
        self._guild_id = guild_id

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        log = self._log
        if log is None:
            return
        if exc is None:
            status, code = 200, None
        elif isinstance(exc, MAPPED_ERRORS):
            status, code = status_and_code(exc)
        elif isinstance(exc, Repeated):
            status, code = exc.answer.status, exc.answer.code
        elif isinstance(exc, web.HTTPRequestEntityTooLarge):
            status, code = 413, "body_too_large"
        elif isinstance(exc, Exception):
            status, code = 500, "internal_error"
        else:  # cancelled (the client went away, or shutdown): nothing to show
            return
        request = self._request
        fields = request.get(SENT_FIELDS)
        if fields is None:  # a body too large, or one that never arrived (408), is not read again
            fields = await _sent_fields(request) if status not in (408, 413) else {}
        log.record(
            self._guild_id,
            status,
            code,
            fields.get("userId"),
            fields.get("panelId"),
            fields.get("buttonId"),
            request_id(request) or None,
        )
