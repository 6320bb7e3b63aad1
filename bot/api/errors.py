"""The one shape every API error has, and the one table mapping errors to HTTP.

Body: `{"ok": false, "error": {"code", "message", ...fields}}`. Codes are stable and documented in
the README; messages are for people and may improve.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.core.errors import (
    AdminError,
    Blacklisted,
    ButtonNotFound,
    DiscordFailure,
    InvalidApiKey,
    InvalidRequest,
    NotMember,
    PanelNotFound,
    RateLimited,
    TicketError,
    TooManyOpen,
    lookup,
)

_LOG = logging.getLogger("rimpllee.api")


@dataclass
class AuthFailed(Exception):
    """No usable API key in the request (401)."""

    code: str
    message: str


@dataclass
class AuthThrottled(Exception):
    """Too many failed authentications from this client address (429)."""

    retry_after: float


class BodyTimeout(Exception):
    """The client didn't send the whole body in time (408)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the request body did not arrive within {seconds:g} s")


class NotReady(Exception):
    """The bot is still starting (503)."""

    def __str__(self) -> str:
        return "the bot is starting; retry in a few seconds"


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    **fields: Any,
) -> web.Response:
    body = {"ok": False, "error": {"code": code, "message": message, **fields}}
    return web.json_response(body, status=status, headers=headers)


def _seconds(retry_after: float) -> int:
    return max(1, math.ceil(retry_after))


Mapped = tuple[int, str, dict[str, Any], dict[str, str]]

_BEARER = {"WWW-Authenticate": 'Bearer realm="rimpllee"'}


def _too_many_open(e: TooManyOpen) -> Mapped:
    channel = str(e.channel_id) if e.channel_id is not None else None
    return 409, "max_open_reached", {"limit": e.limit, "max": e.maximum, "channelId": channel}, {}


def _rate_limited(e: RateLimited) -> Mapped:
    seconds = _seconds(e.retry_after)
    return (
        429,
        "rate_limited",
        {"scope": e.scope, "retryAfter": seconds},
        {"Retry-After": str(seconds)},
    )


def _auth_throttled(e: AuthThrottled) -> Mapped:
    seconds = _seconds(e.retry_after)
    return (
        429,
        "too_many_auth_failures",
        {"scope": "client", "retryAfter": seconds},
        {"Retry-After": str(seconds)},
    )


# The table: exception type → (status, code, extra body fields, headers). An exception is looked
# up by its class, then its bases: a subclass of a mapped error is answered as its base is.
_TABLE: dict[type[BaseException], Callable[[Any], Mapped]] = {
    AuthFailed: lambda e: (401, e.code, {}, _BEARER),
    InvalidApiKey: lambda e: (401, "invalid_api_key", {}, _BEARER),
    AuthThrottled: _auth_throttled,
    NotReady: lambda e: (503, "not_ready", {}, {"Retry-After": "5"}),
    BodyTimeout: lambda e: (408, "request_timeout", {"field": "body"}, {}),
    InvalidRequest: lambda e: (400, e.code, {"field": e.field}, {}),
    NotMember: lambda e: (400, "user_not_member", {"field": "userId"}, {}),
    Blacklisted: lambda e: (403, "blacklisted", {}, {}),
    PanelNotFound: lambda e: (404, "panel_not_found", {"field": "panelId"}, {}),
    ButtonNotFound: lambda e: (404, "button_not_found", {"field": "buttonId"}, {}),
    TooManyOpen: _too_many_open,
    RateLimited: _rate_limited,
    DiscordFailure: lambda e: (500, "discord_error", {}, {}),
    AdminError: lambda e: (400, "invalid_request", {}, {}),
}

MAPPED_ERRORS = (TicketError, AuthFailed, AuthThrottled, NotReady, BodyTimeout)


def status_and_code(exc: Exception) -> tuple[int, str]:
    """What `response_for` answers, in short (for the request log)."""
    status, code, _, _ = _TABLE[type(exc)](exc)
    return status, code


def response_for(exc: Exception) -> web.Response:
    """The HTTP answer for a domain or API error (any `MAPPED_ERRORS` instance); one without an
    entry of its own or of a base is a bug, answered like any other: a JSON 500."""
    entry = lookup(_TABLE, exc)
    if entry is None:
        _LOG.error("no HTTP mapping for %s", type(exc).__name__, exc_info=exc)
        return error_response(500, "internal_error", "internal error; the bot's log has details")
    status, code, fields, headers = entry(exc)
    message = exc.message if isinstance(exc, AuthFailed) else str(exc)
    response = error_response(status, code, message, headers=headers, **fields)
    if isinstance(exc, BodyTimeout):
        response.force_close()  # don't wait for the rest of a body that isn't coming
    return response
