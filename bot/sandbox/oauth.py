"""Discord's OAuth2 authorization-code flow, emulated, so the dashboard's login runs locally.

`GET /oauth2/authorize` shows a page where you pick which of the emulated users you are (there is
no password: it is a sandbox), then redirects to the app's `redirect_uri` with a one-time `code`.
`POST /api/v10/oauth2/token` trades the code (once, within 10 minutes, for the same redirect URI,
with the application's client ID and secret as HTTP Basic auth) for a bearer token, which
`GET /api/v10/users/@me` accepts. Errors have Discord's OAuth2 shapes.
"""

from __future__ import annotations

import base64
import binascii
import html
import secrets
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from bot.sandbox.emulator import DiscordEmulator

# A published, sandbox-only secret: the emulated application holds nothing worth protecting.
SANDBOX_CLIENT_SECRET = "sandbox-client-secret-not-secret"  # noqa: S105
CODE_TTL_S = 600.0
TOKEN_TTL_S = 604_800


@dataclass(frozen=True, slots=True)
class _Grant:
    user_id: int
    redirect_uri: str
    expires_at: float


@dataclass
class OAuthServer:
    emu: DiscordEmulator
    client_secret: str = SANDBOX_CLIENT_SECRET
    # When set, a redirect URI must be one of these (as registered in the Developer Portal).
    redirect_uris: set[str] = field(default_factory=set)
    # Users offered first on the authorize page, with a word on who they are.
    featured: list[tuple[int, str]] = field(default_factory=list)
    codes: dict[str, _Grant] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/oauth2/authorize", self.authorize_page),
            web.post("/oauth2/authorize", self.authorize),
        ]

    # -- the authorize page -------------------------------------------------------------------

    def _check_request(self, params: dict[str, str]) -> str | None:
        """What is wrong with an authorize request, in Discord's words; None if nothing."""
        if params.get("response_type") != "code":
            return "Invalid response_type (the dashboard asks for 'code')"
        if params.get("client_id") != str(self.emu.state.application_id):
            return "Unknown application (client_id)"
        redirect = params.get("redirect_uri", "")
        if not redirect or (self.redirect_uris and redirect not in self.redirect_uris):
            return "Invalid OAuth2 redirect_uri"
        if "identify" not in params.get("scope", "").split():
            return "Invalid scope (identify is needed)"
        return None

    async def authorize_page(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        problem = self._check_request(params)
        if problem is not None:
            return _page(f"<h1>Authorization failed</h1><p>{html.escape(problem)}</p>", 400)
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
            if k in ("response_type", "client_id", "scope", "redirect_uri", "state")
        )
        featured = "".join(
            f'<p><button name="user_id" value="{uid}">{html.escape(self._name(uid))}</button> '
            f"{html.escape(note)}</p>"
            for uid, note in self.featured
        )
        others = "".join(
            f'<option value="{u.id}">{html.escape(u.username)}</option>'
            for u in self.emu.state.users.values()
            if not u.bot
        )
        body = (
            f"<h1>Emulated Discord: log in to {html.escape(self.emu.state.bot.username)}</h1>"
            "<p>This is the sandbox's stand-in for Discord's authorize page. Who are you?</p>"
            f'<form method="post" action="/oauth2/authorize">{hidden}{featured}'
            f'<p><select name="other_user_id" aria-label="Someone else">{others}</select> '
            '<button name="user_id" value="other">Log in as this user</button></p>'
            '<p><button name="user_id" value="cancel">Cancel</button></p></form>'
        )
        return _page(body)

    def _name(self, user_id: int) -> str:
        user = self.emu.state.users.get(user_id)
        return user.username if user else str(user_id)

    async def authorize(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        problem = self._check_request(form)
        if problem is not None:
            return _page(f"<h1>Authorization failed</h1><p>{html.escape(problem)}</p>", 400)
        choice = form.get("user_id", "")
        if choice == "other":
            choice = form.get("other_user_id", "")
        back: dict[str, str] = {}
        if choice == "cancel":
            back["error"] = "access_denied"
            back["error_description"] = (
                "The resource owner or authorization server denied the request"
            )
        else:
            try:
                user_id = int(choice)
            except ValueError:
                user_id = 0
            if user_id not in self.emu.state.users:
                return _page("<h1>Authorization failed</h1><p>Unknown user</p>", 400)
            code = secrets.token_urlsafe(24)
            self.codes[code] = _Grant(user_id, form["redirect_uri"], time.time() + CODE_TTL_S)
            back["code"] = code
        if "state" in form:
            back["state"] = form["state"]
        separator = "&" if "?" in form["redirect_uri"] else "?"
        location = form["redirect_uri"] + separator + urllib.parse.urlencode(back)
        return web.Response(status=302, headers={"Location": location})

    # -- the token endpoint and the bearer's /users/@me ---------------------------------------

    async def token(self, request: web.Request) -> web.Response:
        if not self._client_authenticated(request.headers.get("Authorization", "")):
            return _oauth_error(401, "invalid_client")
        form = await request.post()
        if form.get("grant_type") != "authorization_code":
            return _oauth_error(400, "unsupported_grant_type")
        grant = self.codes.pop(str(form.get("code", "")), None)  # a code works once
        if grant is None or grant.expires_at < time.time():
            return _oauth_error(400, "invalid_grant", 'Invalid "code" in request.')
        if form.get("redirect_uri") != grant.redirect_uri:
            return _oauth_error(400, "invalid_grant", 'Invalid "redirect_uri" in request.')
        access = secrets.token_urlsafe(24)
        self.tokens[access] = grant.user_id
        return web.json_response(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": TOKEN_TTL_S,
                "refresh_token": secrets.token_urlsafe(24),
                "scope": "identify",
            }
        )

    def _client_authenticated(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme != "Basic":
            return False
        try:
            decoded = base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        client_id, _, secret = decoded.partition(":")
        return client_id == str(self.emu.state.application_id) and secrets.compare_digest(
            secret, self.client_secret
        )

    def bearer_me(self, header: str) -> web.Response:
        """`GET /users/@me` with `Authorization: Bearer <token>`: the user who logged in."""
        user_id = self.tokens.get(header.removeprefix("Bearer ").strip())
        user = self.emu.state.users.get(user_id) if user_id is not None else None
        if user is None:
            return web.json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        return web.json_response(user.payload())


def _oauth_error(status: int, error: str, description: str | None = None) -> web.Response:
    body = {"error": error}
    if description:
        body["error_description"] = description
    return web.json_response(body, status=status)


def _page(body: str, status: int = 200) -> web.Response:
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'  # no favicon request
        f"<title>Emulated Discord</title></head><body>{body}</body></html>"
    )
    return web.Response(text=document, content_type="text/html", status=status)
