"""The OpenAPI 3.1 document of the HTTP API, written by hand next to the code it describes.

Written, not generated: the routes are plain aiohttp handlers with hand-written parsers, so there is
nothing to generate it from without a framework; instead every response the test suite receives
is validated against this document (tests/openapi_check.py), so the two cannot drift apart. The
limits in it come from the same constants the code uses.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from bot.api.idempotency import KEY_MAX
from bot.api.schemas import ANSWERS_MAX, ID_MAX, LABEL_MAX, VALUE_MAX
from bot.core.lifecycle import REASON_MAX
from bot.core.reads import PAGE_MAX
from bot.core.webhooks import EVENT_TYPES

JSON = dict[str, Any]
VERSION = "1.1.0"

SNOWFLAKE: JSON = {
    "type": "string",
    "pattern": "^[0-9]{1,20}$",
    "description": "A Discord ID, as a string (JSON numbers lose digits above 2^53).",
    "examples": ["123456789012345678"],
}
NULLABLE_SNOWFLAKE: JSON = {**SNOWFLAKE, "type": ["string", "null"]}
TIME: JSON = {
    "type": ["string", "null"],
    "format": "date-time",
    "description": "ISO 8601, UTC.",
}


def _header(description: str, schema: JSON | None = None) -> JSON:
    return {"description": description, "schema": schema or {"type": "string"}}


HEADERS: dict[str, JSON] = {
    "X-Request-Id": _header(
        "This request's ID: the client's own `X-Request-Id` when it sent a valid one (1-128 of "
        "`A-Za-z0-9._:/+=@-`), else a new `req_…`. The bot's log line names it."
    ),
    "RateLimit-Policy": _header(
        'The ticket rate limits (IETF draft RateLimit fields): `"server";q=30;w=60` — 30 '
        "tickets per rolling 60 s on the server — and, when the request names a member, "
        '`"user";q=1;w=20` — their cooldown.'
    ),
    "RateLimit": _header(
        'Where they stand now: `"server";r=29;t=58, "user";r=0;t=20` — `r` tickets remaining, '
        "`t` seconds until the quota frees up."
    ),
    "Retry-After": _header(
        "Whole seconds to wait before retrying.", {"type": "string", "pattern": "^[0-9]+$"}
    ),
    "Idempotent-Replayed": _header(
        "`true` when this is the stored answer to an earlier request with the same "
        "`Idempotency-Key`.",
        {"type": "string", "enum": ["true"]},
    ),
    "WWW-Authenticate": _header('`Bearer realm="rimpllee"`.'),
    "Allow": _header("The methods the path accepts."),
}


def _ref(name: str) -> JSON:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(properties: JSON, required: list[str] | None = None, **extra: Any) -> JSON:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
        **extra,
    }


# Error codes by status, and what each adds to `error` besides code and message.
ERRORS: dict[int, dict[str, str]] = {
    400: {
        "invalid_content_type": "Content-Type is not application/json.",
        "invalid_content_encoding": "Content-Encoding is not identity, gzip or deflate, or the "
        "body is not encoded as it says.",
        "incomplete_request": "The client disconnected before the whole body arrived.",
        "bad_http_request": "aiohttp's HTTP parser refused the request (malformed request line, "
        "header or chunk); answered before the API sees it.",
        "invalid_json": "The body is not JSON.",
        "invalid_body": "The body is not a JSON object.",
        "unknown_field": "A field (or query parameter) the API doesn't know, with a hint.",
        "missing_field": "A required field is absent.",
        "invalid_field": "A field has the wrong type, format or size.",
        "unknown_question": "An answer's label is not a question of the button.",
        "duplicate_answer": "A question is answered twice.",
        "missing_answer": "A required question has no answer.",
        "invalid_answer": "An answer is too short or too long for its question.",
        "answers_too_long": "The answers don't fit the welcome message (6000 characters).",
        "user_not_member": "The user is not a member of the server.",
        "invalid_idempotency_key": "Idempotency-Key is empty, over 255 characters or not ASCII.",
        "invalid_request": "The action can't be done as asked (the message says why).",
    },
    401: {
        "missing_api_key": "No key in either header.",
        "invalid_authorization_header": "Authorization is not `Bearer …`.",
        "malformed_api_key": "Not shaped like a key (`rmp_` + 43 characters).",
        "invalid_api_key": "Unknown, regenerated or revoked key.",
    },
    403: {"blacklisted": "The user is on the server's ticket blacklist."},
    404: {
        "panel_not_found": "No such panel on this server.",
        "button_not_found": "No such button on that panel.",
        "ticket_not_found": "No ticket with that channel on this server.",
        "not_found": "No such endpoint.",
    },
    405: {"method_not_allowed": "Wrong method; `Allow` lists the right ones."},
    408: {"request_timeout": "The whole body did not arrive within http.body_timeout_seconds."},
    409: {
        "max_open_reached": "The user has the maximum open tickets (`limit`, `max`, `channelId`).",
        "idempotency_key_in_use": "The first request with this key is still running.",
        "ticket_not_open": "The ticket is closed or archived already (`ticketStatus`).",
    },
    413: {"body_too_large": "The body is over 64 KiB, as sent or once decompressed."},
    431: {"headers_too_large": "The request's headers are too large (answered by the parser)."},
    422: {"idempotency_key_reused": "The key was first used with a different request."},
    429: {
        "rate_limited": "The server's 30 per minute or the user's 20 s cooldown (`scope`).",
        "too_many_auth_failures": "This address failed authentication 10 times in 60 s.",
    },
    500: {
        "discord_error": "Discord refused or failed: the message names the cause.",
        "internal_error": "A bug; details only in the bot's log.",
    },
    503: {"not_ready": "The bot is still starting."},
}

_ERROR_FIELDS: JSON = {
    "field": {
        "type": ["string", "null"],
        "description": "The field, query parameter or header at fault.",
    },
    "limit": {"type": "string", "enum": ["button", "server"]},
    "max": {"type": "integer"},
    "channelId": NULLABLE_SNOWFLAKE,
    "scope": {"type": "string", "enum": ["server", "user", "client"]},
    "retryAfter": {"type": "integer", "minimum": 1},
    "ticketStatus": {"type": "string", "enum": ["open", "closed", "archived", "opening"]},
}


def _error_schema(status: int) -> JSON:
    codes = ERRORS[status]
    detail = _obj(
        {
            "code": {
                "type": "string",
                "enum": list(codes),
                "description": "Stable; see the table above.",
            },
            "message": {"type": "string", "minLength": 1, "description": "For people."},
            **_ERROR_FIELDS,
        },
        required=["code", "message"],
    )
    return _obj({"ok": {"const": False}, "error": detail})


def _response(
    description: str,
    schema: JSON,
    *,
    headers: tuple[str, ...] = (),
    required: tuple[str, ...] = ("X-Request-Id",),
    media: str = "application/json",
) -> JSON:
    named = dict.fromkeys(("X-Request-Id", *headers))
    return {
        "description": description,
        "headers": {name: {**HEADERS[name], "required": name in required} for name in named},
        "content": {media: {"schema": schema}},
    }


def _errors(*statuses: int, authenticated: bool = True) -> dict[str, JSON]:
    out = {}
    for status in statuses:
        headers: list[str] = []
        if authenticated and status not in (401, 503):
            headers += ["RateLimit-Policy", "RateLimit", "Idempotent-Replayed"]
        if status in (409, 429, 503):
            headers.append("Retry-After")
        if status == 401:
            headers.append("WWW-Authenticate")
        if status == 405:
            headers.append("Allow")
        lines = "; ".join(f"`{c}`: {d}" for c, d in ERRORS[status].items())
        out[str(status)] = _response(lines, _ref(f"Error{status}"), headers=tuple(headers))
    return out


def _ok(description: str, schema: JSON, *, post: bool = False) -> dict[str, JSON]:
    headers = ("RateLimit-Policy", "RateLimit") + (("Idempotent-Replayed",) if post else ())
    return {
        "200": _response(
            description,
            schema,
            headers=headers,
            required=("X-Request-Id", "RateLimit-Policy", "RateLimit"),
        )
    }


SECURITY: list[JSON] = [{"bearer": []}, {"apiKey": []}]
IDEMPOTENCY_PARAMETER: JSON = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Makes a retry safe: the first answer to a request with this key is stored for 24 hours "
        "and replayed (marked `Idempotent-Replayed: true`) to every retry with the same key. "
        "The same key with another request → 422 `idempotency_key_reused`; while the first is "
        "still running → 409 `idempotency_key_in_use`. Use a fresh UUID per intended action."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": KEY_MAX},
}
REQUEST_ID_PARAMETER: JSON = {
    "name": "X-Request-Id",
    "in": "header",
    "required": False,
    "description": "Your own ID for this request, echoed in the answer and the bot's log.",
    "schema": {"type": "string", "maxLength": 128},
}
CHANNEL_PARAMETER: JSON = {
    "name": "channelId",
    "in": "path",
    "required": True,
    "description": "The ticket's channel ID (what opening it returned).",
    "schema": {"type": "string"},
}
COMMON_ERRORS = (400, 401, 429, 503)


def _schemas() -> dict[str, JSON]:
    question = _obj(
        {
            "questionId": {"type": "string"},
            "label": {"type": "string"},
            "placeholder": {"type": ["string", "null"]},
            "style": {"type": "string", "enum": ["short", "paragraph"]},
            "required": {"type": "boolean"},
            "minLength": {"type": ["integer", "null"]},
            "maxLength": {"type": ["integer", "null"]},
        }
    )
    button = _obj(
        {
            "buttonId": {"type": "string"},
            "label": {"type": "string"},
            "emoji": {"type": ["string", "null"]},
            "style": {"type": "string", "enum": ["primary", "secondary", "success", "danger"]},
            "maxOpen": {"type": "integer", "minimum": 1},
            "questions": {"type": "array", "items": question},
        }
    )
    panel = _obj(
        {
            "panelId": {"type": "string"},
            "title": {"type": "string"},
            "description": {"type": ["string", "null"]},
            "buttons": {"type": "array", "items": button},
        }
    )
    answer_in = _obj(
        {
            "label": {"type": "string", "minLength": 1, "maxLength": LABEL_MAX},
            "value": {"type": "string", "maxLength": VALUE_MAX},
        }
    )
    ticket = _obj(
        {
            "channelId": NULLABLE_SNOWFLAKE,
            "url": {"type": ["string", "null"], "format": "uri"},
            "number": {"type": "integer", "minimum": 1},
            "status": {"type": "string", "enum": ["opening", "open", "closed", "archived"]},
            "userId": SNOWFLAKE,
            "panelId": {"type": ["string", "null"]},
            "buttonId": {"type": ["string", "null"]},
            "source": {"type": "string", "enum": ["button", "api"]},
            "answers": {"type": "array", "items": _ref("Answer")},
            "openedAt": {**TIME, "type": "string"},
            "claimedAt": TIME,
            "claimedBy": NULLABLE_SNOWFLAKE,
            "closedAt": TIME,
            "closedBy": NULLABLE_SNOWFLAKE,
            "closeReason": {"type": ["string", "null"]},
        },
        description="A ticket, identified by its channel. `archived`: closed, its channel kept.",
    )
    event_data = copy.deepcopy(ticket)
    event_data["properties"] = {
        "guildId": SNOWFLAKE,
        "by": {
            **NULLABLE_SNOWFLAKE,
            "description": "Who did it (null when nobody did, e.g. a channel deleted by hand).",
        },
        **ticket["properties"],
    }
    event_data["required"] = list(event_data["properties"])
    schemas: dict[str, JSON] = {
        "OpenTicket": _obj(
            {
                "userId": SNOWFLAKE,
                "panelId": {"type": "string", "minLength": 1, "maxLength": ID_MAX},
                "buttonId": {"type": "string", "minLength": 1, "maxLength": ID_MAX},
                "answers": {"type": "array", "maxItems": ANSWERS_MAX, "items": answer_in},
            },
            required=["userId", "panelId", "buttonId"],
        ),
        "Opened": _obj(
            {
                "ok": {"const": True},
                "ticket": _obj(
                    {"channelId": SNOWFLAKE, "url": {"type": "string", "format": "uri"}}
                ),
            }
        ),
        "Answer": _obj({"label": {"type": "string"}, "value": {"type": "string"}}),
        "Ticket": ticket,
        "TicketAnswer": _obj({"ok": {"const": True}, "ticket": _ref("Ticket")}),
        "TicketPage": _obj(
            {
                "ok": {"const": True},
                "tickets": {"type": "array", "items": _ref("Ticket")},
                "nextCursor": {
                    "type": ["string", "null"],
                    "description": "Pass as `cursor` for the next page; null on the last.",
                },
            }
        ),
        "Panels": _obj({"ok": {"const": True}, "panels": {"type": "array", "items": panel}}),
        "Close": _obj(
            {"reason": {"type": ["string", "null"], "maxLength": REASON_MAX}}, required=[]
        ),
        "Health": _obj(
            {
                "ok": {"type": "boolean"},
                "gateway": {"type": "string", "enum": ["connected", "disconnected"]},
                "database": {"type": "string", "enum": ["open", "closed"]},
                "ready": {
                    "type": "boolean",
                    "description": "Start-up is done and the API serves; until then (settling "
                    "interrupted opens, checking openers who left) `/api/v1` answers 503 "
                    "`not_ready` while this probe already says 200. A supervisor's liveness "
                    "check is the status; its readiness check is this field.",
                },
                "members": _obj(
                    {
                        "servers": {"type": "integer", "minimum": 0},
                        "known": {
                            "type": "integer",
                            "minimum": 0,
                            "description": "Servers whose members have all arrived.",
                        },
                    }
                ),
            },
            required=["ok", "gateway", "database", "ready"],
        ),
        "TicketEvent": _obj(
            {
                "id": {"type": "string", "description": "Unique; the `webhook-id` header."},
                "type": {"type": "string", "enum": list(EVENT_TYPES)},
                "timestamp": {"type": "string", "format": "date-time"},
                "data": event_data,
            }
        ),
    }
    for status in ERRORS:
        schemas[f"Error{status}"] = _error_schema(status)
    return schemas


def _document() -> JSON:
    open_ticket = {
        "operationId": "openTicket",
        "summary": "Open a ticket",
        "description": (
            "Opens a ticket for a member exactly as if they had clicked the button: the same "
            "checks, limits, channel, permissions and welcome message. Checks run in this order: "
            "authentication, body, panel/button, answers, membership, blacklist, open-ticket "
            "limits, rate limits."
        ),
        "security": SECURITY,
        "parameters": [IDEMPOTENCY_PARAMETER, REQUEST_ID_PARAMETER],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref("OpenTicket")}},
        },
        "responses": {
            **_ok("The ticket is open.", _ref("Opened"), post=True),
            **_errors(400, 401, 403, 404, 408, 409, 413, 422, 429, 500, 503),
        },
    }
    list_tickets = {
        "operationId": "listTickets",
        "summary": "A member's tickets",
        "description": (
            "Newest first, a page at a time. Without any query parameter this path answers 405 "
            "(there is no list of every ticket of a server)."
        ),
        "security": SECURITY,
        "parameters": [
            {"name": "userId", "in": "query", "required": True, "schema": {"type": "string"}},
            {
                "name": "status",
                "in": "query",
                "required": False,
                "description": "Comma-separated: open, closed, archived (default: all three).",
                "schema": {"type": "string"},
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "description": f"Tickets per page, 1 to {PAGE_MAX} (default 25).",
                "schema": {"type": "string"},
            },
            {
                "name": "cursor",
                "in": "query",
                "required": False,
                "description": "`nextCursor` of the page before.",
                "schema": {"type": "string"},
            },
            REQUEST_ID_PARAMETER,
        ],
        "responses": {
            **_ok("One page.", _ref("TicketPage")),
            **_errors(*COMMON_ERRORS),
            **_errors(405, authenticated=False),
        },
    }
    get_ticket = {
        "operationId": "getTicket",
        "summary": "One ticket",
        "security": SECURITY,
        "parameters": [CHANNEL_PARAMETER, REQUEST_ID_PARAMETER],
        "responses": {
            **_ok("The ticket.", _ref("TicketAnswer")),
            **_errors(*COMMON_ERRORS, 404),
        },
    }
    close_ticket = {
        "operationId": "closeTicket",
        "summary": "Close a ticket",
        "description": (
            "Closes it exactly as staff would: transcript, log channel, the opener's DM and "
            "delete or archive per the server's settings. The bot is recorded as who closed it."
        ),
        "security": SECURITY,
        "parameters": [CHANNEL_PARAMETER, IDEMPOTENCY_PARAMETER, REQUEST_ID_PARAMETER],
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": _ref("Close")}},
        },
        "responses": {
            **_ok("The ticket, closed.", _ref("TicketAnswer"), post=True),
            **_errors(*COMMON_ERRORS, 404, 408, 409, 413, 422, 500),
        },
    }
    panels = {
        "operationId": "listPanels",
        "summary": "The server's panels",
        "description": "Every panel with its buttons and their intake questions, to build a form.",
        "security": SECURITY,
        "parameters": [REQUEST_ID_PARAMETER],
        "responses": {**_ok("The panels.", _ref("Panels")), **_errors(401, 429, 503)},
    }
    health = {
        "operationId": "health",
        "summary": "Health probe",
        "responses": {
            "200": _response("Up.", _ref("Health")),
            "503": _response("The gateway is down or the database closed.", _ref("Health")),
        },
    }
    document = {
        "operationId": "openapi",
        "summary": "This document",
        "responses": {"200": _response("OpenAPI 3.1.", {"type": "object"})},
    }
    reference = {
        "operationId": "reference",
        "summary": "This API's reference, as a web page",
        "responses": {"200": _response("HTML.", {"type": "string"}, media="text/html")},
    }
    event = {
        "summary": "A ticket event",
        "description": (
            "POSTed to each endpoint subscribed to its type, signed per the Standard Webhooks "
            "spec: `webhook-id` (the event's unique ID: deduplicate by it), `webhook-timestamp` "
            "(Unix seconds) and `webhook-signature` (`v1,` + base64 HMAC-SHA256 of "
            "`id.timestamp.body` with the endpoint's secret). Delivered at least once, in order "
            "per ticket; any 2xx acknowledges; otherwise retried after 5 s, 5 min, 30 min, 2 h, "
            "5 h, 10 h and 10 h."
        ),
        "parameters": [
            {"name": name, "in": "header", "required": True, "schema": {"type": "string"}}
            for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref("TicketEvent")}},
        },
        "responses": {"2XX": {"description": "Received."}},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Rimpllee API",
            "version": VERSION,
            "summary": "Open, read and close Discord tickets from your website.",
            "description": (
                "A self-hosted Discord ticket bot's HTTP API. Every error is JSON: "
                '`{"ok": false, "error": {"code", "message", ...}}` with a stable `code`. '
                "Every answer carries `X-Request-Id`; every authenticated answer the RateLimit "
                "fields. Discord IDs are strings."
            ),
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": "/", "description": "wherever the bot's HTTP listener runs"}],
        "paths": {
            "/api/v1/tickets": {"post": open_ticket, "get": list_tickets},
            "/api/v1/tickets/{channelId}": {"get": get_ticket},
            "/api/v1/tickets/{channelId}/close": {"post": close_ticket},
            "/api/v1/panels": {"get": panels},
            "/api/v1/openapi.json": {"get": document},
            "/api/v1/docs": {"get": reference},
            "/healthz": {"get": health},
        },
        "webhooks": {"ticketEvent": {"post": event}},
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "`Authorization: Bearer rmp_…`",
                },
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            },
        },
    }


@functools.cache
def openapi_document() -> JSON:
    return _document()
