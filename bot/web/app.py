"""Mounting the dashboard on the API's aiohttp app: templates, static files, one middleware."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.core.access import MemberDirectory
from bot.core.admin import ApiKeys, Blacklist, Settings
from bot.core.integrations import ApiRequestLog
from bot.core.models import Panel
from bot.core.sessions import DiscordLogin, Sessions
from bot.core.webhooks import WebhookService
from bot.web import views, webhooks
from bot.web.format import when
from bot.web.security import (
    COOKIE,
    PAGE_HEADERS,
    SAFE_METHODS,
    SESSION,
    PageError,
    Redirect,
    check_csrf,
)

_LOG = logging.getLogger("rimpllee.dashboard")

# Paths that belong to the JSON API: the dashboard leaves them alone.
API_PATHS = ("/api/", "/healthz")


class PanelList(Protocol):
    async def list_panels(self, guild_id: int) -> list[Panel]: ...


@dataclass(frozen=True, slots=True)
class DashboardServices:
    sessions: Sessions
    login: DiscordLogin
    client_id: Callable[[], int]  # the config's, or the bot's own application ID
    public_url: Callable[[], str]  # as browsers see the site, no trailing slash (known once bound)
    directory: MemberDirectory
    keys: ApiKeys
    blacklist: Blacklist
    settings: Settings
    requests: ApiRequestLog
    panels: PanelList
    webhooks: WebhookService | None = None  # the Integrations page's webhooks card
    webhooks_allow_private: bool = False  # the config's webhooks.allow_private_targets
    wake_deliveries: Callable[[], None] = lambda: None  # "send again" sends now

    @property
    def secure_cookies(self) -> bool:
        return self.public_url().startswith("https://")


DASHBOARD: web.AppKey[DashboardServices] = web.AppKey("dashboard")


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def dashboard_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Session, CSRF, HTML error pages and security headers for everything but the API."""
    if request.path.startswith(API_PATHS):
        return await handler(request)
    services = request.app[DASHBOARD]
    if not request.path.startswith("/static/"):  # files are the same for everyone
        request[SESSION] = await services.sessions.find(request.cookies.get(COOKIE, ""))
    try:
        if request.method not in SAFE_METHODS:
            await check_csrf(request)
        response = await handler(request)
    except Redirect as exc:
        response = web.Response(status=303, headers={"Location": exc.location})
    except PageError as exc:
        response = views.error_page(request, exc.status, exc.title, exc.message)
    except web.HTTPNotFound:
        response = views.error_page(request, 404, "Not found", "There is no such page.")
    except web.HTTPMethodNotAllowed:
        response = views.error_page(
            request, 405, "Not allowed", "This page can't be used that way."
        )
    except web.HTTPException:
        raise
    except Exception:
        _LOG.exception("dashboard failed on %s %s", request.method, request.path)
        response = views.error_page(
            request, 500, "Something went wrong", "The bot's log has the details."
        )
    for name, value in PAGE_HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def install_dashboard(app: web.Application, services: DashboardServices) -> None:
    """Add the dashboard's routes to the app that serves /api/v1 (before it starts)."""
    app[DASHBOARD] = services
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("bot.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["when"] = when
    app.middlewares.append(dashboard_pages)
    static = Path(str(resources.files("bot.web").joinpath("static")))
    route = app.router.add_static("/static/", static, append_version=True)
    urls = {f.name: str(route.url_for(filename=f.name)) for f in static.iterdir()}
    env.globals["asset"] = urls.__getitem__  # versioned once: a changed file gets a new URL
    views.setup_routes(app)
    webhooks.setup_routes(app)
