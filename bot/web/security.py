"""Sessions, CSRF and the headers every dashboard response carries."""

from __future__ import annotations

import hmac
import urllib.parse
from dataclasses import dataclass

from aiohttp import web

from bot.core.sessions import SESSION_TTL_S, STATE_TTL_S, Session

COOKIE = "rimpllee_session"
LOGIN_COOKIE = "rimpllee_login"  # the state of the login this browser started
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Everything the pages load comes from this origin; no inline script, no framing.
CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@dataclass
class PageError(Exception):
    """A page that can't be shown as asked: rendered as an error page with this status."""

    status: int
    title: str
    message: str


class Redirect(Exception):
    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


SESSION: web.RequestKey[Session | None] = web.RequestKey("session")


def session_of(request: web.Request) -> Session | None:
    return request.get(SESSION)


def require_session(request: web.Request) -> Session:
    """The logged-in user, or off to the login (coming back here afterwards)."""
    session = session_of(request)
    if session is None:
        target = request.path_qs if request.method in SAFE_METHODS else "/"
        raise Redirect("/login?" + urllib.parse.urlencode({"next": target}))
    return session


async def check_csrf(request: web.Request) -> None:
    """Every state-changing request carries the session's CSRF token in its form."""
    session = session_of(request)
    form = await request.post()
    sent = form.get("csrf")
    if (
        session is None
        or not isinstance(sent, str)
        or not hmac.compare_digest(sent.encode(), session.csrf_token.encode())
    ):
        raise PageError(
            403,
            "Request refused",
            "This form was not sent by your dashboard session (its CSRF token is missing or "
            "stale). Reload the page and try again.",
        )


def set_session_cookie(response: web.StreamResponse, session_id: str, *, secure: bool) -> None:
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=SESSION_TTL_S,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=secure,
    )


def set_login_cookie(response: web.StreamResponse, state: str, *, secure: bool) -> None:
    """Binds a login to the browser that started it (Lax: sent on Discord's redirect back)."""
    response.set_cookie(
        LOGIN_COOKIE,
        state,
        max_age=STATE_TTL_S,
        path="/login",
        httponly=True,
        samesite="Lax",
        secure=secure,
    )


def clear_session_cookie(response: web.StreamResponse, *, secure: bool) -> None:
    response.del_cookie(COOKIE, path="/", secure=secure, httponly=True, samesite="Lax")
