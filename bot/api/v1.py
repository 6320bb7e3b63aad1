"""What every authenticated `/api/v1` answer shares: errors as JSON, idempotent POSTs and the
RateLimit fields. The routes call `authenticated` with the work to do."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from bot.api.errors import MAPPED_ERRORS, response_for
from bot.api.idempotency import HEADER, idempotent
from bot.api.ratelimit import add_rate_limit_fields
from bot.api.repeats import KeptRefusals, Repeated, keep_if_refused
from bot.core.idempotency import IdempotencyKeys
from bot.core.lifecycle import LifecycleService
from bot.core.quotas import Quotas
from bot.core.reads import Reads

# The member a request is about, once known: the RateLimit fields then include their cooldown.
SUBJECT: web.RequestKey[int] = web.RequestKey("subject_user_id", int)


@dataclass(frozen=True, slots=True)
class V1Services:
    idempotency: IdempotencyKeys
    quotas: Quotas
    reads: Reads
    lifecycle: LifecycleService
    bot_user_id: Callable[[], int]
    refusals: KeptRefusals | None = None  # refused opens answered again from memory


async def _answer(run: Callable[[], Awaitable[web.Response]]) -> web.Response:
    try:
        return await run()
    except MAPPED_ERRORS as exc:
        return response_for(exc)


async def authenticated(
    request: web.Request,
    guild_id: int,
    v1: V1Services | None,
    run: Callable[[], Awaitable[web.Response]],
) -> web.Response:
    """Run a request already authenticated for `guild_id`, as one answer to store and decorate."""
    refused: Exception | None = None
    try:
        if v1 is not None and request.method == "POST" and HEADER in request.headers:
            response = await idempotent(request, guild_id, v1.idempotency, lambda: _answer(run))
        else:
            response = await run()
    except Repeated as repeated:
        return repeated.answer.response()  # complete as it was kept
    except MAPPED_ERRORS as exc:
        response, refused = response_for(exc), exc
    if v1 is not None:
        standing = await v1.quotas.state(guild_id, request.get(SUBJECT), refused)
        add_rate_limit_fields(response, standing.quotas)
        if refused is not None and v1.refusals is not None:
            holds = (standing.at, standing.until)
            keep_if_refused(request, v1.refusals, response, refused, holds)
    return response
