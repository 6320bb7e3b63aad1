"""Recording each request made with a valid key, for the dashboard's Integrations page."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from bot.api.errors import MAPPED_ERRORS, status_and_code
from bot.api.requests import request_id
from bot.api.schemas import SENT_FIELDS
from bot.core.integrations import ApiRequestLog


async def _sent_fields(request: web.Request) -> dict[str, Any]:
    """userId, panelId and buttonId as the client sent them, if the body is a JSON object."""
    parsed: dict[str, Any] | None = request.get(SENT_FIELDS)
    if parsed is not None:
        return parsed
    try:
        data = json.loads(await request.read())
    except Exception:
        return {}
    return data if isinstance(data, dict) else {}


@contextlib.asynccontextmanager
async def recorded(
    request: web.Request, log: ApiRequestLog | None, guild_id: int
) -> AsyncIterator[None]:
    """Record the outcome of the block: 200, or the status and code its error maps to."""
    if log is None:
        yield
        return
    status, code = 200, None
    try:
        yield
    except MAPPED_ERRORS as exc:
        status, code = status_and_code(exc)
        raise
    except web.HTTPRequestEntityTooLarge:
        status, code = 413, "body_too_large"
        raise
    except Exception:
        status, code = 500, "internal_error"
        raise
    except BaseException:  # cancelled (the client went away, or shutdown): nothing to show
        status = 0
        raise
    finally:
        if status:
            await _record(request, log, guild_id, status, code)


async def _record(
    request: web.Request, log: ApiRequestLog, guild_id: int, status: int, code: str | None
) -> None:
    # A body too large, or one that never arrived (408), is not read again.
    fields = await _sent_fields(request) if status not in (408, 413) else {}
    log.record(
        guild_id,
        status,
        code,
        fields.get("userId"),
        fields.get("panelId"),
        fields.get("buttonId"),
        request_id(request) or None,
    )
