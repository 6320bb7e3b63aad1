"""Tickets and transcripts in the dashboard: a server's list, a ticket's page with the staff's
actions, the stored transcript, and "My tickets" for any member.

Who may see a ticket is `core.access.may_see_ticket`, asked on every request through the desk; a
ticket one may not see answers the same 404 as one that does not exist.
"""

from __future__ import annotations

import calendar
import re
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.core.access import MemberDirectory, MemberView, ServerRef, ticket_scope
from bot.core.desk import STATE_FILTERS, TicketDesk, TicketFilter
from bot.core.errors import TicketError
from bot.core.models import Panel, Ticket
from bot.core.sessions import Session
from bot.web.app import PanelList
from bot.web.security import CSP, PageError, Redirect, require_session
from bot.web.views import render

# The ticket page frames its transcript, served from this same origin.
TICKET_PAGE_CSP = CSP.replace("default-src 'none'", "default-src 'none'; frame-src 'self'")
# A transcript as stored (its own <meta> policy stays in force too): images from its own
# folder, its one time script at exactly its URL, inline styles; framed by the dashboard only.
TRANSCRIPT_CSP = (
    "default-src 'none'; img-src 'self'; script-src {script}; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
_ASSET = re.compile(r"(?:files|avatars|emoji)/[A-Za-z0-9][A-Za-z0-9._-]{0,150}|time\.js")
_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")

_NOTICES = {
    "claim": "You handle this ticket now.",
    "unclaim": "Nobody handles this ticket now.",
    "close": "Ticket closed.",
    "reopen": "Ticket reopened.",
    "delete": "The ticket's channel was deleted.",
}


@dataclass(frozen=True, slots=True)
class TicketPagesServices:
    desk: TicketDesk
    directory: MemberDirectory
    panels: PanelList


TICKET_PAGES: web.AppKey[TicketPagesServices] = web.AppKey("ticket_pages")


@dataclass(frozen=True, slots=True)
class Visitor:
    """A logged-in member of the server in the URL, as the bot sees them on this request."""

    session: Session
    server: ServerRef
    member: MemberView


def _services(request: web.Request) -> TicketPagesServices:
    return request.app[TICKET_PAGES]


def _int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise web.HTTPNotFound from None


def _not_found() -> PageError:
    return PageError(404, "Not found", "There is no such ticket, or it is not yours to see.")


def _visitor(request: web.Request) -> Visitor:
    session = require_session(request)
    services = _services(request)
    guild_id = _int(request.match_info["guild_id"])
    server = services.directory.server(guild_id)
    member = services.directory.member(guild_id, session.user_id) if server else None
    if server is None or member is None:
        raise PageError(404, "Server not found", "Rimpllee is not in this server, or you are not.")
    return Visitor(session, server, member)


async def _ticket(request: web.Request, visitor: Visitor) -> Ticket:
    number = _int(request.match_info["number"])
    ticket = await _services(request).desk.ticket(visitor.member, visitor.server.guild_id, number)
    if ticket is None:
        raise _not_found()
    return ticket


class _Names:
    """People and buttons by name for one page (IDs of people who left stay readable)."""

    def __init__(self, directory: MemberDirectory, guild_id: int, panels: list[Panel]) -> None:
        self._directory = directory
        self._guild_id = guild_id
        self.buttons = {b.button_id: b.label for p in panels for b in p.buttons}

    def user(self, user_id: int | None) -> str:
        if user_id is None:
            return ""
        return self._directory.member_name(self._guild_id, user_id) or f"user {user_id}"

    def button(self, ticket: Ticket) -> str:
        if ticket.source == "api" and ticket.button_id is None:
            return ""
        if ticket.button_id is None:
            return "(deleted button)"
        return self.buttons.get(ticket.button_id, "(deleted button)")


def _state(ticket: Ticket) -> str:
    if ticket.state == "closed":
        return "archived" if ticket.archived else "closed"
    return ticket.state


# -- the list ---------------------------------------------------------------------------------


def _day(raw: str) -> float | None:
    """A date input's YYYY-MM-DD as the start of that day in UTC."""
    try:
        return float(calendar.timegm(time.strptime(raw, "%Y-%m-%d")))
    except ValueError:
        return None


def _filters(query: Any, desk: TicketDesk, guild_id: int, me: int) -> TicketFilter:
    searched = desk.search(guild_id, str(query.get("q", "")))
    state = query.get("state", "all")
    source = query.get("source") or None
    opened_to = _day(query.get("to", ""))

    def user(name: str) -> int | None:
        raw = query.get(name, "")
        return int(raw) if raw.isdigit() else None

    return TicketFilter(
        state=state if state in STATE_FILTERS else "all",
        button_id=query.get("button") or None,
        source=source if source in ("button", "api") else None,
        opener_id=user("opener"),
        claimed_by=me if query.get("claimed") == "me" else user("claimed"),
        unclaimed=query.get("claimed") == "nobody",
        opened_from=_day(query.get("from", "")),
        opened_before=None if opened_to is None else opened_to + 86400,
        number=searched.number,
        opener_ids=searched.opener_ids,
    )


def _page_link(request: web.Request, cursor: str | None = None, number: int | None = None) -> str:
    """This list with its filters, at the page `before` or `after` a number (None: the first)."""
    query = {k: v for k, v in request.query.items() if k not in _CURSORS and v}
    if cursor is not None and number is not None:
        query[cursor] = str(number)
    return request.path + ("?" + urllib.parse.urlencode(query) if query else "")


_CURSORS = ("before", "after", "page")  # `page`: the links of older versions, now the first page


def _cursor(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) <= 12 else None


async def ticket_list(request: web.Request) -> web.Response:
    visitor = _visitor(request)
    services = _services(request)
    guild_id = visitor.server.guild_id
    filters = _filters(request.query, services.desk, guild_id, visitor.session.user_id)
    page = await services.desk.page(
        visitor.member, filters, before=_cursor(request, "before"), after=_cursor(request, "after")
    )
    panels = await services.panels.list_panels(guild_id)
    names = _Names(services.directory, guild_id, panels)
    scope = ticket_scope(visitor.member)
    staff = scope is not None and (scope.everything or bool(scope.role_ids))
    return render(
        request,
        "tickets.html",
        {
            "server": visitor.server,
            "tab": "tickets",
            "manage": scope is not None and scope.everything,
            "staff": staff,
            "rows": [
                {
                    "ticket": t,
                    "state": _state(t),
                    "opener": names.user(t.user_id),
                    "button": names.button(t) or "API",
                    "claimed": names.user(t.claimed_by),
                }
                for t in page.tickets
            ],
            "page": page,
            "previous": _page_link(request, "after", page.newest) if page.has_newer else None,
            "newest": _page_link(request) if page.has_newer else None,
            "next": _page_link(request, "before", page.oldest) if page.has_older else None,
            "query": request.query,
            "states": STATE_FILTERS,
            "buttons": [(b.button_id, f"{p.title} → {b.label}") for p in panels for b in p.buttons],
        },
    )


# -- one ticket -------------------------------------------------------------------------------


def _transcript_file(ticket: Ticket) -> Path | None:
    if ticket.transcript_path is None:
        return None
    path = Path(ticket.transcript_path)
    return path if path.is_file() else None


async def _ticket_page(
    request: web.Request,
    visitor: Visitor,
    ticket: Ticket,
    *,
    problem: str | None = None,
    status: int = 200,
) -> web.Response:
    services = _services(request)
    guild_id = visitor.server.guild_id
    names = _Names(services.directory, guild_id, await services.panels.list_panels(guild_id))
    base = f"/servers/{guild_id}/tickets/{ticket.number}"
    scope = ticket_scope(visitor.member)
    response = render(
        request,
        "ticket.html",
        {
            "server": visitor.server,
            "tab": "tickets",
            "manage": scope is not None and scope.everything,
            "ticket": ticket,
            "state": _state(ticket),
            "base": base,
            "opener": names.user(ticket.user_id),
            "button": names.button(ticket),
            "claimed": names.user(ticket.claimed_by),
            "closed_by": names.user(ticket.closed_by),
            "claims": [
                (names.user(user_id), at) for user_id, at in await services.desk.claims(ticket)
            ],
            "staff": await services.desk.is_staff(visitor.member, ticket),
            "transcript": _transcript_file(ticket) is not None,
            "notice": _NOTICES.get(request.query.get("done", "")),
            "problem": problem,
        },
        status,
    )
    response.headers["Content-Security-Policy"] = TICKET_PAGE_CSP
    return response


async def ticket_page(request: web.Request) -> web.Response:
    visitor = _visitor(request)
    return await _ticket_page(request, visitor, await _ticket(request, visitor))


async def ticket_action(request: web.Request) -> web.Response:
    visitor = _visitor(request)
    ticket = await _ticket(request, visitor)
    desk = _services(request).desk
    action = request.match_info["action"]
    form = await request.post()
    try:
        if action == "claim":
            await desk.claim(visitor.member, ticket)
        elif action == "unclaim":
            await desk.unclaim(visitor.member, ticket)
        elif action == "close":
            await desk.close(visitor.member, ticket, str(form.get("reason") or ""))
        elif action == "reopen":
            await desk.reopen(visitor.member, ticket)
        else:
            await desk.delete(visitor.member, ticket)
    except TicketError as exc:
        problem = str(exc).replace("<@", "user ").replace(">", "")
        return await _ticket_page(request, visitor, ticket, problem=problem, status=409)
    raise Redirect(f"/servers/{visitor.server.guild_id}/tickets/{ticket.number}?done={action}")


# -- the transcript ---------------------------------------------------------------------------


async def transcript(request: web.Request) -> web.StreamResponse:
    visitor = _visitor(request)
    ticket = await _ticket(request, visitor)
    path = _transcript_file(ticket)
    if path is None:
        raise PageError(404, "No transcript", "This ticket has no transcript yet.")
    script = request.url.with_path(request.path + "assets/time.js").with_query(None)
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "text/html; charset=utf-8",
            "Content-Security-Policy": TRANSCRIPT_CSP.format(script=script),
            "X-Frame-Options": "SAMEORIGIN",
        },
    )


async def transcript_asset(request: web.Request) -> web.StreamResponse:
    """A file saved beside the transcript (attachments, avatars, emoji, its time script)."""
    visitor = _visitor(request)
    ticket = await _ticket(request, visitor)
    path = _transcript_file(ticket)
    asked = request.match_info["asset"]
    if path is None or not _ASSET.fullmatch(asked):
        raise web.HTTPNotFound
    folder = (path.parent / "assets").resolve()
    target = (folder / asked).resolve()
    if not target.is_relative_to(folder) or not target.is_file():
        raise web.HTTPNotFound
    headers = {"Content-Security-Policy": "default-src 'none'; sandbox"}
    if asked.startswith("files/"):
        # Shown inline only as an image; anything else is a download, never a page of ours.
        response = web.FileResponse(target, headers=headers)
        response.headers["Content-Security-Policy"] = headers["Content-Security-Policy"]
        guessed = _guess(target)
        if guessed not in _IMAGE_TYPES:
            response.content_type = "application/octet-stream"
            response.headers["Content-Disposition"] = "attachment"
        return response
    return web.FileResponse(target, headers=headers)


def _guess(path: Path) -> str:
    import mimetypes  # noqa: PLC0415 - only for saved files

    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


# -- My tickets -------------------------------------------------------------------------------


async def my_tickets(request: web.Request) -> web.Response:
    session = require_session(request)
    services = _services(request)
    own = await services.desk.own(session.user_id)
    return render(
        request,
        "my_tickets.html",
        {
            "title": "My tickets",
            "desks": await services.desk.desks(session.user_id),
            "groups": [
                {
                    "server": group.server,
                    "rows": [(t, _state(t)) for t in group.tickets],
                }
                for group in own
            ],
        },
    )


def install_ticket_pages(app: web.Application, services: TicketPagesServices) -> None:
    """After `install_dashboard`: the ticket pages share its templates, session and CSRF."""
    app[TICKET_PAGES] = services
    r = app.router
    r.add_get("/tickets", my_tickets)
    g = "/servers/{guild_id}/tickets"
    r.add_get(g, ticket_list)
    r.add_get(g + "/{number}", ticket_page)
    r.add_post(g + "/{number}/{action:claim|unclaim|close|reopen|delete}", ticket_action)
    r.add_get(g + "/{number}/transcript/", transcript)
    r.add_get(g + "/{number}/transcript/assets/{asset:.+}", transcript_asset)
