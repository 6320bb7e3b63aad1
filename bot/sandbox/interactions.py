"""Interactions as Discord sends them: payload builders and the answer-once, within-3-s rule."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field

from bot.sandbox.state import JSON, Channel, DiscordState, Guild, Member, User
from bot.sandbox.validation import UPLOAD_MAX_BYTES

RESPONSE_DEADLINE_S = 3.0
FOLLOWUP_WINDOW_S = 15 * 60

# Interaction types.
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
AUTOCOMPLETE = 4
MODAL_SUBMIT = 5

# Callback types.
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
MODAL = 9

EPHEMERAL = 1 << 6


@dataclass
class InteractionRecord:
    """One dispatched interaction and everything the bot answered to it."""

    id: int
    token: str
    type: int
    guild_id: int
    channel_id: int
    user_id: int
    created_at: float
    clock: float = 0.0
    responses: list[JSON] = field(default_factory=list)
    followups: list[JSON] = field(default_factory=list)
    original_message_id: int | None = None
    answered: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def response(self) -> JSON:
        """The initial callback body (type + data)."""
        return self.responses[0]

    async def wait_response(self, timeout: float = 5.0) -> JSON:
        await asyncio.wait_for(self.answered.wait(), timeout)
        return self.response

    async def wait_followup(self, count: int = 1, timeout: float = 5.0) -> list[JSON]:
        deadline = time.monotonic() + timeout
        while len(self.followups) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"interaction {self.id}: {len(self.followups)} follow-ups")
            await asyncio.sleep(0.01)
        return self.followups


def new_record(
    state: DiscordState, type_: int, guild: Guild, channel: Channel, member: Member
) -> InteractionRecord:
    return InteractionRecord(
        id=state.ids.next(),
        token="aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48),
        type=type_,
        guild_id=guild.id,
        channel_id=channel.id,
        user_id=member.user.id,
        created_at=time.monotonic(),
    )


def interaction_payload(
    state: DiscordState,
    record: InteractionRecord,
    guild: Guild,
    channel: Channel,
    member: Member,
    data: JSON,
    message: JSON | None = None,
) -> JSON:
    member_body = member.payload()
    member_body["permissions"] = str(guild.permissions(member.user.id, channel))
    body: JSON = {
        "id": str(record.id),
        "application_id": str(state.application_id),
        "type": record.type,
        "token": record.token,
        "version": 1,
        "guild_id": str(guild.id),
        "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
        "guild_locale": "en-US",
        "channel_id": str(channel.id),
        "channel": {
            "id": str(channel.id),
            "type": channel.type,
            "name": channel.name,
            "guild_id": str(guild.id),
            "parent_id": str(channel.parent_id) if channel.parent_id else None,
            "permissions": member_body["permissions"],
        },
        "member": member_body,
        "locale": "en-US",
        "app_permissions": str(guild.permissions(state.bot.id, channel)),
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(guild.id)},
        "context": 0,
        "attachment_size_limit": UPLOAD_MAX_BYTES,
        "data": data,
    }
    if message is not None:
        body["message"] = message
    return body


def dm_record(state: DiscordState, type_: int, channel: Channel, user: User) -> InteractionRecord:
    """An interaction in the bot's DM with `user` (no server: `guild_id` is 0)."""
    return InteractionRecord(
        id=state.ids.next(),
        token="aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48),
        type=type_,
        guild_id=0,
        channel_id=channel.id,
        user_id=user.id,
        created_at=time.monotonic(),
    )


def dm_interaction_payload(
    state: DiscordState,
    record: InteractionRecord,
    channel: Channel,
    user: User,
    data: JSON,
    message: JSON | None = None,
) -> JSON:
    """As Discord sends it from a DM with the bot: `user` instead of `member`, no guild."""
    body: JSON = {
        "id": str(record.id),
        "application_id": str(state.application_id),
        "type": record.type,
        "token": record.token,
        "version": 1,
        "channel_id": str(channel.id),
        "channel": {"id": str(channel.id), "type": channel.type},
        "user": user.payload(),
        "locale": "en-US",
        "app_permissions": "0",
        "entitlements": [],
        "authorizing_integration_owners": {"0": "0"},
        "context": 1,  # BOT_DM
        "attachment_size_limit": UPLOAD_MAX_BYTES,
        "data": data,
    }
    if message is not None:
        body["message"] = message
    return body
