"""The dashboard's pages. Each view parses the form, asks a core service, renders; no rules here."""

from __future__ import annotations

import hmac
import json
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp_jinja2
from aiohttp import web

from bot.core.access import MemberDirectory, NamedId, Right, ServerRef, may, servers_for
from bot.core.errors import TicketError
from bot.core.models import Panel, ServerSettings
from bot.core.sessions import LoginFailed, Session, safe_next_path
from bot.core.webhooks import Endpoint
from bot.web.format import when
from bot.web.security import (
    COOKIE,
    LOGIN_COOKIE,
    PageError,
    Redirect,
    clear_session_cookie,
    require_session,
    session_of,
    set_login_cookie,
    set_session_cookie,
)

if TYPE_CHECKING:
    from bot.web.app import DashboardServices

CURL_TEST_ANSWER = "Test from the dashboard"


def _services(request: web.Request) -> DashboardServices:
    from bot.web.app import DASHBOARD  # noqa: PLC0415 - app.py imports this module

    return request.app[DASHBOARD]


def render(
    request: web.Request, template: str, context: dict[str, Any], status: int = 200
) -> web.Response:
    session = session_of(request)
    base = {
        "user": session,
        "csrf": session.csrf_token if session else "",
        "server": None,
        "tab": None,
        "notice": None,
        "problem": None,
    }
    return aiohttp_jinja2.render_template(template, request, base | context, status=status)


def error_page(request: web.Request, status: int, title: str, message: str) -> web.Response:
    return render(request, "error.html", {"title": title, "message": message}, status)


# -- login ------------------------------------------------------------------------------------


def _redirect_uri(services: DashboardServices) -> str:
    return services.public_url() + "/login/callback"


async def home(request: web.Request) -> web.Response:
    session = session_of(request)
    if session is None:
        return render(request, "login.html", {"configured": _services(request).login.configured})
    servers = servers_for(_services(request).directory, session.user_id)
    return render(request, "servers.html", {"servers": [s for s, _ in servers]})


async def login(request: web.Request) -> web.Response:
    services = _services(request)
    if not services.login.configured:
        raise PageError(
            503,
            "Login is not set up",
            "Set dashboard.client_secret in the config (or RIMPLLEE_CLIENT_SECRET) to the "
            "application's client secret, then restart the bot.",
        )
    state = await services.sessions.begin_login(request.query.get("next"))
    url = services.login.authorize_url(services.client_id(), _redirect_uri(services), state)
    response = web.Response(status=303, headers={"Location": url})
    set_login_cookie(response, state, secure=services.secure_cookies)
    return response


async def login_callback(request: web.Request) -> web.Response:
    services = _services(request)
    state = request.query.get("state", "")
    # The state must be the one this browser was sent off with: a callback link made by
    # someone else (to log you in as them) is refused.
    started_here = hmac.compare_digest(
        request.cookies.get(LOGIN_COOKIE, "").encode(), state.encode()
    )
    next_path = await services.sessions.take_state(state) if started_here else None
    if next_path is None:
        raise PageError(
            400,
            "Login expired",
            "This login link has expired or was already used. Log in again.",
        )
    if "error" in request.query or not request.query.get("code"):
        raise PageError(400, "Login cancelled", "Discord did not log you in. Log in again.")
    try:
        user = await services.login.user_for_code(
            services.client_id(), request.query["code"], _redirect_uri(services)
        )
    except LoginFailed as exc:
        raise PageError(400, "Login failed", f"{exc}. Log in again.") from exc
    session_id = await services.sessions.start(user.user_id, user.username)
    response = web.Response(status=303, headers={"Location": safe_next_path(next_path)})
    set_session_cookie(response, session_id, secure=services.secure_cookies)
    response.del_cookie(LOGIN_COOKIE, path="/login")
    return response


async def logout(request: web.Request) -> web.Response:
    services = _services(request)
    await services.sessions.end(request.cookies.get(COOKIE, ""))
    response = web.Response(status=303, headers={"Location": "/"})
    clear_session_cookie(response, secure=services.secure_cookies)
    return response


# -- a server's pages -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Admin:
    """A request from someone who may manage this server, decided on this very request."""

    session: Session
    server: ServerRef


def _admin(request: web.Request) -> Admin:
    session = require_session(request)
    services = _services(request)
    try:
        guild_id = int(request.match_info["guild_id"])
    except ValueError:
        raise web.HTTPNotFound from None
    server = services.directory.server(guild_id)
    if server is None:
        raise PageError(404, "Server not found", "Rimpllee is not in this server.")
    if not may(services.directory.member(guild_id, session.user_id), Right.MANAGE_SERVER):
        raise PageError(
            403,
            "Not allowed",
            f"You need the Manage Server permission on {server.name} to manage it here.",
        )
    return Admin(session, server)


def _page(request: web.Request, admin: Admin, template: str, **context: Any) -> web.Response:
    status = context.pop("status", 200)
    return render(request, template, {"server": admin.server, **context}, status)


async def server_home(request: web.Request) -> web.Response:
    admin = _admin(request)
    raise Redirect(f"/servers/{admin.server.guild_id}/integrations")


def example_curl(api_url: str, key: str, user_id: int, panels: list[Panel]) -> str | None:
    """A request that opens a real ticket on this server: its first button, questions answered."""
    button = next((b for p in panels for b in p.buttons), None)
    if button is None:
        return None
    body: dict[str, Any] = {
        "userId": str(user_id),
        "panelId": button.panel_id,
        "buttonId": button.button_id,
    }
    if button.questions:
        body["answers"] = [
            {"label": q.label, "value": CURL_TEST_ANSWER} for q in button.questions if q.required
        ] or [{"label": button.questions[0].label, "value": CURL_TEST_ANSWER}]
    return (
        f"curl -s -X POST {api_url} \\\n"
        f'  -H "Authorization: Bearer {key}" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        f"  -d {shlex.quote(json.dumps(body, ensure_ascii=False))}"
    )


async def _integrations(
    request: web.Request,
    admin: Admin,
    *,
    new_key: str | None = None,
    new_webhook: Endpoint | None = None,
    notice: str | None = None,
    problem: str | None = None,
    status: int = 200,
) -> web.Response:
    from bot.web.webhooks import webhook_section  # noqa: PLC0415 - it imports this module

    services = _services(request)
    guild_id = admin.server.guild_id
    key = await services.keys.status(guild_id)
    last_used = await services.requests.last_used(guild_id, key.created_at) if key else None
    created_by = None
    if key is not None and key.created_by:
        name = services.directory.member_name(guild_id, key.created_by)
        created_by = name or f"user {key.created_by}"
    curl = example_curl(
        services.public_url() + "/api/v1/tickets",
        new_key or "$RIMPLLEE_API_KEY",
        admin.session.user_id,
        await services.panels.list_panels(guild_id),
    )
    return _page(
        request,
        admin,
        "integrations.html",
        tab="integrations",
        key=key,
        created_by=created_by,
        last_used=last_used,
        new_key=new_key,
        curl=curl,
        requests=[  # plain strings: 200 rows render without an attribute lookup or filter each
            (
                "ok" if r.status < 400 else "bad",
                when(r.at),
                str(r.status),
                r.error_code or "",
                r.user_id or "",
                r.panel_id or "",
                r.button_id or "",
                r.request_id or "",
            )
            for r in await services.requests.recent(guild_id)
        ],
        new_webhook=new_webhook,
        **await webhook_section(services, guild_id),
        notice=notice,
        problem=problem,
        status=status,
    )


async def integrations(request: web.Request) -> web.Response:
    from bot.web.webhooks import notice_for  # noqa: PLC0415 - it imports this module

    return await _integrations(request, _admin(request), notice=notice_for(request))


async def generate_key(request: web.Request) -> web.Response:
    admin = _admin(request)
    services = _services(request)
    try:
        key = await services.keys.generate(admin.server.guild_id, admin.session.user_id)
    except TicketError as exc:
        return await _integrations(request, admin, problem=str(exc), status=409)
    return await _integrations(request, admin, new_key=key, notice="API key generated.")


_CONFIRM = {
    "regenerate": (
        "Regenerate the API key?",
        "The current key stops working at once: every request that still sends it is refused "
        "with 401 invalid_api_key. The new key is shown once.",
        "Regenerate",
    ),
    "revoke": (
        "Revoke the API key?",
        "API access for this server is turned off: every request is refused with 401 until "
        "you generate a new key.",
        "Revoke",
    ),
}


async def confirm_key_action(request: web.Request) -> web.Response:
    admin = _admin(request)
    action = request.match_info["action"]
    title, message, button = _CONFIRM[action]
    return _page(
        request,
        admin,
        "confirm.html",
        tab="integrations",
        title=title,
        message=message,
        button=button,
        action=f"/servers/{admin.server.guild_id}/integrations/{action}",
    )


async def key_action(request: web.Request) -> web.Response:
    admin = _admin(request)
    action = request.match_info["action"]
    if (await request.post()).get("confirm") != "yes":
        return await confirm_key_action(request)
    services = _services(request)
    guild_id, by = admin.server.guild_id, admin.session.user_id
    try:
        if action == "regenerate":
            key = await services.keys.regenerate(guild_id, by)
            return await _integrations(
                request, admin, new_key=key, notice="New key generated; the old key is refused."
            )
        await services.keys.revoke(guild_id, by)
    except TicketError as exc:
        return await _integrations(request, admin, problem=str(exc), status=409)
    return await _integrations(request, admin, notice="API key revoked: API access is off.")


# -- blacklist and settings -------------------------------------------------------------------

_NOTICES = {
    "added": "Added to the blacklist.",
    "removed": "Taken off the blacklist.",
    "saved": "Settings saved.",
}


def _notice(request: web.Request) -> str | None:
    return _NOTICES.get(request.query.get("done", ""))


def _picked(form: Any, field: str, choices: list[NamedId], what: str) -> int | None:
    """An ID picked from one of the server's real lists; anything else is refused."""
    raw = form.get(field) or ""
    if raw == "":
        return None
    try:
        picked = int(raw)
    except ValueError:
        picked = -1
    if picked not in {c.id for c in choices}:
        raise _BadForm(f"pick a {what} from the list")
    return picked


class _BadForm(Exception):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field  # the form field at fault, when there is one


async def _blacklist(
    request: web.Request, admin: Admin, *, problem: str | None = None, status: int = 200
) -> web.Response:
    services = _services(request)
    guild_id = admin.server.guild_id
    names = {m.id: m.name for m in services.directory.members(guild_id)}
    entries = await services.blacklist.entries(guild_id)
    listed = {e.user_id for e in entries}
    return _page(
        request,
        admin,
        "blacklist.html",
        tab="blacklist",
        entries=[
            {
                "entry": e,
                "name": names.get(e.user_id, f"user {e.user_id} (not in the server)"),
                "by": names.get(e.added_by, str(e.added_by)) if e.added_by else None,
            }
            for e in entries
        ],
        members=[m for m in services.directory.members(guild_id) if m.id not in listed],
        notice=_notice(request),
        problem=problem,
        status=status,
    )


async def blacklist(request: web.Request) -> web.Response:
    return await _blacklist(request, _admin(request))


def _blacklist_form(form: Any, members: list[NamedId]) -> tuple[int, str | None]:
    user_id = _picked(form, "user_id", members, "member")
    if user_id is None:
        raise _BadForm("pick a member from the list")
    return user_id, str(form.get("reason") or "").strip()[:200] or None


def _listed_user(form: Any) -> int:
    try:
        return int(str(form.get("user_id") or ""))
    except ValueError:
        raise _BadForm("no member given") from None


async def blacklist_change(request: web.Request) -> web.Response:
    admin = _admin(request)
    services = _services(request)
    guild_id = admin.server.guild_id
    form = await request.post()
    action = request.match_info["action"]
    try:
        if action == "add":
            user_id, reason = _blacklist_form(form, services.directory.members(guild_id))
            await services.blacklist.add(guild_id, user_id, admin.session.user_id, reason)
        else:
            await services.blacklist.remove(guild_id, _listed_user(form))
    except (TicketError, _BadForm) as exc:
        return await _blacklist(request, admin, problem=str(exc), status=400)
    added = "added" if action == "add" else "removed"
    raise Redirect(f"/servers/{guild_id}/blacklist?done={added}")


async def _settings(
    request: web.Request,
    admin: Admin,
    *,
    problem: str | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    services = _services(request)
    guild_id = admin.server.guild_id
    return _page(
        request,
        admin,
        "settings.html",
        tab="settings",
        current=await services.settings.get(guild_id),
        channels=services.directory.text_channels(guild_id),
        categories=services.directory.categories(guild_id),
        notice=_notice(request),
        problem=problem,
        errors=errors or {},
        status=status,
    )


async def settings(request: web.Request) -> web.Response:
    return await _settings(request, _admin(request))


def _settings_form(form: Any, directory: MemberDirectory, guild_id: int) -> dict[str, Any]:
    """Every setting from the form; channels and categories only from the server's lists."""
    log_channel = _picked(form, "log_channel_id", directory.text_channels(guild_id), "channel")
    archive = _picked(form, "archive_category_id", directory.categories(guild_id), "category")
    mode = str(form.get("close_mode") or "delete")
    if mode == "delete" and archive is not None:
        raise _BadForm("an archive category only applies when closing archives the ticket")
    raw_max = str(form.get("user_max_open") or "").strip()
    try:
        max_open = int(raw_max) if raw_max else None
    except ValueError:
        raise _BadForm("open tickets per member must be a whole number") from None
    opener_left = str(form.get("opener_left") or "keep")
    if opener_left not in ("keep", "close"):
        raise _BadForm("pick keep or close", "opener_left")
    warn = _hours(form, "inactivity_warn_hours", "hours before the warning")
    close = _hours(form, "inactivity_close_hours", "hours after the warning")
    return {
        "log_channel_id": log_channel,
        "close_mode": mode,
        "archive_category_id": archive,
        "opener_can_close": form.get("opener_can_close") == "on",
        "dm_transcript": form.get("dm_transcript") == "on",
        "claim_locks": form.get("claim_locks") == "on",
        "user_max_open": max_open,
        # Empty or 0: off, as `/settings inactivity warn_hours:0`.
        "inactivity_warn_hours": warn or None,
        "inactivity_close_hours": INACTIVITY_CLOSE_DEFAULT if close is None else close,
        "opener_left": opener_left,
        "feedback": form.get("feedback") == "on",
    }


INACTIVITY_CLOSE_DEFAULT = ServerSettings(0).inactivity_close_hours
HOURS_MAX = 24 * 365


def _hours(form: Any, name: str, what: str) -> float | None:
    """A number of hours from the form (empty: None), refused under its own field."""
    raw = str(form.get(name) or "").strip()
    if not raw:
        return None
    try:
        hours = float(raw)
    except ValueError:
        raise _BadForm(f"{what} must be a number, like 48 or 1.5", name) from None
    if not 0 <= hours <= HOURS_MAX or (hours == 0 and name == "inactivity_close_hours"):
        low = "more than 0" if name == "inactivity_close_hours" else "0 (off)"
        raise _BadForm(f"{what} must be from {low} to {HOURS_MAX} (a year)", name)
    return hours


async def settings_change(request: web.Request) -> web.Response:
    admin = _admin(request)
    services = _services(request)
    guild_id = admin.server.guild_id
    form = await request.post()
    try:
        changes = _settings_form(form, services.directory, guild_id)
        await services.settings.change(guild_id, **changes)
    except _BadForm as exc:
        if exc.field is None:
            return await _settings(request, admin, problem=str(exc), status=400)
        return await _settings(request, admin, errors={exc.field: str(exc)}, status=400)
    except TicketError as exc:
        return await _settings(request, admin, problem=str(exc), status=400)
    raise Redirect(f"/servers/{guild_id}/settings?done=saved")


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/", home)
    r.add_get("/login", login)
    r.add_get("/login/callback", login_callback)
    r.add_post("/logout", logout)
    g = "/servers/{guild_id}"
    r.add_get(g, server_home)
    r.add_get(g + "/integrations", integrations)
    r.add_post(g + "/integrations/generate", generate_key)
    r.add_get(g + "/integrations/{action:regenerate|revoke}", confirm_key_action)
    r.add_post(g + "/integrations/{action:regenerate|revoke}", key_action)
    r.add_get(g + "/blacklist", blacklist)
    r.add_post(g + "/blacklist/{action:add|remove}", blacklist_change)
    r.add_get(g + "/settings", settings)
    r.add_post(g + "/settings", settings_change)
