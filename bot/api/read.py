"""The read endpoints and the API's close, scoped to the key's server:

`GET /api/v1/panels`, `GET /api/v1/tickets/{channelId}`, `GET /api/v1/tickets?userId=…` (a page
at a time) and `POST /api/v1/tickets/{channelId}/close` (the same close as staff's).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bot.api.errors import NotReady, TicketNotFound, TicketNotOpen, error_response
from bot.api.tickets import SERVICES, ApiServices, authenticate
from bot.api.v1 import SUBJECT, V1Services, authenticated
from bot.core.errors import AdminError, InvalidRequest
from bot.core.lifecycle import REASON_MAX, Actor
from bot.core.models import Panel
from bot.core.numbers import SNOWFLAKE_MAX
from bot.core.reads import LIST_STATUSES, PAGE_MAX, ListStatus
from bot.core.webhooks import ticket_document, ticket_status

PAGE_DEFAULT = 25
LIST_QUERY = ("userId", "status", "limit", "cursor")


def _snowflake(value: str, field: str) -> int:
    if not value.isascii() or not value.isdigit() or not 0 < int(value) <= SNOWFLAKE_MAX:
        raise InvalidRequest(
            "invalid_field", field, f"{field} must be a Discord ID (digits only), got {value!r}"
        )
    return int(value)


def panel_document(panel: Panel) -> dict[str, Any]:
    """A panel as a website needs it to build its own form for each button."""
    return {
        "panelId": panel.panel_id,
        "title": panel.title,
        "description": panel.description,
        "buttons": [
            {
                "buttonId": b.button_id,
                "label": b.label,
                "emoji": b.emoji,
                "style": b.style,
                "maxOpen": b.max_open,
                "questions": [
                    {
                        "questionId": q.question_id,
                        "label": q.label,
                        "placeholder": q.placeholder,
                        "style": q.style,
                        "required": q.required,
                        "minLength": q.min_length,
                        "maxLength": q.max_length,
                    }
                    for q in b.questions
                ],
            }
            for b in panel.buttons
        ],
    }


async def _begin(request: web.Request) -> tuple[ApiServices, V1Services, int]:
    services = request.app[SERVICES]
    if not services.ready():
        raise NotReady
    assert services.v1 is not None
    return services, services.v1, await authenticate(request, services)


async def list_panels(request: web.Request) -> web.Response:
    _, v1, guild_id = await _begin(request)

    async def run() -> web.Response:
        panels = await v1.reads.panels(guild_id)
        return web.json_response({"ok": True, "panels": [panel_document(p) for p in panels]})

    return await authenticated(request, guild_id, v1, run)


async def get_ticket(request: web.Request) -> web.Response:
    _, v1, guild_id = await _begin(request)

    async def run() -> web.Response:
        channel_id = _snowflake(request.match_info["channelId"], "channelId")
        ticket = await v1.reads.ticket(guild_id, channel_id)
        if ticket is None:
            raise TicketNotFound(channel_id)
        request[SUBJECT] = ticket.user_id
        return web.json_response({"ok": True, "ticket": ticket_document(ticket)})

    return await authenticated(request, guild_id, v1, run)


def _statuses(value: str | None) -> tuple[ListStatus, ...]:
    if value is None:
        return LIST_STATUSES
    chosen = tuple(s for s in LIST_STATUSES if s in value.split(","))
    if not value or len(chosen) != len(value.split(",")):
        raise InvalidRequest(
            "invalid_field",
            "status",
            f"status must be one or more of {', '.join(LIST_STATUSES)} (comma-separated), "
            f"got {value!r}",
        )
    return chosen


def _limit(value: str | None) -> int:
    if value is None:
        return PAGE_DEFAULT
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= PAGE_MAX:
        raise InvalidRequest(
            "invalid_field", "limit", f"limit must be a whole number 1 to {PAGE_MAX}, got {value!r}"
        )
    return int(value)


async def list_tickets(request: web.Request) -> web.Response:
    if not request.query:
        # Listing every ticket of a server is not offered: the list is one member's.
        return error_response(
            405,
            "method_not_allowed",
            "GET /api/v1/tickets lists one member's tickets: add ?userId=… "
            "(or POST to open a ticket)",
            headers={"Allow": "POST"},
        )
    _, v1, guild_id = await _begin(request)

    async def run() -> web.Response:
        query = request.query
        for name in query:
            if name not in LIST_QUERY:
                raise InvalidRequest(
                    "unknown_field",
                    name,
                    f"unknown query parameter {name!r} (parameters: {', '.join(LIST_QUERY)})",
                )
        if "userId" not in query:
            raise InvalidRequest("missing_field", "userId", "userId is required")
        user_id = _snowflake(query["userId"], "userId")
        request[SUBJECT] = user_id
        page = await v1.reads.user_tickets(
            guild_id,
            user_id,
            _statuses(query.get("status")),
            query.get("cursor"),
            _limit(query.get("limit")),
        )
        return web.json_response(
            {
                "ok": True,
                "tickets": [ticket_document(t) for t in page.tickets],
                "nextCursor": page.next_cursor,
            }
        )

    return await authenticated(request, guild_id, v1, run)


async def _reason(request: web.Request) -> str | None:
    raw = await request.read()
    if not raw.strip():
        return None
    if request.content_type != "application/json":
        raise InvalidRequest(
            "invalid_content_type",
            "body",
            f"Content-Type must be application/json (got {request.content_type})",
        )
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidRequest("invalid_json", "body", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidRequest("invalid_body", "body", "the body must be a JSON object")
    for key in body:
        if key != "reason":
            raise InvalidRequest("unknown_field", key, f"unknown field {key!r} (fields: reason)")
    reason = body.get("reason")
    if reason is None:
        return None
    if not isinstance(reason, str) or len(reason) > REASON_MAX:
        raise InvalidRequest(
            "invalid_field", "reason", f"reason must be a string of at most {REASON_MAX} characters"
        )
    return reason


async def close_ticket(request: web.Request) -> web.Response:
    _, v1, guild_id = await _begin(request)

    async def run() -> web.Response:
        channel_id = _snowflake(request.match_info["channelId"], "channelId")
        reason = await _reason(request)
        ticket = await v1.reads.ticket(guild_id, channel_id)
        if ticket is None:
            raise TicketNotFound(channel_id)
        request[SUBJECT] = ticket.user_id
        if ticket.state != "open":
            raise TicketNotOpen(channel_id, ticket_status(ticket))
        # The bot closes on the key holder's behalf, with a manager's rights: as staff would.
        actor = Actor(v1.bot_user_id(), frozenset(), manages_channels=True)
        try:
            await v1.lifecycle.close(channel_id, actor, reason)
        except AdminError:
            current = await v1.reads.ticket(guild_id, channel_id)
            if current is not None and current.state != "open":  # closed meanwhile
                raise TicketNotOpen(channel_id, ticket_status(current)) from None
            raise
        closed = await v1.reads.ticket(guild_id, channel_id)
        assert closed is not None
        return web.json_response({"ok": True, "ticket": ticket_document(closed)})

    return await authenticated(request, guild_id, v1, run)


def setup_read_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/panels", list_panels)
    app.router.add_get("/api/v1/tickets", list_tickets)
    app.router.add_get("/api/v1/tickets/{channelId}", get_ticket)
    app.router.add_post("/api/v1/tickets/{channelId}/close", close_ticket)
