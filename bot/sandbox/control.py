"""The sandbox's control endpoints (`/_sandbox/...`): act as the emulated server's members.

Every endpoint takes a JSON object with `user_id` (default: the first member with Manage Server)
and `channel_id` (default: the first text channel), and answers what the bot answered. A request
the emulator can't act on is answered 4xx with `{"ok": false, "error": "..."}` naming the problem;
504 means the bot did not answer in time.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.sandbox import interactions as ix
from bot.sandbox.ratelimit import Limits
from bot.sandbox.state import GUILD_TEXT, JSON, MANAGE_GUILD, Attachment, Channel, Guild
from bot.sandbox.validation import UPLOAD_MAX_BYTES

if TYPE_CHECKING:
    from bot.sandbox.emulator import DiscordEmulator

# Option types (docs: interactions/application-commands#application-command-object-application-
# command-option-type) and what the object form's JSON values may be for each.
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = (
    3, 4, 5, 6, 7, 8, 9, 10, 11
)  # fmt: skip
_SNOWFLAKE_OPTIONS = {USER: "user", CHANNEL: "channel", ROLE: "role", MENTIONABLE: "user or role"}


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _refusal(status: int, message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=status)


Endpoint = Callable[["SandboxControl", JSON], Awaitable[web.Response]]


def endpoint(handler: Endpoint) -> Callable[[SandboxControl, web.Request], Awaitable[web.Response]]:
    """Reads the JSON object body and turns a ControlError into its 4xx answer."""

    @functools.wraps(handler)
    async def wrapped(self: SandboxControl, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return _refusal(400, "the body is not JSON")
        if not isinstance(body, dict):
            return _refusal(400, "the body must be a JSON object")
        try:
            return await handler(self, body)
        except ControlError as exc:
            return _refusal(exc.status, exc.message)

    return wrapped


def _upload(raw: JSON) -> Attachment:
    """A file as a member uploads it; Discord replaces what a file name may not hold."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", str(raw["name"])) or "file"
    return Attachment(
        filename=name,
        data=base64.b64decode(str(raw["data"]), validate=True),
        content_type=str(raw.get("content_type") or "application/octet-stream"),
    )


def _snowflake(body: JSON, key: str) -> int | None:
    raw = body.get(key)
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not str(raw).isdigit():
        raise ControlError(400, f"{key} must be a snowflake ID (digits), got {raw!r}")
    return int(raw)


def _required(body: JSON, key: str) -> Any:
    if body.get(key) in (None, ""):
        raise ControlError(400, f"{key} is required")
    return body[key]


class SandboxControl:
    """The control endpoints, over one emulator."""

    def __init__(self, emu: DiscordEmulator) -> None:
        self._emu = emu

    def _guild(self) -> Guild:
        guild = next(iter(self._emu.state.guilds.values()), None)
        if guild is None:
            raise ControlError(409, "the emulated Discord has no server yet")
        return guild

    def _user(self, body: JSON, guild: Guild) -> int:
        user_id = _snowflake(body, "user_id")
        if user_id is None:
            admins = (
                m.user.id
                for m in guild.members.values()
                if guild.permissions(m.user.id) & MANAGE_GUILD
                and not m.user.bot
                and m.user.id != guild.owner_id
            )
            return next(admins, guild.owner_id)
        if user_id not in guild.members:
            raise ControlError(404, f"user_id {user_id} is not a member of the server")
        return user_id

    def _channel(self, body: JSON, guild: Guild) -> Channel:
        channel_id = _snowflake(body, "channel_id")
        if channel_id is None:
            text = next((c for c in guild.channels.values() if c.type == GUILD_TEXT), None)
            if text is None:
                raise ControlError(409, "the server has no text channel; give channel_id")
            return text
        channel = guild.channels.get(channel_id) or guild.threads.get(channel_id)
        if channel is None:
            raise ControlError(404, f"channel_id {channel_id} is not a channel of the server")
        return channel

    async def _answer(self, record: ix.InteractionRecord) -> web.Response:
        try:
            response = await record.wait_response(timeout=5)
            if response.get("type") == ix.DEFERRED_CHANNEL_MESSAGE:
                await record.wait_followup(timeout=30)
        except TimeoutError:
            return _refusal(504, "the bot did not answer")
        return web.json_response(
            {"ok": True, "response": record.responses[0], "followups": record.followups}
        )

    # -- the endpoints ----------------------------------------------------------------------------

    @endpoint
    async def command(self, body: JSON) -> web.Response:
        """`{"command": "panel create", "options": {"title": "Support"}}` (or the list form)."""
        guild = self._guild()
        name = _required(body, "command")
        if not isinstance(name, str) or not name.split():
            raise ControlError(400, 'command must be a command\'s name, e.g. "panel create"')
        words = name.split()
        declared = self._declared_options(guild, words)
        raw = body.get("options") or {}
        if isinstance(raw, dict):
            options = [_typed_option(key, value, declared, name) for key, value in raw.items()]
        elif isinstance(raw, list) and all(isinstance(o, dict) for o in raw):
            options = raw
        else:
            raise ControlError(400, "options must be an object {name: value} or a list of options")
        _check_references(options, guild)
        user = self._user(body, guild)
        channel = self._channel(body, guild)
        record = await self._emu.run_command(guild.id, user, channel.id, name, options)
        return await self._answer(record)

    def _declared_options(self, guild: Guild, words: list[str]) -> list[JSON]:
        """The options the bot registered for `words` ("panel button add"), or a 404 naming
        what is registered."""
        state = self._emu.state
        registered = state.commands.get(guild.id, []) + state.commands.get(None, [])
        top = next((c for c in registered if c.get("name") == words[0]), None)
        if top is None:
            names = ", ".join(sorted(str(c.get("name")) for c in registered)) or "none"
            raise ControlError(
                404, f"the bot registered no command named {words[0]!r} (registered: {names})"
            )
        options: list[JSON] = top.get("options") or []
        for depth, word in enumerate(words[1:], start=1):
            nested = [o for o in options if o.get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP)]
            found = next((o for o in nested if o.get("name") == word), None)
            if found is None:
                known = ", ".join(str(o.get("name")) for o in nested) or "none"
                raise ControlError(
                    404,
                    f"{' '.join(words[:depth])!r} has no sub-command {word!r} (it has: {known})",
                )
            options = found.get("options") or []
        if any(o.get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP) for o in options):
            known = ", ".join(str(o.get("name")) for o in options)
            raise ControlError(400, f"{' '.join(words)!r} needs a sub-command (one of: {known})")
        return options

    @endpoint
    async def click(self, body: JSON) -> web.Response:
        """`{"message_id": "…", "custom_id": "rmp:open:btn_help"}`; the channel is the message's
        unless `channel_id` says otherwise."""
        guild = self._guild()
        message_id = _snowflake(body, "message_id")
        if message_id is None:
            raise ControlError(400, "message_id is required")
        custom_id = _required(body, "custom_id")
        if "channel_id" in body:
            channel = self._channel(body, guild)
        else:
            found = next(
                (
                    c
                    for c in guild.channels.values()
                    if message_id in self._emu.state.messages.get(c.id, {})
                ),
                None,
            )
            if found is None:
                raise ControlError(404, f"message_id {message_id} is in no channel of the server")
            channel = found
        message = self._emu.state.messages.get(channel.id, {}).get(message_id)
        if message is None:
            raise ControlError(404, f"message_id {message_id} is not in channel {channel.id}")
        ids = [c.get("custom_id") for row in message.components for c in row.get("components", [])]
        if custom_id not in ids:
            raise ControlError(
                404, f"message {message_id} has no component {custom_id!r} (it has: {ids})"
            )
        user = self._user(body, guild)
        record = await self._emu.click_button(guild.id, user, channel.id, message_id, custom_id)
        return await self._answer(record)

    @endpoint
    async def submit(self, body: JSON) -> web.Response:
        """`{"custom_id": "rmp:form:btn_help", "values": {"qst_help_topic": "…"}}`."""
        guild = self._guild()
        custom_id = _required(body, "custom_id")
        values = body.get("values") or {}
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            raise ControlError(400, "values must be an object {input custom_id: text}")
        user = self._user(body, guild)
        channel = self._channel(body, guild)
        record = await self._emu.submit_modal(guild.id, user, channel.id, str(custom_id), values)
        return await self._answer(record)

    @endpoint
    async def say(self, body: JSON) -> web.Response:
        """`{"content": "hello"}`: a member writes in a channel. Optional: `files`, a list of
        `{"name": "shot.png", "data": "<base64>", "content_type": "image/png"}` (uploaded like
        Discord's: served by the CDN behind signed links that expire); `reply_to`, a message ID
        of the channel; `stickers`, a list of names. Text or a file is required."""
        guild = self._guild()
        content = body.get("content") or ""
        if not isinstance(content, str):
            raise ControlError(400, "content must be text")
        raw_files = body.get("files") or []
        if not isinstance(raw_files, list):
            raise ControlError(400, "files must be a list of {name, data, content_type}")
        try:
            files = [_upload(raw) for raw in raw_files]
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise ControlError(400, f"bad file: {exc}") from None
        if not content and not files:
            raise ControlError(400, "content is required (or files)")
        if sum(len(f.data) for f in files) > UPLOAD_MAX_BYTES:
            raise ControlError(413, "files over 10 MB")
        user = self._user(body, guild)
        channel = self._channel(body, guild)
        reply_to = _snowflake(body, "reply_to")
        if reply_to is not None and reply_to not in self._emu.state.messages.get(channel.id, {}):
            raise ControlError(404, f"reply_to {reply_to} is not a message of the channel")
        stickers = body.get("stickers") or []
        if not isinstance(stickers, list):
            raise ControlError(400, "stickers must be a list of names")
        message = await self._emu.send_user_message(
            channel.id,
            user,
            content,
            files=files,
            reply_to=reply_to,
            stickers=[str(s) for s in stickers],
        )
        return web.json_response(
            {
                "ok": True,
                "message_id": str(message.id),
                "attachments": [a.payload(channel.id) for a in message.attachments],
            }
        )

    @endpoint
    async def faults(self, body: JSON) -> web.Response:
        """Make Discord fail the next matching call(s); default: the next channel creation."""
        try:
            status, code, times = (
                int(body.get(key, default))
                for key, default in (("status", 403), ("code", 50013), ("times", 1))
            )
        except (TypeError, ValueError):
            raise ControlError(400, "status, code and times must be integers") from None
        if not 400 <= status <= 599 or times < 1:
            raise ControlError(400, "status must be 400-599 and times at least 1")
        fault = self._emu.inject_fault(
            str(body.get("method", "POST")),
            str(body.get("route", "/guilds/{guild_id}/channels")),
            status,
            code=code,
            times=times,
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

    @endpoint
    async def rate_limits(self, body: JSON) -> web.Response:
        """`{"per_route": 2, "window_s": 0.5, "global_per_s": 50}`: Discord's limits, tightened
        (or loosened) so a client's rate-limit handling can be tested; `{}` restores the default."""
        defaults = Limits()
        try:
            per_route = int(body.get("per_route", defaults.per_route))
            window_s = float(body.get("window_s", defaults.window_s))
            raw_global = body.get("global_per_s", defaults.global_per_s)
            global_per_s = None if raw_global is None else int(raw_global)
        except (TypeError, ValueError):
            raise ControlError(
                400, "per_route, window_s and global_per_s must be numbers"
            ) from None
        if per_route < 1 or window_s <= 0 or (global_per_s is not None and global_per_s < 1):
            raise ControlError(400, "per_route and global_per_s must be at least 1, window_s > 0")
        self._emu.rate_limiter.tight(per_route, window_s, global_per_s)
        limits = self._emu.rate_limiter.limits
        return web.json_response(
            {
                "ok": True,
                "limits": {
                    "per_route": limits.per_route,
                    "window_s": limits.window_s,
                    "global_per_s": limits.global_per_s,
                },
            }
        )


def _typed_option(name: str, value: Any, declared: list[JSON], command: str) -> JSON:
    """An option of the object form, typed as the command declares it."""
    option = next((o for o in declared if o.get("name") == name), None)
    if option is None:
        known = ", ".join(str(o.get("name")) for o in declared) or "none"
        raise ControlError(400, f"/{command} has no option {name!r} (its options: {known})")
    kind = option.get("type")
    wrong = ControlError(400, f"option {name!r} of /{command} takes {_TYPE_NAMES.get(kind, kind)}")
    if kind == STRING:
        if not isinstance(value, str):
            raise wrong
    elif kind == INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong
    elif kind == NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise wrong
    elif kind == BOOLEAN:
        if not isinstance(value, bool):
            raise wrong
    elif kind in _SNOWFLAKE_OPTIONS:
        if isinstance(value, bool) or not str(value).isdigit():
            raise wrong
        value = str(value)
    else:
        raise ControlError(400, f"option {name!r} of /{command} can't be sent from the sandbox")
    return {"name": name, "type": kind, "value": value}


def _check_references(options: list[JSON], guild: Guild) -> None:
    """A user, channel or role option names something in the server (Discord's pickers only
    offer those)."""
    for option in options:
        kind, value = option.get("type"), option.get("value")
        if kind in (SUB_COMMAND, SUB_COMMAND_GROUP):
            _check_references(option.get("options") or [], guild)
            continue
        if kind not in _SNOWFLAKE_OPTIONS:
            continue
        target = int(str(value)) if str(value).isdigit() else -1
        found = (
            (kind in (USER, MENTIONABLE) and target in guild.members)
            or (kind == CHANNEL and target in guild.channels)
            or (kind in (ROLE, MENTIONABLE) and target in guild.roles)
        )
        if not found:
            what = _SNOWFLAKE_OPTIONS[kind]
            raise ControlError(
                404, f"option {option.get('name')!r}: {value!r} is no {what} of the server"
            )


_TYPE_NAMES: dict[Any, str] = {
    STRING: "text",
    INTEGER: "an integer",
    BOOLEAN: "true or false",
    NUMBER: "a number",
    USER: "a user ID",
    CHANNEL: "a channel ID",
    ROLE: "a role ID",
    MENTIONABLE: "a user or role ID",
}
