"""The one shape every API error has, and the one table mapping errors to HTTP.

Body: `{"ok": false, "error": {"code", "message", ...fields}}`. Codes are stable and documented in
the README; messages are for people and may improve.
"""

from __future__ import annotations

import json
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

    def __str__(self) -> str:
        return (
            "too many failed authentication attempts from this address; "
            f"retry in {_seconds(self.retry_after)} s with a valid API key"
        )


@dataclass
class IdempotencyKeyInvalid(Exception):
    """The Idempotency-Key header is empty, too long or not printable ASCII (400)."""

    def __str__(self) -> str:
        return "Idempotency-Key must be 1 to 255 printable ASCII characters (e.g. a UUID)"


@dataclass
class IdempotencyKeyReused(Exception):
    """The key was first used with another request (422)."""

    key: str

    def __str__(self) -> str:
        return (
            f"Idempotency-Key {self.key!r} was first used with a different request "
            "(method, path or body); use a new key for a new request"
        )


@dataclass
class IdempotencyKeyInUse(Exception):
    """The first request with this key has not finished yet (409)."""

    key: str

    def __str__(self) -> str:
        return (
            f"a request with Idempotency-Key {self.key!r} is still in progress; "
            "retry shortly to get its answer"
        )


@dataclass
class TicketNotFound(Exception):
    """No ticket with this channel on the key's server (404)."""

    channel_id: int

    def __str__(self) -> str:
        return f"no ticket with channel {self.channel_id} on this server"


@dataclass
class TicketNotOpen(Exception):
    """Closing a ticket that is not open (409)."""

    channel_id: int
    status: str

    def __str__(self) -> str:
        return f"the ticket with channel {self.channel_id} is {self.status}, not open"


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
    for value in fields.values():
        if value.__class__ not in _KEYABLE:  # 1 == 1.0 == True as keys, and lists aren't keys
            body = {"ok": False, "error": {"code": code, "message": message, **fields}}
            return web.json_response(body, status=status, headers=headers)
    key = (status, code, message, *fields.items())
    data = _ENCODED.get(key)
    if data is None:
        body = {"ok": False, "error": {"code": code, "message": message, **fields}}
        data = json.dumps(body).encode()
        if len(_ENCODED) >= _ENCODED_MAX:
            _ENCODED.clear()  # many distinct messages (they can quote the client): start over
        _ENCODED[key] = data
    return web.Response(
        body=data,
        status=status,
        headers=_JSON_HEADERS if not headers else {**_JSON_HEADERS, **headers},
    )


# Error bodies as sent, by what they are made of: a flood of the same refusal is encoded once.
_ENCODED: dict[tuple[Any, ...], bytes] = {}
_ENCODED_MAX = 1024
# As `web.json_response` labels its bodies.
_JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}
_KEYABLE = frozenset((str, int, type(None)))  # field values encoded alike whenever equal


def _seconds(retry_after: float) -> int:
    return max(1, math.ceil(retry_after))


Mapped = tuple[int, str, dict[str, Any], dict[str, str]]

_BEARER = {"WWW-Authenticate": 'Bearer realm="rimpllee"'}


def _too_many_open_message(e: TooManyOpen) -> str:
    """The domain's text names the channel in Discord markup; HTTP clients get its ID."""
    which = "from this button" if e.limit == "button" else "on this server"
    where = f"; its open ticket is channel {e.channel_id}" if e.channel_id else ""
    return f"the user already has {e.maximum} open ticket(s) {which}{where}"


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
    IdempotencyKeyInvalid: lambda e: (
        400,
        "invalid_idempotency_key",
        {"field": "Idempotency-Key"},
        {},
    ),
    IdempotencyKeyReused: lambda e: (422, "idempotency_key_reused", {}, {}),
    IdempotencyKeyInUse: lambda e: (409, "idempotency_key_in_use", {}, {"Retry-After": "1"}),
    TicketNotFound: lambda e: (404, "ticket_not_found", {"field": "channelId"}, {}),
    TicketNotOpen: lambda e: (409, "ticket_not_open", {"ticketStatus": e.status}, {}),
}


def _rate_limited_message(e: RateLimited) -> str:
    """The wait in whole seconds, as Retry-After and retryAfter say (the domain's text rounds)."""
    if e.scope == "server":
        return f"this server is opening tickets too fast; retry in {_seconds(e.retry_after)} s"
    return f"this user opened a ticket moments ago; retry in {_seconds(e.retry_after)} s"


# Messages written for HTTP where the domain's own text is for Discord.
_MESSAGES: dict[type[BaseException], Callable[[Any], str]] = {
    TooManyOpen: _too_many_open_message,
    RateLimited: _rate_limited_message,
}

MAPPED_ERRORS = (
    TicketError,
    AuthFailed,
    AuthThrottled,
    NotReady,
    BodyTimeout,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    IdempotencyKeyInUse,
    TicketNotFound,
    TicketNotOpen,
)


# Status and code by class, for the classes whose code does not depend on the instance.
_STATUS_CODES: dict[type[BaseException], tuple[int, str]] = {}
_CODE_PER_INSTANCE = (AuthFailed, InvalidRequest)  # their `code` field is the code


def status_and_code(exc: Exception) -> tuple[int, str]:
    """What `response_for` answers, in short (for the request log)."""
    known = _STATUS_CODES.get(type(exc))
    if known is not None:
        return known
    entry = lookup(_TABLE, exc)
    if entry is None:
        return 500, "internal_error"
    status, code, _, _ = entry(exc)
    if not isinstance(exc, _CODE_PER_INSTANCE):
        _STATUS_CODES[type(exc)] = status, code
    return status, code


def response_for(exc: Exception) -> web.Response:
    """The HTTP answer for a domain or API error (any `MAPPED_ERRORS` instance); one without an
    entry of its own or of a base is a bug, answered like any other: a JSON 500."""
    how = _HOW.get(type(exc))
    if how is None:
        entry = lookup(_TABLE, exc)
        if entry is None:
            _LOG.error("no HTTP mapping for %s", type(exc).__name__, exc_info=exc)
            return error_response(
                500, "internal_error", "internal error; the bot's log has details"
            )
        write = _auth_message if isinstance(exc, AuthFailed) else lookup(_MESSAGES, exc) or str
        how = _HOW[type(exc)] = entry, write
    entry, write = how
    status, code, fields, headers = entry(exc)
    response = error_response(status, code, write(exc), headers=headers, **fields)
    if isinstance(exc, BodyTimeout):
        response.force_close()  # don't wait for the rest of a body that isn't coming
    return response


def _auth_message(e: AuthFailed) -> str:
    return e.message


# The table's entry and message writer by class, once looked up (through the bases).
_HOW: dict[type[BaseException], tuple[Callable[[Any], Mapped], Callable[[Any], str]]] = {}
