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
from bot.sandbox.gateway import Gateway
from bot.sandbox.rest import PREFIX, DiscordHTTPError, Handler, RestApi
from bot.sandbox.state import JSON, DiscordState, Message, bot_token_for

_LOG = logging.getLogger("rimpllee.sandbox")

# Routes Discord serves without the bot's token: the interaction token is the credential.
_TOKEN_ROUTES = ("/interactions/", "/webhooks/")


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

    def __init__(self, state: DiscordState | None = None, *, token: str | None = None) -> None:
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
        self._runner: web.AppRunner | None = None
        self._base_url = ""

    # -- lifecycle ------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        app.add_routes(self._rest.routes())
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_post("/_sandbox/faults", self._control_fault)
        control = SandboxControl(self)
        app.router.add_post("/_sandbox/command", control.command)
        app.router.add_post("/_sandbox/click", control.click)
        app.router.add_post("/_sandbox/submit", control.submit)
        app.router.add_post("/_sandbox/say", control.say)
        return app

    async def _control_fault(self, request: web.Request) -> web.Response:
        """Control endpoint: make Discord fail the next matching call(s), e.g. channel creation."""
        body = await request.json() if request.body_exists else {}
        fault = self.inject_fault(
            str(body.get("method", "POST")),
            str(body.get("route", "/guilds/{guild_id}/channels")),
            int(body.get("status", 403)),
            code=int(body.get("code", 50013)),
            times=int(body.get("times", 1)),
        )
        return web.json_response(
            {
                "ok": True,
                "fault": {
                    "method": fault.method,
                    "route": fault.route,
                    "status": fault.status,
                    "code": fault.code,
                    "times": fault.remaining,
                },
            }
        )

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._runner = web.AppRunner(
            self.app(), access_log=None, shutdown_timeout=1.0, handle_signals=False
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0]
        self._base_url = f"http://{bound[0]}:{bound[1]}"

    async def stop(self) -> None:
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def rest_url(self) -> str:
        return self._base_url + PREFIX

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
            self.requests.append(
                RecordedRequest(request.method, route, request.path, body, response.status)
            )
        return response

    async def _handle(
        self, request: web.Request, handler: Handler, route: str
    ) -> web.StreamResponse:
        needs_token = request.path.startswith(PREFIX) and not route.startswith(_TOKEN_ROUTES)
        if needs_token and request.headers.get("Authorization") != f"Bot {self.token}":
            raise DiscordHTTPError(401, 0, "401: Unauthorized")
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

    async def send_user_message(self, channel_id: int, user_id: int, content: str) -> Message:
        channel = self.state.channels[channel_id]
        message = self.state.add_message(channel, self.state.users[user_id], content)
        await self.publish("MESSAGE_CREATE", message.payload())
        return message

    async def remove_member(self, guild_id: int, user_id: int, *, announce: bool = True) -> None:
        """A member leaves (or is kicked); `announce=False`: while the bot is offline, so the
        gateway never says so."""
        member = self.state.guilds[guild_id].members.pop(user_id)
        if announce:
            payload = {"guild_id": str(guild_id), "user": member.user.payload()}
            await self.publish("GUILD_MEMBER_REMOVE", payload)

    async def delete_channel_by_hand(self, channel_id: int) -> None:
        channel = self.state.channels[channel_id]
        payload = channel.payload()
        self.state.remove_channel(channel)
        await self.publish("CHANNEL_DELETE", payload)

    def _where(self, guild_id: int, channel_id: int, user_id: int) -> tuple[Any, Any, Any]:
        guild = self.state.guilds[guild_id]
        return guild, guild.channels[channel_id], guild.members[user_id]

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


_OPTION_TYPES = {str: 3, int: 4, bool: 5}


class SandboxControl:
    """Act as the emulated server's members over HTTP, for people trying the sandbox by hand.

    Every endpoint takes JSON with `user_id` (default: the first member with Manage Server) and
    `channel_id` (default: the first text channel), and answers with what the bot answered.
    """

    def __init__(self, emu: DiscordEmulator) -> None:
        self._emu = emu

    def _context(self, body: JSON) -> tuple[int, int, int]:
        state = self._emu.state
        guild = next(iter(state.guilds.values()))
        admin = next(
            (
                m.user.id
                for m in guild.members.values()
                if guild.permissions(m.user.id) & (1 << 5)
                and not m.user.bot
                and m.user.id != guild.owner_id
            ),
            guild.owner_id,
        )
        text = next(c.id for c in guild.channels.values() if c.type == 0)
        return guild.id, int(body.get("user_id") or admin), int(body.get("channel_id") or text)

    async def _answer(self, record: ix.InteractionRecord) -> web.Response:
        try:
            response = await record.wait_response(timeout=5)
            if response.get("type") == ix.DEFERRED_CHANNEL_MESSAGE:
                await record.wait_followup(timeout=30)
        except TimeoutError:
            return web.json_response({"ok": False, "error": "the bot did not answer"}, status=504)
        return web.json_response(
            {"ok": True, "response": record.responses[0], "followups": record.followups}
        )

    async def command(self, request: web.Request) -> web.Response:
        """`{"command": "panel create", "options": {"title": "Support"}}`."""
        body = await request.json()
        guild, user, channel = self._context(body)
        raw = body.get("options") or {}
        options = (
            raw
            if isinstance(raw, list)
            else [
                {"name": k, "type": _OPTION_TYPES.get(type(v), 3), "value": v}
                for k, v in raw.items()
            ]
        )
        record = await self._emu.run_command(guild, user, channel, str(body["command"]), options)
        return await self._answer(record)

    async def click(self, request: web.Request) -> web.Response:
        """`{"message_id": "…", "custom_id": "rmp:open:btn_help"}`."""
        body = await request.json()
        guild, user, channel = self._context(body)
        record = await self._emu.click_button(
            guild, user, channel, int(body["message_id"]), str(body["custom_id"])
        )
        return await self._answer(record)

    async def submit(self, request: web.Request) -> web.Response:
        """`{"custom_id": "rmp:form:btn_help", "values": {"qst_help_topic": "…"}}`."""
        body = await request.json()
        guild, user, channel = self._context(body)
        record = await self._emu.submit_modal(
            guild, user, channel, str(body["custom_id"]), dict(body.get("values") or {})
        )
        return await self._answer(record)

    async def say(self, request: web.Request) -> web.Response:
        """`{"content": "hello"}`: a member writes in a channel."""
        body = await request.json()
        _, user, channel = self._context(body)
        message = await self._emu.send_user_message(channel, user, str(body["content"]))
        return web.json_response({"ok": True, "message_id": str(message.id)})
