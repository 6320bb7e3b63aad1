"""A wire-level Discord for tests and the sandbox: REST (v10) and gateway on one loopback port.

Unmodified hikari connects to it with `rest_url=emulator.rest_url`. Tests drive it like Discord's
users would (click a button, submit a modal, run a slash command, type in a channel), count the
REST requests the bot made, and inject faults on a route.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.sandbox import interactions as ix
from bot.sandbox.cdn import Cdn
from bot.sandbox.checks import RequestChecks
from bot.sandbox.control import SandboxControl
from bot.sandbox.gateway import Gateway
from bot.sandbox.oauth import OAuthServer
from bot.sandbox.ratelimit import RateLimiter
from bot.sandbox.rest import PREFIX, DiscordHTTPError, Handler, RestApi
from bot.sandbox.state import JSON, Attachment, DiscordState, Message, User, bot_token_for

_LOG = logging.getLogger("rimpllee.sandbox")

# Routes Discord serves without the bot's token: the interaction token is the credential, or
# (OAuth2) the application's client ID and secret.
_TOKEN_ROUTES = ("/interactions/", "/webhooks/", "/oauth2/token")
# Routes Discord answers without rate-limit headers (hikari's routes.py agrees).
_UNLIMITED_ROUTES = ("/interactions/", "/oauth2/token")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    route: str  # the route template, e.g. "/guilds/{guild_id}/channels"
    path: str
    body: Any
    status: int


@dataclass
class Fault:
    method: str
    route: str
    status: int | None
    code: int
    message: str
    retry_after: float | None
    remaining: int
    delay: float = 0.0


class DiscordEmulator:
    """The emulated Discord: state, REST, gateway, and the means to act as its users."""

    def __init__(
        self,
        state: DiscordState | None = None,
        *,
        token: str | None = None,
        check_responses: bool = True,
    ) -> None:
        self.state = state or DiscordState()
        self.token = token or bot_token_for(self.state.bot.id)
        self.owner_id = 0
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        self.internal_errors: list[BaseException] = []
        self.interactions_by_token: dict[str, ix.InteractionRecord] = {}
        self.component_messages: dict[int, Message] = {}
        self.ephemeral: dict[int, Message] = {}
        self.gateway = Gateway(self.state, self.token, lambda: self.gateway_url)
        self.observers: list[Callable[[str, JSON], None]] = []
        self._rest = RestApi(self)
        self.checks = RequestChecks(self)
        self.rate_limiter = RateLimiter()
        # Every JSON answer is checked against the spec's schema for it; a difference is an
        # emulator failure (tests fail on those), so the bot is tested on what Discord sends.
        self.check_responses = check_responses
        self.oauth = OAuthServer(self)
        self._runner: web.AppRunner | None = None
        self._base_url = ""

    # -- lifecycle ------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        routes = self._rest.routes()
        app.add_routes(routes)
        self.checks.warm(routes)
        app.add_routes(Cdn(self.state).routes())
        app.add_routes(self.oauth.routes())
        app.router.add_post(PREFIX + "/oauth2/token", self.oauth.token)
        app.router.add_get("/gateway", self.gateway.handle)
        control = SandboxControl(self)
        app.router.add_post("/_sandbox/faults", control.faults)
        app.router.add_post("/_sandbox/command", control.command)
        app.router.add_post("/_sandbox/click", control.click)
        app.router.add_post("/_sandbox/submit", control.submit)
        app.router.add_post("/_sandbox/say", control.say)
        app.router.add_post("/_sandbox/rate-limits", control.rate_limits)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._runner = web.AppRunner(
            self.app(), access_log=None, shutdown_timeout=1.0, handle_signals=False
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0]
        self._base_url = f"http://{bound[0]}:{bound[1]}"
        self.state.cdn.base_url = self._base_url

    async def stop(self) -> None:
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def rest_url(self) -> str:
        return self._base_url + PREFIX

    @property
    def cdn_url(self) -> str:
        """Where the emulated CDN serves attachments, avatars and emoji."""
        return self._base_url

    @property
    def gateway_url(self) -> str:
        return self._base_url.replace("http://", "ws://", 1) + "/gateway"

    async def publish(self, event: str, payload: JSON) -> None:
        """A change in the emulated world: observers see it, then connected bots get it."""
        for observe in self.observers:
            observe(event, payload)
        await self.gateway.dispatch(event, payload)

    # -- request handling -----------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        canonical = resource.canonical if resource is not None else request.path
        route = canonical.removeprefix(PREFIX)
        body = await _peek_body(request)
        try:
            response = await self._handle(request, handler, route)
        except DiscordHTTPError as exc:
            response = exc.response()
        except web.HTTPException as exc:
            response = web.json_response(
                {"message": f"{exc.status}: {exc.reason}", "code": 0}, status=exc.status
            )
        except Exception as exc:
            _LOG.exception("emulator failed on %s %s", request.method, request.path)
            self.internal_errors.append(exc)
            response = web.json_response(
                {"message": "500: Internal Server Error", "code": 0}, status=500
            )
        if canonical.startswith(PREFIX):
            response.headers.update(request.get(_RATE_LIMIT_HEADERS, {}))
            if self.check_responses and (
                problems := self.checks.answer_problems(request, response)
            ):
                _LOG.error("emulator answered unlike Discord: %s", problems)
                self.internal_errors.append(AssertionError("\n".join(problems)))
            self.requests.append(
                RecordedRequest(request.method, route, request.path, body, response.status)
            )
        return response

    async def _handle(
        self, request: web.Request, handler: Handler, route: str
    ) -> web.StreamResponse:
        needs_token = request.path.startswith(PREFIX) and not route.startswith(_TOKEN_ROUTES)
        authorization = request.headers.get("Authorization", "")
        if needs_token and route == "/users/@me" and authorization.startswith("Bearer "):
            return self.oauth.bearer_me(authorization)  # a user's OAuth2 token, not the bot's
        if needs_token and request.headers.get("Authorization") != f"Bot {self.token}":
            raise DiscordHTTPError(401, 0, "401: Unauthorized")
        if request.path.startswith(PREFIX):
            if not route.startswith(_UNLIMITED_ROUTES):
                verdict = self.rate_limiter.hit(request.method, route, _major(request))
                request[_RATE_LIMIT_HEADERS] = verdict.headers
                if verdict.retry_after is not None:
                    return web.json_response(verdict.body(), status=429)
            await self.checks.check(request, request.path.removeprefix(PREFIX))
        for fault in self.faults:
            if fault.remaining and fault.method == request.method and fault.route == route:
                fault.remaining -= 1
                await asyncio.sleep(fault.delay)
                if fault.status is None:
                    break  # a slow Discord: answer normally, late
                return _fault_response(fault)
        return await handler(request)

    def inject_fault(
        self,
        method: str,
        route: str,
        status: int | None,
        *,
        code: int = 0,
        message: str | None = None,
        retry_after: float | None = None,
        times: int = 1,
        delay: float = 0.0,
    ) -> Fault:
        """Answer the next `times` calls of `method route` with this error instead, after `delay`
        seconds; with `status=None` only the delay applies (a slow but working Discord)."""
        fault = Fault(
            method=method.upper(),
            route=route,
            status=status,
            code=code,
            message=message or _DEFAULT_MESSAGES.get(code, f"{status}: error"),
            retry_after=retry_after,
            remaining=times,
            delay=delay,
        )
        self.faults.append(fault)
        return fault

    def calls(self, method: str | None = None, route: str | None = None) -> list[RecordedRequest]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and (route is None or r.route == route)
        ]

    # -- acting as Discord's users --------------------------------------------------------------

    async def click_button(
        self, guild_id: int, user_id: int, channel_id: int, message_id: int, custom_id: str
    ) -> ix.InteractionRecord:
        guild, channel, member = self._where(guild_id, channel_id, user_id)
        message = self.state.messages[channel.id].get(message_id)
        if message is None:
            raise LookupError(f"message {message_id} is not in channel {channel_id}")
        record = ix.new_record(self.state, ix.MESSAGE_COMPONENT, guild, channel, member)
        self.component_messages[record.id] = message
        data: JSON = {"custom_id": custom_id, "component_type": 2}
        return await self._dispatch(record, guild, channel, member, data, message.payload())

    async def submit_modal(
        self,
        guild_id: int,
        user_id: int,
        channel_id: int,
        custom_id: str,
        values: dict[str, str],
    ) -> ix.InteractionRecord:
        guild, channel, member = self._where(guild_id, channel_id, user_id)
        record = ix.new_record(self.state, ix.MODAL_SUBMIT, guild, channel, member)
        data: JSON = {"custom_id": custom_id, "components": _modal_rows(values)}
        return await self._dispatch(record, guild, channel, member, data)

    async def click_dm_button(
        self, user_id: int, message_id: int, custom_id: str
    ) -> ix.InteractionRecord:
        """A click on a button of a message the bot sent `user_id` by DM."""
        user = self.state.users[user_id]
        channel = self.state.dm_channel(user)
        message = self.state.messages[channel.id].get(message_id)
        if message is None:
            raise LookupError(f"message {message_id} is not in the DM with {user_id}")
        record = ix.dm_record(self.state, ix.MESSAGE_COMPONENT, channel, user)
        self.component_messages[record.id] = message
        data: JSON = {"custom_id": custom_id, "component_type": 2}
        payload = ix.dm_interaction_payload(
            self.state, record, channel, user, data, message.payload()
        )
        self.interactions_by_token[record.token] = record
        await self.publish("INTERACTION_CREATE", payload)
        return record

    async def submit_dm_modal(
        self, user_id: int, custom_id: str, values: dict[str, str]
    ) -> ix.InteractionRecord:
        """A form the bot showed after a click in a DM, submitted."""
        user = self.state.users[user_id]
        channel = self.state.dm_channel(user)
        record = ix.dm_record(self.state, ix.MODAL_SUBMIT, channel, user)
        data: JSON = {"custom_id": custom_id, "components": _modal_rows(values)}
        payload = ix.dm_interaction_payload(self.state, record, channel, user, data)
        self.interactions_by_token[record.token] = record
        await self.publish("INTERACTION_CREATE", payload)
        return record

    async def run_command(
        self,
        guild_id: int,
        user_id: int,
        channel_id: int,
        name: str,
        options: list[JSON] | None = None,
        *,
        autocomplete: bool = False,
    ) -> ix.InteractionRecord:
        """A slash command (or its autocomplete) as registered by the bot; `name` may be "a b c"."""
        guild, channel, member = self._where(guild_id, channel_id, user_id)
        top, *subs = name.split()
        registered = self.state.commands.get(guild_id, []) + self.state.commands.get(None, [])
        command = next((c for c in registered if c["name"] == top), None)
        if command is None:
            raise LookupError(f"the bot registered no command named {top!r}")
        opts = list(options or [])
        for sub in reversed(subs):
            opts = [{"name": sub, "type": 1 if sub == subs[-1] else 2, "options": opts}]
        kind = ix.AUTOCOMPLETE if autocomplete else ix.APPLICATION_COMMAND
        record = ix.new_record(self.state, kind, guild, channel, member)
        data: JSON = {
            "id": command["id"],
            "name": top,
            "type": 1,
            "options": opts,
            "resolved": self._resolved(guild, opts, member.user.id),
        }
        if "guild_id" in command:  # only guild commands say where they were registered
            data["guild_id"] = command["guild_id"]
        return await self._dispatch(record, guild, channel, member, data)

    async def member_join(
        self, guild_id: int, user: User, *, roles: list[int] | None = None
    ) -> None:
        """`user` joins the server: GUILD_MEMBER_ADD."""
        member = self.state.add_member(self.state.guilds[guild_id], user, roles=roles)
        await self.publish("GUILD_MEMBER_ADD", member.payload(with_guild_id=True))

    async def member_leave(self, guild_id: int, user_id: int, *, announce: bool = True) -> None:
        """The member leaves (or is kicked): GUILD_MEMBER_REMOVE; `announce=False`: while the bot
        is offline, so the gateway never says so."""
        member = self.state.guilds[guild_id].members.pop(user_id)
        if announce:
            body = {"guild_id": str(guild_id), "user": member.user.payload()}
            await self.publish("GUILD_MEMBER_REMOVE", body)

    async def member_update(
        self,
        guild_id: int,
        user_id: int,
        *,
        roles: list[int] | None = None,
        nick: str | None = None,
    ) -> None:
        """New roles and/or nickname (None leaves it as it is): GUILD_MEMBER_UPDATE."""
        member = self.state.guilds[guild_id].members[user_id]
        if roles is not None:
            member.role_ids = list(roles)
        if nick is not None:
            member.nick = nick or None
        await self.publish("GUILD_MEMBER_UPDATE", member.payload(with_guild_id=True))

    async def send_user_message(
        self,
        channel_id: int,
        user_id: int,
        content: str,
        *,
        files: list[Attachment] | None = None,
        reply_to: int | None = None,
        forward: tuple[int, int] | None = None,
        stickers: list[str] | None = None,
        type: int = 0,
    ) -> Message:
        """A member writes: text, files (uploaded to the CDN), a reply to a message of the channel,
        a forward of (channel, message), stickers; `type` for Discord's system messages."""
        channel = self.state.channels[channel_id]
        fields: dict[str, Any] = {"attachments": list(files or []), "type": type}
        if reply_to is not None:
            fields["reply_to"] = self.state.messages[channel_id][reply_to]
            fields["type"] = 19
        if forward is not None:
            fields["forwarded"] = self.state.messages[forward[0]][forward[1]]
        if stickers:
            fields["sticker_names"] = list(stickers)
        message = self.state.add_message(channel, self.state.users[user_id], content, **fields)
        await self.publish("MESSAGE_CREATE", self.state.message_created(message))
        return message

    async def delete_channel_by_hand(self, channel_id: int) -> None:
        channel = self.state.channels[channel_id]
        payload = channel.payload()
        self.state.remove_channel(channel)
        await self.publish("CHANNEL_DELETE", payload)

    def _where(self, guild_id: int, channel_id: int, user_id: int) -> tuple[Any, Any, Any]:
        guild = self.state.guilds[guild_id]
        channel = guild.channels.get(channel_id) or guild.threads[channel_id]
        return guild, channel, guild.members[user_id]

    def _resolved(self, guild: Any, options: list[JSON], user_id: int) -> JSON:
        """Discord's `resolved` data for user (6), channel (7) and role (8) options."""
        found: dict[str, JSON] = {"users": {}, "members": {}, "channels": {}, "roles": {}}
        for opt in _flatten(options):
            kind, value = opt.get("type"), opt.get("value", 0)
            if kind == 6 and (member := guild.members.get(int(value))):
                found["users"][str(member.user.id)] = member.user.payload()
                body = member.payload()
                body.pop("user")
                body["permissions"] = str(guild.permissions(member.user.id))
                found["members"][str(member.user.id)] = body
            elif kind == 7 and (channel := guild.channels.get(int(value))):
                found["channels"][str(channel.id)] = {
                    "id": str(channel.id),
                    "name": channel.name,
                    "type": channel.type,
                    "parent_id": str(channel.parent_id) if channel.parent_id else None,
                    "permissions": str(guild.permissions(user_id, channel)),
                }
            elif kind == 8 and (role := guild.roles.get(int(value))):
                found["roles"][str(role.id)] = role.payload()
        return {k: v for k, v in found.items() if v}

    async def _dispatch(
        self,
        record: ix.InteractionRecord,
        guild: Any,
        channel: Any,
        member: Any,
        data: JSON,
        message: JSON | None = None,
    ) -> ix.InteractionRecord:
        self.interactions_by_token[record.token] = record
        payload = ix.interaction_payload(self.state, record, guild, channel, member, data, message)
        await self.publish("INTERACTION_CREATE", payload)
        return record


_RATE_LIMIT_HEADERS = web.RequestKey("rate_limit_headers", dict[str, str])


def _major(request: web.Request) -> str:
    """The major parameters of a route: its rate-limit bucket is theirs alone."""
    info = request.match_info
    return "/".join(info.get(k, "") for k in ("channel_id", "guild_id", "app_id", "token"))


_DEFAULT_MESSAGES = {
    0: "500: Internal Server Error",
    50001: "Missing Access",
    50013: "Missing Permissions",
    10003: "Unknown Channel",
    30013: "Maximum number of guild channels reached (500)",
}


def _fault_response(fault: Fault) -> web.Response:
    body: JSON = {"message": fault.message, "code": fault.code}
    headers: dict[str, str] = {}
    if fault.retry_after is not None:
        body.update(retry_after=fault.retry_after, **{"global": False})
        headers = {
            "Retry-After": str(int(fault.retry_after + 0.999)),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": str(fault.retry_after),
            "X-RateLimit-Scope": "shared",
        }
    return web.json_response(body, status=fault.status or 500, headers=headers)


def _modal_rows(values: dict[str, str]) -> list[JSON]:
    """A modal submit's action rows, one text input each."""
    return [
        {
            "type": 1,
            "id": 2 * i + 1,
            "components": [{"type": 4, "id": 2 * i + 2, "custom_id": key, "value": value}],
        }
        for i, (key, value) in enumerate(values.items())
    ]


def _flatten(options: list[JSON]) -> list[JSON]:
    out: list[JSON] = []
    for opt in options:
        out.append(opt)
        out.extend(_flatten(opt.get("options") or []))
    return out


async def _peek_body(request: web.Request) -> Any:
    """The JSON body for the request log (multipart bodies are logged by their size)."""
    if not request.body_exists:
        return None
    if request.content_type == "application/json":
        try:
            return json.loads(await request.read())
        except ValueError:
            return None
    return {"content_type": request.content_type, "length": request.content_length}
