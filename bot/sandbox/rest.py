"""The emulated REST API (v10): the routes a ticket bot uses, with Discord's checks and errors."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.sandbox import interactions as ix
from bot.sandbox.multipart import parse_multipart
from bot.sandbox.state import (
    ADMINISTRATOR,
    ATTACH_FILES,
    CREATE_PRIVATE_THREADS,
    DM,
    GUILD_CATEGORY,
    GUILD_TEXT,
    JSON,
    MANAGE_CHANNELS,
    MANAGE_MESSAGES,
    MANAGE_ROLES,
    MANAGE_THREADS,
    PRIVATE_THREAD,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    Attachment,
    Channel,
    Guild,
    Message,
    Overwrite,
)
from bot.sandbox.validation import (
    UPLOAD_MAX_BYTES,
    FormErrors,
    check_message,
    check_modal,
    normalize_channel_name,
)

if TYPE_CHECKING:
    from bot.sandbox.emulator import DiscordEmulator

PREFIX = "/api/v10"
CHANNELS_PER_CATEGORY = 50
CHANNELS_PER_GUILD = 500
PUBLIC_THREAD = 11
# docs: topics/opcodes-and-status-codes#json: the thread errors.
THREAD_ARCHIVED = (400, 50083, "Thread is archived")
WRONG_CHANNEL_TYPE = (400, 50024, "Cannot execute action on this channel type")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class DiscordHTTPError(Exception):
    """An error answered in Discord's JSON error format."""

    def __init__(self, status: int, code: int, message: str, errors: JSON | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def response(self) -> web.Response:
        body: JSON = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return web.json_response(body, status=self.status)


def unknown(what: str, code: int) -> DiscordHTTPError:
    return DiscordHTTPError(404, code, f"Unknown {what}")


MISSING_ACCESS = DiscordHTTPError(403, 50001, "Missing Access")
MISSING_PERMISSIONS = DiscordHTTPError(403, 50013, "Missing Permissions")


def invalid_form(errors: FormErrors) -> DiscordHTTPError:
    return DiscordHTTPError(400, 50035, "Invalid Form Body", errors.tree)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


class RestApi:
    """Route handlers over the emulator's state; registered on the emulator's aiohttp app."""

    def __init__(self, emu: DiscordEmulator) -> None:
        self.emu = emu
        self.state = emu.state

    def routes(self) -> list[web.RouteDef]:
        r = web
        p = PREFIX
        return [
            r.get(f"{p}/gateway/bot", self.gateway_bot),
            r.get(f"{p}/users/@me", self.me),
            r.get(f"{p}/users/{{user_id}}", self.get_user),
            r.post(f"{p}/users/@me/channels", self.open_dm),
            r.get(f"{p}/oauth2/applications/@me", self.application),
            r.get(f"{p}/applications/{{app_id}}/commands", self.get_commands),
            r.put(f"{p}/applications/{{app_id}}/commands", self.put_commands),
            r.get(f"{p}/applications/{{app_id}}/guilds/{{guild_id}}/commands", self.get_commands),
            r.put(f"{p}/applications/{{app_id}}/guilds/{{guild_id}}/commands", self.put_commands),
            r.get(f"{p}/guilds/{{guild_id}}", self.get_guild),
            r.get(f"{p}/guilds/{{guild_id}}/channels", self.get_guild_channels),
            r.post(f"{p}/guilds/{{guild_id}}/channels", self.create_channel),
            r.get(f"{p}/guilds/{{guild_id}}/roles", self.get_roles),
            r.get(f"{p}/guilds/{{guild_id}}/members", self.list_members),
            r.get(f"{p}/guilds/{{guild_id}}/members/{{user_id}}", self.get_member),
            r.get(f"{p}/channels/{{channel_id}}", self.get_channel),
            r.patch(f"{p}/channels/{{channel_id}}", self.edit_channel),
            r.delete(f"{p}/channels/{{channel_id}}", self.delete_channel),
            r.put(f"{p}/channels/{{channel_id}}/permissions/{{target_id}}", self.put_overwrite),
            r.delete(f"{p}/channels/{{channel_id}}/permissions/{{target_id}}", self.del_overwrite),
            r.post(f"{p}/channels/{{channel_id}}/threads", self.create_thread),
            r.put(
                f"{p}/channels/{{channel_id}}/thread-members/{{user_id}}", self.add_thread_member
            ),
            r.delete(
                f"{p}/channels/{{channel_id}}/thread-members/{{user_id}}",
                self.remove_thread_member,
            ),
            r.get(f"{p}/channels/{{channel_id}}/messages", self.get_messages),
            r.post(f"{p}/channels/{{channel_id}}/messages", self.create_message),
            r.get(f"{p}/channels/{{channel_id}}/messages/{{message_id}}", self.get_message),
            r.patch(f"{p}/channels/{{channel_id}}/messages/{{message_id}}", self.edit_message),
            r.delete(f"{p}/channels/{{channel_id}}/messages/{{message_id}}", self.delete_message),
            r.post(f"{p}/interactions/{{interaction_id}}/{{token}}/callback", self.callback),
            r.post(f"{p}/webhooks/{{app_id}}/{{token}}", self.followup),
            r.get(
                f"{p}/webhooks/{{app_id}}/{{token}}/messages/{{message_id}}", self.get_wh_message
            ),
            r.patch(
                f"{p}/webhooks/{{app_id}}/{{token}}/messages/{{message_id}}", self.edit_wh_message
            ),
            r.delete(
                f"{p}/webhooks/{{app_id}}/{{token}}/messages/{{message_id}}",
                self.delete_wh_message,
            ),
        ]

    # -- lookups ------------------------------------------------------------------------------

    def guild(self, request: web.Request) -> Guild:
        guild = self.state.guilds.get(_snowflake(request, "guild_id"))
        if guild is None:
            raise unknown("Guild", 10004)
        return guild

    def channel(self, request: web.Request) -> Channel:
        channel = self.state.channels.get(_snowflake(request, "channel_id"))
        if channel is None:
            raise unknown("Channel", 10003)
        return channel

    def require(self, guild: Guild, channel: Channel | None, needed: int) -> int:
        perms = guild.permissions(self.state.bot.id, channel)
        if channel is not None and not perms & VIEW_CHANNEL:
            raise MISSING_ACCESS
        if perms & needed != needed:
            raise MISSING_PERMISSIONS
        return perms

    # -- application, gateway, users ----------------------------------------------------------

    async def gateway_bot(self, request: web.Request) -> web.Response:
        return _json(
            {
                "url": self.emu.gateway_url,
                "shards": self.emu.gateway.shards_to_recommend(),
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 86_400_000,
                    "max_concurrency": self.emu.gateway.max_concurrency,
                },
            }
        )

    async def me(self, request: web.Request) -> web.Response:
        return _json(self.state.bot.payload())

    async def get_user(self, request: web.Request) -> web.Response:
        user = self.state.users.get(_snowflake(request, "user_id"))
        if user is None:
            raise unknown("User", 10013)
        return _json(user.payload())

    async def application(self, request: web.Request) -> web.Response:
        owner = self.state.users.get(self.emu.owner_id) or self.state.bot
        return _json(
            {
                "id": str(self.state.application_id),
                "name": self.state.bot.username,
                "icon": None,
                "description": "Rimpllee sandbox application",
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": owner.payload(),
                "verify_key": "00" * 32,
                "flags": 0,
                "flags_new": "0",
                "type": None,
                "team": None,
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "role_connections_verification_url": None,
                "explicit_content_filter": 0,
                "eligible_oauth2_scopes": [],
                "approximate_guild_count": len(self.state.guilds),
                "approximate_user_install_count": 0,
                "approximate_user_authorization_count": 0,
                # A server-installable app: lightbulb registers commands with integration_types [0].
                "integration_types_config": {"0": {}},
                "bot": self.state.bot.payload(),
            }
        )

    async def get_commands(self, request: web.Request) -> web.Response:
        return _json(self.state.commands.get(_guild_scope(request), []))

    async def put_commands(self, request: web.Request) -> web.Response:
        scope = _guild_scope(request)
        body = await request.json()
        commands = []
        for cmd in body:
            commands.append(
                {
                    "type": 1,
                    "description": "",
                    "options": [],
                    "nsfw": False,
                    **cmd,
                    "default_member_permissions": _permission_string(
                        cmd.get("default_member_permissions")
                    ),
                    "id": str(self.state.ids.next()),
                    "application_id": str(self.state.application_id),
                    "version": str(self.state.ids.next()),
                    **({"guild_id": str(scope)} if scope else {}),
                }
            )
        self.state.commands[scope] = commands
        return _json(commands)

    # -- guilds ---------------------------------------------------------------------------------

    async def get_guild(self, request: web.Request) -> web.Response:
        return _json(self.guild(request).payload())

    async def get_guild_channels(self, request: web.Request) -> web.Response:
        return _json([c.payload() for c in self.guild(request).channels.values()])

    async def get_roles(self, request: web.Request) -> web.Response:
        return _json([r.payload() for r in self.guild(request).roles.values()])

    async def get_member(self, request: web.Request) -> web.Response:
        member = self.guild(request).members.get(_snowflake(request, "user_id"))
        if member is None:
            raise unknown("Member", 10007)
        return _json(member.payload())

    async def list_members(self, request: web.Request) -> web.Response:
        guild = self.guild(request)
        limit = int(request.query.get("limit", "1"))
        after = int(request.query.get("after", "0"))
        members = sorted((m for m in guild.members.values() if m.user.id > after), key=_uid)
        return _json([m.payload() for m in members[:limit]])

    async def create_channel(self, request: web.Request) -> web.Response:
        guild = self.guild(request)
        body = await request.json()
        errors = FormErrors()
        channel_type = int(body.get("type") or 0)
        name = normalize_channel_name(str(body.get("name", "")), channel_type, errors)
        parent: Channel | None = None
        if (raw_parent := body.get("parent_id")) is not None:
            parent = guild.channels.get(int(raw_parent))
            if parent is None or parent.type != GUILD_CATEGORY:
                errors.add(["parent_id"], "CHANNEL_PARENT_INVALID", "Category does not exist")
        if errors:
            raise invalid_form(errors)
        bot_perms = self.require(guild, parent, MANAGE_CHANNELS)
        overwrites = [_overwrite(o) for o in body.get("permission_overwrites") or []]
        if not bot_perms & ADMINISTRATOR:
            for ow in overwrites:
                if (ow.allow | ow.deny) & ~bot_perms:
                    raise MISSING_PERMISSIONS
        if len(guild.channels) >= CHANNELS_PER_GUILD:
            raise DiscordHTTPError(
                400, 30013, f"Maximum number of guild channels reached ({CHANNELS_PER_GUILD})"
            )
        if parent is not None:
            siblings = sum(1 for c in guild.channels.values() if c.parent_id == parent.id)
            if siblings >= CHANNELS_PER_CATEGORY:
                errors.add(
                    ["parent_id"],
                    "CHANNEL_PARENT_MAX_CHANNELS",
                    f"Maximum number of channels in category reached ({CHANNELS_PER_CATEGORY})",
                )
                raise invalid_form(errors)
        channel = self.state.add_channel(
            guild,
            name,
            type=channel_type,
            parent_id=parent.id if parent else None,
            overwrites=overwrites,
            topic=body.get("topic"),
        )
        await self.emu.publish("CHANNEL_CREATE", channel.payload())
        return _json(channel.payload(), 201)

    # -- channels -------------------------------------------------------------------------------

    async def get_channel(self, request: web.Request) -> web.Response:
        channel = self.channel(request)
        if channel.type == DM:
            return _json(self._dm_payload(channel))
        self.require(self.state.guilds[channel.guild_id], channel, 0)
        return _json(channel.payload())

    async def edit_channel(self, request: web.Request) -> web.Response:
        channel = self.channel(request)
        guild = self.state.guilds[channel.guild_id]
        if channel.thread is not None:
            return await self.edit_thread(request, guild, channel)
        self.require(guild, channel, MANAGE_CHANNELS)
        body = await request.json()
        errors = FormErrors()
        if "name" in body:
            channel.name = normalize_channel_name(str(body["name"]), channel.type, errors)
        parent_id = channel.parent_id
        if "parent_id" in body:
            parent_id = int(body["parent_id"]) if body["parent_id"] else None
            self._check_parent(guild, channel, parent_id, errors)
        if errors:
            raise invalid_form(errors)
        channel.parent_id = parent_id
        if "topic" in body:
            channel.topic = body["topic"]
        if "permission_overwrites" in body:
            channel.overwrites = {
                o.id: o for o in (_overwrite(x) for x in body["permission_overwrites"])
            }
        await self.emu.publish("CHANNEL_UPDATE", channel.payload())
        return _json(channel.payload())

    def _check_parent(
        self, guild: Guild, channel: Channel, parent_id: int | None, errors: FormErrors
    ) -> None:
        """A channel moves only into an existing category of its server that has room."""
        if parent_id is None or parent_id == channel.parent_id:
            return
        parent = guild.channels.get(parent_id)
        if parent is None or parent.type != GUILD_CATEGORY:
            errors.add(["parent_id"], "CHANNEL_PARENT_INVALID", "Category does not exist")
        elif sum(1 for c in guild.channels.values() if c.parent_id == parent_id) >= (
            CHANNELS_PER_CATEGORY
        ):
            errors.add(
                ["parent_id"],
                "CHANNEL_PARENT_MAX_CHANNELS",
                f"Maximum number of channels in category reached ({CHANNELS_PER_CATEGORY})",
            )

    async def delete_channel(self, request: web.Request) -> web.Response:
        channel = self.channel(request)
        if channel.thread is not None:
            # docs: resources/channel#deleteclose-channel: a thread needs Manage Threads.
            self.require(self.state.guilds[channel.guild_id], channel, MANAGE_THREADS)
            payload = channel.payload()
            self.state.remove_channel(channel)
            await self.emu.publish(
                "THREAD_DELETE",
                {k: payload[k] for k in ("id", "guild_id", "parent_id", "type")},
            )
            return _json(payload)
        self.require(self.state.guilds[channel.guild_id], channel, MANAGE_CHANNELS)
        payload = channel.payload()
        self.state.remove_channel(channel)
        await self.emu.publish("CHANNEL_DELETE", payload)
        return _json(payload)

    async def put_overwrite(self, request: web.Request) -> web.Response:
        channel = self.channel(request)
        if channel.thread is not None:
            raise DiscordHTTPError(*WRONG_CHANNEL_TYPE)  # a thread has no overwrites of its own
        self.require(self.state.guilds[channel.guild_id], channel, MANAGE_ROLES)
        body = await request.json()
        target = _snowflake(request, "target_id")
        channel.overwrites[target] = _overwrite({**body, "id": target})
        await self.emu.publish("CHANNEL_UPDATE", channel.payload())
        return web.Response(status=204)

    async def del_overwrite(self, request: web.Request) -> web.Response:
        channel = self.channel(request)
        if channel.thread is not None:
            raise DiscordHTTPError(*WRONG_CHANNEL_TYPE)
        self.require(self.state.guilds[channel.guild_id], channel, MANAGE_ROLES)
        channel.overwrites.pop(_snowflake(request, "target_id"), None)
        await self.emu.publish("CHANNEL_UPDATE", channel.payload())
        return web.Response(status=204)

    # -- threads (docs: topics/threads, resources/channel) --------------------------------------

    async def create_thread(self, request: web.Request) -> web.Response:
        """Start Thread without Message: private by default; the creator is its first member."""
        parent = self.channel(request)
        body = await request.json()
        kind = int(body.get("type") or PRIVATE_THREAD)
        if parent.type != GUILD_TEXT or kind not in (PRIVATE_THREAD, PUBLIC_THREAD):
            raise DiscordHTTPError(*WRONG_CHANNEL_TYPE)
        guild = self.state.guilds[parent.guild_id]
        # docs: resources/channel#start-thread-without-message: Create Private Threads for a
        # private one (Create Public Threads otherwise); the bot must see the channel.
        self.require(guild, parent, CREATE_PRIVATE_THREADS if kind == PRIVATE_THREAD else 1 << 35)
        thread = self.state.add_thread(parent, str(body["name"]), self.state.bot.id, type=kind)
        assert thread.thread is not None
        thread.thread.invitable = bool(body.get("invitable", True))
        if "auto_archive_duration" in body:
            thread.thread.auto_archive_duration = int(body["auto_archive_duration"])
        await self.emu.publish("THREAD_CREATE", {**thread.payload(), "newly_created": True})
        return _json(thread.payload(), 201)

    async def edit_thread(
        self, request: web.Request, guild: Guild, thread: Channel
    ) -> web.Response:
        """docs: resources/channel#modify-channel-json-params-thread: the creator may rename,
        archive and unarchive it; locking, invitable and unarchiving a locked thread need Manage
        Threads. An archived thread takes no change but being unarchived (and locked)."""
        state = thread.thread
        assert state is not None
        body = await request.json()
        bot = self.state.bot.id
        needs_manage = "locked" in body or "invitable" in body
        needs_manage |= state.locked and body.get("archived") is False
        needs_manage |= bot != state.owner_id and bool(
            {"name", "archived", "auto_archive_duration"} & set(body)
        )
        self.require(guild, thread, MANAGE_THREADS if needs_manage else 0)
        if (
            state.archived
            and body.get("archived") is not False
            and set(body)
            - {
                "archived",
                "locked",
            }
        ):
            raise DiscordHTTPError(*THREAD_ARCHIVED)
        if "name" in body:
            errors = FormErrors()
            thread.name = normalize_channel_name(str(body["name"]), thread.type, errors)
            if errors:
                raise invalid_form(errors)
        if "archived" in body and bool(body["archived"]) != state.archived:
            state.archived = bool(body["archived"])
            state.archived_at = time.time()
        if "locked" in body:
            state.locked = bool(body["locked"])
        if "invitable" in body:
            state.invitable = bool(body["invitable"])
        if "auto_archive_duration" in body:
            state.auto_archive_duration = int(body["auto_archive_duration"])
        await self.emu.publish("THREAD_UPDATE", thread.payload())
        return _json(thread.payload())

    async def _unarchive_to_send(self, thread: Channel) -> None:
        """A message unarchives an archived thread, unless it is locked and the sender may
        not Manage Threads (docs: topics/threads#archiving-and-unarchiving)."""
        state = thread.thread
        assert state is not None
        guild = self.state.guilds[thread.guild_id]
        if state.locked and not guild.permissions(self.state.bot.id, thread) & MANAGE_THREADS:
            raise DiscordHTTPError(*THREAD_ARCHIVED)
        state.archived = False
        state.archived_at = time.time()
        await self.emu.publish("THREAD_UPDATE", thread.payload())

    def thread(self, request: web.Request) -> tuple[Guild, Channel]:
        thread = self.channel(request)
        if thread.thread is None:
            raise DiscordHTTPError(*WRONG_CHANNEL_TYPE)
        if thread.thread.archived:
            # docs: resources/channel#add-thread-member: "requires the thread is not archived"
            raise DiscordHTTPError(*THREAD_ARCHIVED)
        return self.state.guilds[thread.guild_id], thread

    async def add_thread_member(self, request: web.Request) -> web.Response:
        """docs: resources/channel#add-thread-member: needs the ability to send messages in the
        thread; the user must be a member of the server."""
        guild, thread = self.thread(request)
        self.require(guild, thread, SEND_MESSAGES)
        assert thread.thread is not None
        member = guild.members.get(_snowflake(request, "user_id"))
        if member is None:
            raise unknown("Member", 10007)
        if member.user.id not in thread.thread.members:
            thread.thread.members[member.user.id] = time.time()
            await self._members_update(thread, added=member.user.id)
        return web.Response(status=204)

    async def remove_thread_member(self, request: web.Request) -> web.Response:
        """docs: resources/channel#remove-thread-member: Manage Threads, or the creator of a
        private thread."""
        guild, thread = self.thread(request)
        assert thread.thread is not None
        owner = thread.type == PRIVATE_THREAD and thread.thread.owner_id == self.state.bot.id
        self.require(guild, thread, 0 if owner else MANAGE_THREADS)
        user_id = _snowflake(request, "user_id")
        if thread.thread.members.pop(user_id, None) is not None:
            await self._members_update(thread, removed=user_id)
        return web.Response(status=204)

    async def _members_update(
        self, thread: Channel, *, added: int | None = None, removed: int | None = None
    ) -> None:
        assert thread.thread is not None
        guild = self.state.guilds[thread.guild_id]
        payload: JSON = {
            "id": str(thread.id),
            "guild_id": str(thread.guild_id),
            "member_count": min(len(thread.thread.members), 50),
        }
        if added is not None:
            member = guild.members[added]
            payload["added_members"] = [
                {**thread.thread_member(added), "member": member.payload(), "presence": None}
            ]
        if removed is not None:
            payload["removed_member_ids"] = [str(removed)]
        await self.emu.publish("THREAD_MEMBERS_UPDATE", payload)

    # -- messages -------------------------------------------------------------------------------

    def message(self, request: web.Request, channel: Channel) -> Message:
        message = self.state.messages[channel.id].get(_snowflake(request, "message_id"))
        if message is None:
            raise unknown("Message", 10008)
        return message

    async def get_messages(self, request: web.Request) -> web.Response:
        channel = self.channel(request)
        self.require(self.state.guilds[channel.guild_id], channel, READ_MESSAGE_HISTORY)
        limit = int(request.query.get("limit", "50"))
        if not 1 <= limit <= 100:
            errors = FormErrors()
            errors.add(["limit"], "NUMBER_TYPE_MAX", "int value should be between 1 and 100.")
            raise invalid_form(errors)
        ids = sorted(self.state.messages[channel.id])
        if "after" in request.query:
            after = int(request.query["after"])
            chosen = [i for i in ids if i > after][:limit]
        else:
            before = int(request.query.get("before", str(1 << 63)))
            chosen = [i for i in ids if i < before][-limit:]
        content = self.emu.gateway.sees_content()
        messages = self.state.messages[channel.id]
        bot = self.state.bot.id
        return _json(
            [
                messages[i].payload(
                    with_content=content or messages[i].readable_without_intent(bot)
                )
                for i in reversed(chosen)
            ]
        )

    async def get_message(self, request: web.Request) -> web.Response:
        channel = self.channel(request)
        self.require(self.state.guilds[channel.guild_id], channel, READ_MESSAGE_HISTORY)
        message = self.message(request, channel)
        visible = self.emu.gateway.sees_content() or message.readable_without_intent(
            self.state.bot.id
        )
        return _json(message.payload(with_content=visible))

    async def open_dm(self, request: web.Request) -> web.Response:
        body = await request.json()
        user = self.state.users.get(int(body.get("recipient_id", 0)))
        if user is None:
            raise unknown("User", 10013)
        return _json(self._dm_payload(self.state.dm_channel(user)))

    def _dm_payload(self, dm: Channel) -> JSON:
        payload = dm.payload()
        payload["recipients"] = [self.state.users[dm.recipient_id].payload()]
        return payload

    async def create_message(self, request: web.Request) -> web.Response:
        channel = self.channel(request)
        if channel.type == DM and not self.state.users[channel.recipient_id].accepts_dms:
            raise DiscordHTTPError(403, 50007, "Cannot send messages to this user")
        body, files = await _message_body(request)
        if channel.type != DM:
            needed = SEND_MESSAGES | (ATTACH_FILES if files else 0)
            self.require(self.state.guilds[channel.guild_id], channel, needed)
        if channel.thread is not None and channel.thread.archived:
            await self._unarchive_to_send(channel)
        message = self._new_message(channel, files)
        _apply_message(message, body)
        _require_content(message)
        self.state.store_message(channel, message)
        await self.emu.publish("MESSAGE_CREATE", self.state.message_created(message))
        return _json(message.payload())

    async def edit_message(self, request: web.Request) -> web.Response:
        channel = self.channel(request)
        self.require(self.state.guilds[channel.guild_id], channel, 0)
        message = self.message(request, channel)
        if message.author.id != self.state.bot.id:
            raise DiscordHTTPError(403, 50005, "Cannot edit a message authored by another user")
        body, files = await _message_body(request)
        message.attachments.extend(files)
        _apply_message(message, body)
        _require_content(message)
        message.edited_at = time.time()
        await self.emu.publish("MESSAGE_UPDATE", message.payload())
        return _json(message.payload())

    async def delete_message(self, request: web.Request) -> web.Response:
        channel = self.channel(request)
        guild = self.state.guilds[channel.guild_id]
        message = self.message(request, channel)
        if message.author.id != self.state.bot.id:
            self.require(guild, channel, MANAGE_MESSAGES)
        del self.state.messages[channel.id][message.id]
        await self.emu.publish(
            "MESSAGE_DELETE",
            {"id": str(message.id), "channel_id": str(channel.id), "guild_id": str(guild.id)},
        )
        return web.Response(status=204)

    # -- interactions and their webhooks --------------------------------------------------------

    def record(self, request: web.Request) -> ix.InteractionRecord:
        record = self.emu.interactions_by_token.get(request.match_info["token"])
        if record is None or time.monotonic() - record.created_at > ix.FOLLOWUP_WINDOW_S:
            raise unknown("Webhook", 10015)
        return record

    async def callback(self, request: web.Request) -> web.Response:
        record = self.emu.interactions_by_token.get(request.match_info["token"])
        if record is None or str(record.id) != request.match_info["interaction_id"]:
            raise unknown("interaction", 10062)
        if record.responses:
            raise DiscordHTTPError(400, 40060, "Interaction has already been acknowledged.")
        if time.monotonic() - record.created_at > ix.RESPONSE_DEADLINE_S:
            raise unknown("interaction", 10062)
        body, files = await _message_body(request)
        kind = int(body.get("type", 0))
        data = body.get("data") or {}
        errors = FormErrors()
        if kind == ix.MODAL:
            check_modal(data, errors)
        elif kind in (ix.CHANNEL_MESSAGE, ix.UPDATE_MESSAGE):
            check_message(data, errors)
        if errors:
            raise invalid_form(errors)
        resource: JSON = {"type": kind}
        callback: JSON = {"id": str(record.id), "type": record.type}
        if kind == ix.CHANNEL_MESSAGE:
            message = await self._interaction_message(record, data, files)
            record.original_message_id = message.id
            resource["message"] = message.payload()
            callback["response_message_id"] = str(message.id)
            callback["response_message_ephemeral"] = bool(message.flags & ix.EPHEMERAL)
        elif kind == ix.UPDATE_MESSAGE and record.original_message_id is None:
            source = self.emu.component_messages.get(record.id)
            if source is not None:
                _apply_message(source, data)
                source.edited_at = time.time()
                resource["message"] = source.payload()
        record.responses.append(body)
        record.answered.set()
        if request.query.get("with_response", "").lower() == "true":
            # Discord names a resource only when the answer made or updated a message.
            answer: JSON = {"interaction": callback}
            if "message" in resource:
                answer["resource"] = resource
            return _json(answer)
        return web.Response(status=204)

    async def _interaction_message(
        self,
        record: ix.InteractionRecord,
        data: JSON,
        files: list[Attachment],
        *,
        placeholder: bool = False,
    ) -> Message:
        """A message sent through an interaction; ephemeral ones never reach the channel."""
        channel = self.state.channels[record.channel_id]
        message = self._new_message(channel, files)
        message.webhook_id = message.application_id = self.state.application_id
        _apply_message(message, data)
        if not placeholder:
            _require_content(message)
        if message.flags & ix.EPHEMERAL:
            self.emu.ephemeral[message.id] = message
        else:
            self.state.store_message(channel, message)
            await self.emu.publish("MESSAGE_CREATE", self.state.message_created(message))
        return message

    def _new_message(self, channel: Channel, files: list[Attachment]) -> Message:
        return Message(
            id=self.state.ids.next(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=self.state.bot,
            content="",
            created_at=time.time(),
            attachments=files,
        )

    async def followup(self, request: web.Request) -> web.Response:
        record = self.record(request)
        if not record.responses:
            raise unknown("Webhook", 10015)
        body, files = await _message_body(request)
        errors = FormErrors()
        check_message(body, errors)
        if errors:
            raise invalid_form(errors)
        message = await self._interaction_message(record, body, files)
        record.followups.append(body)
        return _json(message.payload())

    def _webhook_message(self, request: web.Request, record: ix.InteractionRecord) -> Message:
        raw = request.match_info["message_id"]
        message_id = record.original_message_id if raw == "@original" else int(raw)
        if message_id is not None:
            if message := self.emu.ephemeral.get(message_id):
                return message
            channel_messages = self.state.messages.get(record.channel_id, {})
            if message := channel_messages.get(message_id):
                return message
        raise unknown("Message", 10008)

    async def get_wh_message(self, request: web.Request) -> web.Response:
        record = self.record(request)
        return _json(self._webhook_message(request, record).payload())

    async def edit_wh_message(self, request: web.Request) -> web.Response:
        record = self.record(request)
        body, files = await _message_body(request)
        errors = FormErrors()
        check_message(body, errors)
        if errors:
            raise invalid_form(errors)
        deferred = record.responses and record.responses[0].get("type") in (
            ix.DEFERRED_CHANNEL_MESSAGE,
            ix.DEFERRED_UPDATE_MESSAGE,
        )
        if request.match_info["message_id"] == "@original" and record.original_message_id is None:
            if not deferred:
                raise unknown("Message", 10008)
            source = self.emu.component_messages.get(record.id)
            if record.responses[0].get("type") == ix.DEFERRED_UPDATE_MESSAGE and source:
                message = source
            else:
                flags = (record.responses[0].get("data") or {}).get("flags") or 0
                message = await self._interaction_message(
                    record, {"flags": flags}, [], placeholder=True
                )
            record.original_message_id = message.id
        else:
            message = self._webhook_message(request, record)
        message.attachments.extend(files)
        _apply_message(message, body)
        _require_content(message)
        record.followups.append(body)
        return _json(message.payload())

    async def delete_wh_message(self, request: web.Request) -> web.Response:
        record = self.record(request)
        message = self._webhook_message(request, record)
        self.emu.ephemeral.pop(message.id, None)
        self.state.messages.get(message.channel_id, {}).pop(message.id, None)
        return web.Response(status=204)


# -- helpers ------------------------------------------------------------------------------------


def _uid(member: Any) -> int:
    return int(member.user.id)


def _snowflake(request: web.Request, key: str) -> int:
    raw = request.match_info[key]
    if not raw.isdigit():
        errors = FormErrors()
        errors.add([key], "NUMBER_TYPE_COERCE", f"Value {raw!r} is not snowflake.")
        raise invalid_form(errors)
    return int(raw)


def _permission_string(value: Any) -> str | None:
    """Discord answers permission bitsets as strings, whatever the bot sent."""
    return None if value is None else str(value)


def _guild_scope(request: web.Request) -> int | None:
    raw = request.match_info.get("guild_id")
    return int(raw) if raw else None


def _overwrite(raw: JSON) -> Overwrite:
    return Overwrite(
        id=int(raw["id"]),
        type=int(raw.get("type", 0)),
        allow=int(raw.get("allow") or 0),
        deny=int(raw.get("deny") or 0),
    )


async def _message_body(request: web.Request) -> tuple[JSON, list[Attachment]]:
    """A JSON body, or multipart with `payload_json` plus `files[n]` parts as Discord accepts."""
    if not request.body_exists:
        return {}, []
    if request.content_type != "multipart/form-data":
        body = await request.json()
        return (body if isinstance(body, dict) else {}), []
    body = {}
    files: list[Attachment] = []
    for part in parse_multipart(request.headers["Content-Type"], await request.read()):
        if part.name == "payload_json":
            body = json.loads(part.data)
        else:
            files.append(
                Attachment(
                    filename=part.filename or "file",
                    data=part.data,
                    content_type=part.content_type,
                )
            )
    if sum(len(f.data) for f in files) > UPLOAD_MAX_BYTES:
        raise DiscordHTTPError(413, 40005, "Request entity too large")
    return body, files


def _apply_message(message: Message, body: JSON) -> None:
    errors = FormErrors()
    check_message(body, errors)
    if errors:
        raise invalid_form(errors)
    if "content" in body:
        message.content = body["content"] or ""
    if "embeds" in body:
        # Discord answers every embed a bot sends with its type.
        message.embeds = [{"type": "rich", **e} for e in body["embeds"] or []]
    if "components" in body:
        message.components = _number_components(body["components"] or [])
    if "flags" in body:
        message.flags = int(body["flags"] or 0)
    if "allowed_mentions" in body:
        message.allowed_mentions = body["allowed_mentions"]


def _number_components(rows: list[JSON]) -> list[JSON]:
    """Discord gives every component of a message a numeric `id`, rows first, depth-first."""
    counter = 0
    numbered = []
    for row in rows:
        counter += 1
        children = []
        for child in row.get("components") or []:
            counter += 1
            children.append({"id": counter, **child})
        numbered.append({"id": counter - len(children), **row, "components": children})
    return numbered


def _require_content(message: Message) -> None:
    if not (message.content or message.embeds or message.components or message.attachments):
        raise DiscordHTTPError(400, 50006, "Cannot send an empty message")
