"""The Integrations page's webhooks: endpoints, their recent deliveries, and "send again".

Every action goes through `WebhookService` (the same one the `rimpllee webhook` command uses),
after the same access check as the rest of the page (Manage Server, decided on each request).
A new endpoint's secret is shown once, on the page that created it, and never again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.core.errors import TicketError
from bot.core.webhooks import EVENT_TYPES, Delivery, Endpoint
from bot.web import views
from bot.web.format import when
from bot.web.security import Redirect

if TYPE_CHECKING:
    from bot.web.app import DashboardServices

RECENT_DELIVERIES = 100  # of the server's, newest first; shown under their endpoint

_NOTICES = {
    "resent": "Delivery queued: it is sent again now.",
    "removed": "Webhook endpoint removed: its pending deliveries are dropped.",
}


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    delivery_id: int
    event_type: str
    event_id: str
    created: str
    state: str
    http_status: str  # the receiver's last answer, or "" without one
    attempts: int
    next_retry: str
    last_error: str


@dataclass(frozen=True, slots=True)
class EndpointView:
    endpoint: Endpoint
    deliveries: list[DeliveryRow]


def _row(delivery: Delivery) -> DeliveryRow:
    return DeliveryRow(
        delivery_id=delivery.delivery_id,
        event_type=delivery.event_type,
        event_id=delivery.event_id,
        created=when(delivery.created_at),
        state=delivery.state,
        http_status="" if delivery.last_status is None else str(delivery.last_status),
        attempts=delivery.attempts,
        next_retry=when(delivery.next_attempt_at) if delivery.state == "pending" else "",
        last_error=delivery.last_error or "",
    )


async def webhook_section(services: DashboardServices, guild_id: int) -> dict[str, Any]:
    """What the page's Webhooks card shows (no secret: it was shown once, at creation)."""
    if services.webhooks is None:
        return {"webhooks": None, "event_types": EVENT_TYPES}
    endpoints = await services.webhooks.endpoints(guild_id)
    recent = await services.webhooks.deliveries(guild_id, RECENT_DELIVERIES)
    return {
        "webhooks": [
            EndpointView(e, [_row(d) for d in recent if d.endpoint_id == e.endpoint_id])
            for e in endpoints
        ],
        "event_types": EVENT_TYPES,
    }


def _webhooks(services: DashboardServices) -> Any:
    if services.webhooks is None:
        raise web.HTTPNotFound
    return services.webhooks


async def add_endpoint(request: web.Request) -> web.Response:
    admin = views._admin(request)
    services = views._services(request)
    form = await request.post()
    events = [str(e) for e in form.getall("events", [])]
    try:
        endpoint = await _webhooks(services).add(
            admin.server.guild_id,
            str(form.get("url") or ""),
            events,
            allow_private=services.webhooks_allow_private,
        )
    except TicketError as exc:
        return await views._integrations(request, admin, problem=str(exc), status=400)
    return await views._integrations(
        request,
        admin,
        new_webhook=endpoint,
        notice=f"Webhook endpoint {endpoint.endpoint_id} added.",
    )


async def remove_endpoint(request: web.Request) -> web.Response:
    admin = views._admin(request)
    services = views._services(request)
    try:
        await _webhooks(services).remove(admin.server.guild_id, request.match_info["endpoint_id"])
    except TicketError as exc:
        return await views._integrations(request, admin, problem=str(exc), status=404)
    raise Redirect(f"/servers/{admin.server.guild_id}/integrations?done=removed#webhooks")


async def send_again(request: web.Request) -> web.Response:
    admin = views._admin(request)
    services = views._services(request)
    try:
        delivery_id = int(request.match_info["delivery_id"])
        await _webhooks(services).send_again(admin.server.guild_id, delivery_id)
    except (TicketError, ValueError) as exc:
        problem = str(exc) if isinstance(exc, TicketError) else "no such delivery"
        return await views._integrations(request, admin, problem=problem, status=404)
    services.wake_deliveries()
    raise Redirect(f"/servers/{admin.server.guild_id}/integrations?done=resent#webhooks")


def notice_for(request: web.Request) -> str | None:
    return _NOTICES.get(request.query.get("done", ""))


def setup_routes(app: web.Application) -> None:
    g = "/servers/{guild_id}/integrations/webhooks"
    app.router.add_post(g, add_endpoint)
    app.router.add_post(g + "/{endpoint_id}/remove", remove_endpoint)
    app.router.add_post(g + "/deliveries/{delivery_id}/send-again", send_again)
