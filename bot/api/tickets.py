"""`POST /api/v1/tickets`: authenticate, parse, call `open_ticket`, answer the seed's body."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from bot.api.errors import AuthFailed, AuthThrottled, NotReady
from bot.api.repeats import repeat_if_kept
from bot.api.request_log import recorded
from bot.api.schemas import parse_open_request
from bot.api.v1 import SUBJECT, V1Services, authenticated
from bot.core.admin import ApiKeys
from bot.core.errors import InvalidApiKey
from bot.core.integrations import ApiRequestLog
from bot.core.keys import looks_like_key
from bot.core.limits import FailureLimiter
from bot.core.tickets import TicketService

AUTH_FAILURES_PER_MINUTE = 10


@dataclass(frozen=True, slots=True)
class ApiServices:
    tickets: TicketService
    keys: ApiKeys
    auth_failures: FailureLimiter
    ready: Callable[[], bool]  # False while starting: the member cache is not warm yet
    trusted_proxies: frozenset[str] = frozenset()
    requests: ApiRequestLog | None = None  # what the dashboard shows of the key's requests
    body_timeout: float = 10.0  # seconds for the whole body, once the headers are in
    v1: V1Services | None = None  # read endpoints, idempotency keys, RateLimit fields


SERVICES: web.AppKey[ApiServices] = web.AppKey("services")


def _presented_key(request: web.Request) -> str:
    """The key from `Authorization: Bearer …` or `x-api-key`, checked for shape only."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, key = header.strip().partition(" ")
        if scheme.lower() != "bearer":
            raise AuthFailed(
                "invalid_authorization_header",
                "the Authorization header must be 'Bearer rmp_…' (or send the key in x-api-key)",
            )
    else:
        key = request.headers.get("x-api-key", "")
        if "x-api-key" not in request.headers:
            raise AuthFailed(
                "missing_api_key",
                "send your API key as 'Authorization: Bearer rmp_…' or in the x-api-key header",
            )
    key = key.strip()
    if not key:
        raise AuthFailed("missing_api_key", "the API key is empty")
    if not looks_like_key(key):
        raise AuthFailed(
            "malformed_api_key", "an API key is 'rmp_' followed by 43 URL-safe characters"
        )
    return key


def client_address(request: web.Request, trusted_proxies: frozenset[str]) -> str:
    """Who is calling: behind a trusted reverse proxy, the last address in X-Forwarded-For that
    is not one of the proxies (earlier entries can be forged by the client)."""
    remote = request.remote or "unknown"
    if remote not in trusted_proxies:
        return remote
    hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",")]
    return next((hop for hop in reversed(hops) if hop and hop not in trusted_proxies), remote)


async def authenticate(request: web.Request, services: ApiServices) -> int:
    """The server the key belongs to. A valid key always passes; an address that keeps failing
    gets 429 instead of 401 for the rest of the window."""
    try:
        return await services.keys.authenticate(_presented_key(request))
    except (AuthFailed, InvalidApiKey):
        client = client_address(request, services.trusted_proxies)
        retry_after = services.auth_failures.retry_after(client)
        if retry_after is not None:
            raise AuthThrottled(retry_after) from None
        services.auth_failures.record_failure(client)
        raise


async def open_ticket(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    if not services.ready():
        raise NotReady
    guild_id = await authenticate(request, services)
    refusals = services.v1.refusals if services.v1 is not None else None

    async def run() -> web.Response:
        async with recorded(request, services.requests, guild_id):
            body = await parse_open_request(request, services.body_timeout)
            request[SUBJECT] = body.user_id
            if refusals is not None:
                await repeat_if_kept(request, refusals, (guild_id, body))
            opened = await services.tickets.open_ticket(
                guild_id, body.user_id, body.panel_id, body.button_id, body.answers, "api"
            )
        channel = str(opened.channel_id)
        url = f"https://discord.com/channels/{opened.guild_id}/{channel}"
        return web.json_response({"ok": True, "ticket": {"channelId": channel, "url": url}})

    return await authenticated(request, guild_id, services.v1, run)


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/tickets", open_ticket)
