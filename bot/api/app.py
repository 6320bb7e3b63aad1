"""The HTTP listener: app factory, JSON errors for every failure, and the health probe.

Only this package touches aiohttp. Routes translate HTTP into calls on the services they are handed
and back; they decide nothing about tickets.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Middleware

from bot.api import requests
from bot.api.errors import MAPPED_ERRORS, error_response, response_for
from bot.api.read import setup_read_routes
from bot.api.reference import setup_reference_routes
from bot.api.requests import request_id
from bot.api.schemas import MAX_BODY_BYTES
from bot.api.tickets import SERVICES, ApiServices, setup_routes

_LOG = logging.getLogger("rimpllee.api")


@dataclass(frozen=True, slots=True)
class Health:
    gateway_connected: bool
    database_open: bool
    servers: int = 0
    servers_with_members_known: int = 0  # the rest cost one more Discord call per open
    ready: bool = False  # start-up is done: the API serves (until then it answers 503 not_ready)

    @property
    def ok(self) -> bool:
        return self.gateway_connected and self.database_open


HealthProbe = Callable[[], Health]
HEALTH: web.AppKey[HealthProbe] = web.AppKey("health")


@web.middleware
async def answers(
    request: web.Request,
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> web.StreamResponse:
    """The app's own middleware: the request ID and `Server` on every answer, and every failure
    as `{"ok": false, "error": {code, message}}` with nothing internal leaked. One layer rather
    than two: each costs every request, refusals included."""
    rid = requests.assign(request)
    started = time.perf_counter()
    try:
        response = await handler(request)
    except MAPPED_ERRORS as exc:
        response = response_for(exc)
    except Exception as exc:  # every failure is answered; `error_answer` logs the unknown
        response = error_answer(request, exc)
    requests.finish(request, response, rid, started)
    return response


def error_answer(request: web.Request, exc: Exception) -> web.Response:
    """The JSON answer for a failure outside the domain's table (routing, body size, bugs)."""
    if isinstance(exc, web.HTTPNotFound):
        return error_response(
            404, "not_found", f"no such endpoint: {request.method} {request.path}"
        )
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        return error_response(
            405,
            "method_not_allowed",
            f"{request.method} is not allowed on {request.path} (allowed: {allowed})",
            headers={"Allow": allowed},
        )
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return error_response(
            413, "body_too_large", f"request body is larger than {MAX_BODY_BYTES} bytes"
        )
    if isinstance(exc, ConnectionError):
        # The client went away mid-request: nobody reads this answer, and it is not our bug.
        _LOG.debug(
            "client %s disconnected during %s %s: %s",
            request.remote,
            request.method,
            request.path,
            exc,
        )
        return error_response(400, "incomplete_request", "the client disconnected")
    _LOG.error(
        "unhandled error on %s %s (request_id=%s)",
        request.method,
        request.path,
        request_id(request),
        exc_info=exc,
    )
    return error_response(500, "internal_error", "internal error; the bot's log has details")


async def healthz(request: web.Request) -> web.Response:
    health = request.app[HEALTH]()
    body = {
        "ok": health.ok,
        "gateway": "connected" if health.gateway_connected else "disconnected",
        "database": "open" if health.database_open else "closed",
        "ready": health.ready and health.ok,
        "members": {"servers": health.servers, "known": health.servers_with_members_known},
    }
    return web.json_response(body, status=200 if health.ok else 503)


def create_app(
    health: HealthProbe, services: ApiServices, middlewares: Sequence[Middleware] = ()
) -> web.Application:
    """`middlewares` run outside the app's own (the tests record every exchange with one)."""
    app = web.Application(middlewares=[*middlewares, answers], client_max_size=MAX_BODY_BYTES)
    app[HEALTH] = health
    app[SERVICES] = services
    app.router.add_get("/healthz", healthz)
    setup_routes(app)
    setup_reference_routes(app)
    if services.v1 is not None:
        setup_read_routes(app)
    return app
