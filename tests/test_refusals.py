"""Requests real Discord refuses are refused by the emulator the same way: 400, code 50035 and the
`errors` tree naming the field (or the documented code), and never a crash.

Each row says where the rule comes from: `spec:` is Discord's OpenAPI spec (the vendored
`bot/sandbox/discord_spec/openapi.json`, schema or operation), `docs:` a page under
https://discord.com/developers/docs/.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from bot.sandbox import interactions as ix
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import SandboxWorld

pytestmark = pytest.mark.asyncio

ROW = {"type": 1, "components": [{"type": 2, "style": 1, "label": "A", "custom_id": "a"}]}
COMMAND = {"name": "ping", "description": "Ping it", "type": 1}
TEXT_INPUT = {"type": 4, "custom_id": "q", "style": 1, "label": "Question"}
MODAL_ROW = {"type": 1, "components": [TEXT_INPUT]}


def modal(**data: Any) -> dict[str, Any]:
    return {
        "type": 9,
        "data": {"custom_id": "m", "title": "Title", "components": [MODAL_ROW], **data},
    }


def row(*buttons: dict[str, Any]) -> dict[str, Any]:
    return {"type": 1, "components": list(buttons)}


def button(custom_id: str = "a", **fields: Any) -> dict[str, Any]:
    return {"type": 2, "style": 1, "label": "A", "custom_id": custom_id, **fields}


def option(name: str, type_: int = 3, **fields: Any) -> dict[str, Any]:
    return {"type": type_, "name": name, "description": "An option", **fields}


def command(**fields: Any) -> list[dict[str, Any]]:
    return [{**COMMAND, **fields}]


@dataclass(frozen=True)
class Refusal:
    source: str
    method: str
    path: str  # {guild} {channel} {category} {message} {app} {token} {iid} {modal_token}
    body: Any = None
    field: str = ""  # the errors tree's path naming the field, dotted ("" = the root)
    code: int = 50035
    raw: bytes | None = None  # a body that is not JSON


MSG = "POST", "/channels/{channel}/messages"
EDIT = "PATCH", "/channels/{channel}/messages/{message}"
CALLBACK = "POST", "/interactions/{iid}/{token}/callback"
MODAL_CALLBACK = "POST", "/interactions/{modal_iid}/{modal_token}/callback"
FOLLOWUP = "POST", "/webhooks/{app}/{token}"
EDIT_ORIGINAL = "PATCH", "/webhooks/{app}/{token}/messages/@original"
COMMANDS = "PUT", "/applications/{app}/commands"
GUILD_COMMANDS = "PUT", "/applications/{app}/guilds/{guild}/commands"
CHANNEL = "PATCH", "/channels/{channel}"
NEW_CHANNEL = "POST", "/guilds/{guild}/channels"
SPEC_MSG = "spec: MessageCreateRequest"
SPEC_CMD = "spec: ApplicationCommandUpdateRequest"
SPEC_OPT = "spec: ApplicationCommandStringOption"
SPEC_CH = "spec: UpdateGuildChannelRequestPartial"
SPEC_NEW_CH = "spec: CreateGuildChannelRequest"
SPEC_MODAL = "spec: ModalInteractionCallbackRequestData"
SPEC_INPUT = "spec: TextInputComponentForModalRequest"
SPEC_BUTTON = "spec: ButtonComponentForMessageRequest"
SPEC_EMBED = "spec: RichEmbed"
COMMAND_DOCS = "docs: interactions/application-commands#application-command-object-"
DOCS_NAMING = COMMAND_DOCS + "application-command-naming"
DOCS_CMD = COMMAND_DOCS + "application-command-structure"
DOCS_OPTS = COMMAND_DOCS + "application-command-option-structure"
DOCS_BUTTON = "docs: components/reference#button"
DOCS_ROW = "docs: components/reference#action-row"
DOCS_IDS = "docs: components/reference#anatomy-of-a-component (custom_id unique per message)"
DOCS_TEXT_INPUT = "docs: components/reference#text-input"
DOCS_MODAL = "docs: interactions/receiving-and-responding#interaction-response-object-modal"
DOCS_MENTIONS = "docs: resources/message#allowed-mentions-object"
DOCS_CREATE_FLAGS = "docs: resources/message#create-message-jsonform-params (flags)"
DOCS_EDIT_FLAGS = "docs: resources/message#edit-message-jsonform-params (flags)"
DOCS_CALLBACK = "docs: interactions/receiving-and-responding#responding-to-an-interaction"
DOCS_EMBED = "docs: resources/message#embed-object-embed-limits"
DOCS_TOPIC = "docs: resources/channel#channel-object-channel-structure (topic 0-1024)"
DOCS_HISTORY = "docs: resources/message#get-channel-messages-query-string-params"
DOCS_ERRORS = "docs: reference#error-messages / topics/opcodes-and-status-codes#json (50109)"

REFUSALS: list[Refusal] = [
    # -- application commands ------------------------------------------------------------------
    Refusal(DOCS_NAMING, *COMMANDS, command(name="Ping"), "0.name"),
    Refusal(DOCS_NAMING, *COMMANDS, command(name="ping pong"), "0.name"),
    Refusal(DOCS_NAMING, *COMMANDS, command(name="ping!"), "0.name"),
    Refusal(SPEC_CMD, *COMMANDS, command(name="p" * 33), "0.name"),
    Refusal(SPEC_CMD, *COMMANDS, command(name=""), "0.name"),
    Refusal(SPEC_CMD, *COMMANDS, [{"description": "no name"}], "0.name"),
    Refusal(SPEC_CMD, *COMMANDS, command(description="d" * 101), "0.description"),
    Refusal(DOCS_CMD, *COMMANDS, command(description=""), "0.description"),
    Refusal(DOCS_CMD, *COMMANDS, [{"name": "ping", "type": 1}], "0.description"),
    Refusal(
        DOCS_CMD,
        *COMMANDS,
        [{"name": "User thing", "type": 2, "description": "x"}],
        "0.description",
    ),
    Refusal(
        DOCS_CMD,
        *COMMANDS,
        [{"name": "Msg", "type": 3, "description": "", "options": [option("a")]}],
        "0.options",
    ),
    Refusal("spec: ApplicationCommandType", *COMMANDS, command(type=9), "0.type"),
    Refusal(
        SPEC_CMD, *COMMANDS, command(options=[option(f"o{i}") for i in range(26)]), "0.options"
    ),
    Refusal(
        DOCS_OPTS,
        *COMMANDS,
        command(options=[option("a"), option("b", required=True)]),
        "0.options.1.required",
    ),
    Refusal(DOCS_OPTS, *COMMANDS, command(options=[option("a"), option("a")]), "0.options.1.name"),
    Refusal(DOCS_NAMING, *COMMANDS, command(options=[option("Upper")]), "0.options.0.name"),
    Refusal(
        SPEC_OPT,
        *COMMANDS,
        command(options=[option("a", description="")]),
        "0.options.0.description",
    ),
    Refusal(
        SPEC_OPT,
        *COMMANDS,
        command(options=[option("a", description="d" * 101)]),
        "0.options.0.description",
    ),
    Refusal(
        SPEC_OPT, *COMMANDS, command(options=[{"type": 3, "name": "a"}]), "0.options.0.description"
    ),
    Refusal(
        "spec: ApplicationCommandOptionType",
        *COMMANDS,
        command(options=[option("a", 99)]),
        "0.options.0.type",
    ),
    Refusal(
        SPEC_OPT,
        *COMMANDS,
        command(
            options=[option("a", choices=[{"name": str(i), "value": str(i)} for i in range(26)])]
        ),
        "0.options.0.choices",
    ),
    Refusal(
        DOCS_OPTS,
        *COMMANDS,
        command(options=[option("a", choices=[{"name": "x", "value": 1}])]),
        "0.options.0.choices.0.value",
    ),
    Refusal(
        DOCS_OPTS,
        *COMMANDS,
        command(options=[option("a", 5, choices=[{"name": "x", "value": True}])]),
        "0.options.0.choices",
    ),
    Refusal(
        DOCS_OPTS,
        *COMMANDS,
        command(options=[option("a", autocomplete=True, choices=[{"name": "x", "value": "x"}])]),
        "0.options.0.autocomplete",
    ),
    Refusal(
        DOCS_OPTS,
        *COMMANDS,
        command(options=[option("a", 4, min_value=5, max_value=1)]),
        "0.options.0.min_value",
    ),
    Refusal(
        DOCS_OPTS,
        *COMMANDS,
        command(options=[option("a", min_length=9, max_length=2)]),
        "0.options.0.min_length",
    ),
    Refusal(
        SPEC_OPT, *COMMANDS, command(options=[option("a", max_length=0)]), "0.options.0.max_length"
    ),
    Refusal(
        SPEC_OPT,
        *COMMANDS,
        command(options=[option("a", min_length=6001)]),
        "0.options.0.min_length",
    ),
    Refusal(
        DOCS_OPTS,
        *COMMANDS,
        command(options=[option("a", channel_types=[0])]),
        "0.options.0.channel_types",
    ),
    Refusal(DOCS_OPTS, *COMMANDS, command(options=[option("s", 1), option("a")]), "0.options"),
    Refusal(
        DOCS_OPTS,
        *COMMANDS,
        command(options=[option("g", 2, options=[option("x")])]),
        "0.options.0.options",
    ),
    Refusal(
        DOCS_OPTS,
        *COMMANDS,
        command(options=[option("g", 2, options=[option("h", 2, options=[])])]),
        "0.options.0.options",
    ),
    Refusal(
        "docs: interactions/application-commands#registering-a-command",
        *COMMANDS,
        [COMMAND, COMMAND],
        "1.name",
    ),
    Refusal(
        DOCS_CMD + " (8000 characters)",
        *COMMANDS,
        command(
            options=[
                option(
                    f"o{i}",
                    description="d" * 100,
                    choices=[{"name": "n" * 100, "value": "v" * 100} for _ in range(25)],
                )
                for i in range(2)
            ]
        ),
        "0",
    ),
    Refusal(SPEC_CMD, *COMMANDS, command(integration_types=[]), "0.integration_types"),
    Refusal(SPEC_CMD, *COMMANDS, command(contexts=[]), "0.contexts"),
    Refusal(
        SPEC_CMD,
        *COMMANDS,
        command(default_member_permissions="abc"),
        "0.default_member_permissions",
    ),
    Refusal(
        SPEC_CMD, *COMMANDS, command(default_member_permissions=-1), "0.default_member_permissions"
    ),
    Refusal(DOCS_CMD + " (nsfw is a boolean)", *COMMANDS, command(nsfw="yes"), "0.nsfw"),
    Refusal(
        "spec: PUT applications/{application_id}/commands (array)", *COMMANDS, {"name": "ping"}, ""
    ),
    Refusal(SPEC_CMD, *COMMANDS, [COMMAND] * 131, ""),
    Refusal(DOCS_NAMING, *GUILD_COMMANDS, command(name="Ping"), "0.name"),
    Refusal(
        SPEC_CMD, *GUILD_COMMANDS, command(name_localizations={"fr": ""}), "0.name_localizations.fr"
    ),
    Refusal(
        "spec: SnowflakeType (path)",
        "PUT",
        "/applications/abc/commands",
        [COMMAND],
        "application_id",
    ),
    # -- messages ------------------------------------------------------------------------------
    Refusal(SPEC_MSG, *MSG, {"content": "x" * 2001}, "content"),
    Refusal(SPEC_MSG, *MSG, {"content": 5}, "content"),
    Refusal(SPEC_MSG, *MSG, {"tts": "yes"}, "tts"),
    Refusal(SPEC_MSG, *MSG, {"content": "x", "nonce": "n" * 26}, "nonce"),
    Refusal(SPEC_MSG, *MSG, {"embeds": [{}] * 11}, "embeds"),
    Refusal(SPEC_EMBED, *MSG, {"embeds": [{"title": "t" * 257}]}, "embeds.0.title"),
    Refusal(SPEC_EMBED, *MSG, {"embeds": [{"description": "d" * 4097}]}, "embeds.0.description"),
    Refusal(
        SPEC_EMBED,
        *MSG,
        {"embeds": [{"fields": [{"name": "n", "value": "v"}] * 26}]},
        "embeds.0.fields",
    ),
    Refusal(
        "spec: RichEmbedField",
        *MSG,
        {"embeds": [{"fields": [{"name": "n" * 257, "value": "v"}]}]},
        "embeds.0.fields.0.name",
    ),
    Refusal(
        "spec: RichEmbedField",
        *MSG,
        {"embeds": [{"fields": [{"name": "n", "value": "v" * 1025}]}]},
        "embeds.0.fields.0.value",
    ),
    Refusal(
        "spec: RichEmbedField",
        *MSG,
        {"embeds": [{"fields": [{"name": "n"}]}]},
        "embeds.0.fields.0.value",
    ),
    Refusal(
        "spec: RichEmbedFooter",
        *MSG,
        {"embeds": [{"footer": {"text": "f" * 2049}}]},
        "embeds.0.footer.text",
    ),
    Refusal(
        "spec: RichEmbedAuthor",
        *MSG,
        {"embeds": [{"author": {"name": "a" * 257}}]},
        "embeds.0.author.name",
    ),
    Refusal(
        DOCS_EMBED,
        *MSG,
        {"embeds": [{"description": "d" * 4000}, {"description": "d" * 2001}]},
        "embeds",
    ),
    Refusal(SPEC_EMBED, *MSG, {"embeds": [{"color": "red"}]}, "embeds.0.color"),
    Refusal(SPEC_MSG, *MSG, {"components": [ROW] * 6}, "components"),
    Refusal(
        "spec: ActionRowComponentForMessageRequest",
        *MSG,
        {"components": [row()]},
        "components.0.components",
    ),
    Refusal(
        "spec: ActionRowComponentForMessageRequest",
        *MSG,
        {"components": [row(*(button(str(i)) for i in range(6)))]},
        "components.0.components",
    ),
    Refusal(
        DOCS_IDS,
        *MSG,
        {"components": [row(button("a"), button("a"))]},
        "components.0.components.1.custom_id",
    ),
    Refusal(
        DOCS_IDS,
        *MSG,
        {"components": [row(button("a")), row(button("a"))]},
        "components.1.components.0.custom_id",
    ),
    Refusal(
        DOCS_BUTTON,
        *MSG,
        {"components": [row(button("a", style=5, url="https://example.com"))]},
        "components.0.components.0.custom_id",
    ),
    Refusal(
        DOCS_BUTTON,
        *MSG,
        {"components": [row({"type": 2, "style": 5, "label": "Go"})]},
        "components.0.components.0.url",
    ),
    Refusal(
        DOCS_BUTTON,
        *MSG,
        {"components": [row({"type": 2, "style": 1, "label": "Go"})]},
        "components.0.components.0.custom_id",
    ),
    Refusal(
        DOCS_BUTTON,
        *MSG,
        {"components": [row(button("a", url="https://example.com"))]},
        "components.0.components.0.url",
    ),
    Refusal(
        DOCS_BUTTON,
        *MSG,
        {"components": [row({"type": 2, "style": 1, "custom_id": "a"})]},
        "components.0.components.0.label",
    ),
    Refusal(
        SPEC_BUTTON,
        *MSG,
        {"components": [row(button("a", label="l" * 81))]},
        "components.0.components.0.label",
    ),
    Refusal(
        SPEC_BUTTON,
        *MSG,
        {"components": [row(button("c" * 101))]},
        "components.0.components.0.custom_id",
    ),
    Refusal(
        "spec: ButtonStyleTypes",
        *MSG,
        {"components": [row(button("a", style=9))]},
        "components.0.components.0.style",
    ),
    Refusal(
        SPEC_BUTTON,
        *MSG,
        {"components": [row({"type": 2, "label": "A", "custom_id": "a"})]},
        "components.0.components.0.style",
    ),
    Refusal(
        "spec: MessageComponentTypes", *MSG, {"components": [{"type": 99}]}, "components.0.type"
    ),
    Refusal(
        DOCS_ROW,
        *MSG,
        {
            "components": [
                row(
                    button("a"),
                    {"type": 3, "custom_id": "s", "options": [{"label": "x", "value": "x"}]},
                )
            ]
        },
        "components.0.components",
    ),
    Refusal(DOCS_ROW, *MSG, {"components": [row(TEXT_INPUT)]}, "components.0.components.0"),
    Refusal(
        DOCS_ROW + " (legacy: top level is action rows)",
        *MSG,
        {"components": [button("a")]},
        "components.0.type",
    ),
    Refusal(
        "spec: StringSelectComponentForMessageRequest",
        *MSG,
        {"components": [row({"type": 3, "custom_id": "s", "options": []})]},
        "components.0.components.0.options",
    ),
    Refusal(
        "docs: components/reference#string-select",
        *MSG,
        {
            "components": [
                row(
                    {
                        "type": 3,
                        "custom_id": "s",
                        "min_values": 3,
                        "max_values": 2,
                        "options": [{"label": "x", "value": "x"}],
                    }
                )
            ]
        },
        "components.0.components.0.min_values",
    ),
    Refusal(
        DOCS_MENTIONS,
        *MSG,
        {"content": "x", "allowed_mentions": {"parse": ["users"], "users": ["1"]}},
        "allowed_mentions",
    ),
    Refusal(
        DOCS_MENTIONS,
        *MSG,
        {"content": "x", "allowed_mentions": {"parse": ["roles"], "roles": ["1"]}},
        "allowed_mentions",
    ),
    Refusal(
        "spec: AllowedMentionTypes",
        *MSG,
        {"content": "x", "allowed_mentions": {"parse": ["channels"]}},
        "allowed_mentions.parse.0",
    ),
    Refusal(
        "spec: MessageAllowedMentionsRequest",
        *MSG,
        {"content": "x", "allowed_mentions": {"users": [str(i) for i in range(101)]}},
        "allowed_mentions.users",
    ),
    Refusal(
        "spec: MessageAllowedMentionsRequest",
        *MSG,
        {"content": "x", "allowed_mentions": {"users": ["abc"]}},
        "allowed_mentions.users.0",
    ),
    Refusal(DOCS_CREATE_FLAGS, *MSG, {"content": "x", "flags": 64}, "flags"),
    Refusal(DOCS_CREATE_FLAGS, *MSG, {"content": "x", "flags": 1}, "flags"),
    Refusal(
        "spec: MessageReferenceRequest",
        *MSG,
        {"content": "x", "message_reference": {"message_id": "abc"}},
        "message_reference.message_id",
    ),
    Refusal(
        "spec: SnowflakeType (path)",
        "POST",
        "/channels/abc/messages",
        {"content": "x"},
        "channel_id",
    ),
    Refusal(DOCS_ERRORS, *MSG, None, "", 50109, raw=b"{not json"),
    Refusal(DOCS_EDIT_FLAGS, *EDIT, {"flags": 64}, "flags"),
    Refusal(SPEC_MSG, *EDIT, {"content": "x" * 2001}, "content"),
    Refusal(
        DOCS_IDS,
        *EDIT,
        {"components": [row(button("a"), button("a"))]},
        "components.0.components.1.custom_id",
    ),
    Refusal(
        "spec: SnowflakeType (path)",
        "PATCH",
        "/channels/{channel}/messages/abc",
        {"content": "x"},
        "message_id",
    ),
    # -- message history -----------------------------------------------------------------------
    Refusal(
        "spec: list_messages (after)",
        "GET",
        "/channels/{channel}/messages?after=abc",
        None,
        "after",
    ),
    Refusal(
        "spec: list_messages (before)",
        "GET",
        "/channels/{channel}/messages?before=-1",
        None,
        "before",
    ),
    Refusal(
        "spec: list_messages (limit)", "GET", "/channels/{channel}/messages?limit=0", None, "limit"
    ),
    Refusal(
        "spec: list_messages (limit)",
        "GET",
        "/channels/{channel}/messages?limit=101",
        None,
        "limit",
    ),
    Refusal(
        "spec: list_messages (limit)",
        "GET",
        "/channels/{channel}/messages?limit=ten",
        None,
        "limit",
    ),
    Refusal(DOCS_HISTORY, "GET", "/channels/{channel}/messages?before=1&after=2", None, "after"),
    Refusal(DOCS_HISTORY, "GET", "/channels/{channel}/messages?around=1&before=2", None, "before"),
    Refusal(
        "spec: list_guild_members (after)",
        "GET",
        "/guilds/{guild}/members?after=abc",
        None,
        "after",
    ),
    Refusal(
        "spec: list_guild_members (limit)",
        "GET",
        "/guilds/{guild}/members?limit=1001",
        None,
        "limit",
    ),
    Refusal("spec: SnowflakeType (path)", "GET", "/guilds/abc/members/1", None, "guild_id"),
    # -- channels ------------------------------------------------------------------------------
    Refusal(SPEC_CH, *CHANNEL, {"parent_id": "abc"}, "parent_id"),
    Refusal(SPEC_CH, *CHANNEL, {"name": ""}, "name"),
    Refusal(SPEC_CH, *CHANNEL, {"name": "n" * 101}, "name"),
    Refusal(DOCS_TOPIC, *CHANNEL, {"topic": "t" * 1025}, "topic"),
    Refusal(SPEC_CH, *CHANNEL, {"rate_limit_per_user": 21601}, "rate_limit_per_user"),
    Refusal(SPEC_CH, *CHANNEL, {"position": -1}, "position"),
    Refusal(SPEC_CH, *CHANNEL, {"nsfw": "no"}, "nsfw"),
    Refusal(
        "spec: ChannelPermissionOverwriteRequest",
        *CHANNEL,
        {"permission_overwrites": [{"type": 0, "allow": "1024"}]},
        "permission_overwrites.0.id",
    ),
    Refusal(
        "spec: ChannelPermissionOverwriteRequest",
        *CHANNEL,
        {"permission_overwrites": [{"id": "abc", "type": 0}]},
        "permission_overwrites.0.id",
    ),
    Refusal(
        "spec: ChannelPermissionOverwriteRequest",
        *CHANNEL,
        {"permission_overwrites": [{"id": "1", "type": 0, "allow": "lots"}]},
        "permission_overwrites.0.allow",
    ),
    Refusal(
        "spec: ChannelPermissionOverwrites",
        *CHANNEL,
        {"permission_overwrites": [{"id": "1", "type": 7}]},
        "permission_overwrites.0.type",
    ),
    Refusal(
        SPEC_CH,
        *CHANNEL,
        {"permission_overwrites": [{"id": str(i), "type": 0} for i in range(101)]},
        "permission_overwrites",
    ),
    Refusal(SPEC_NEW_CH, *NEW_CHANNEL, {"name": "x", "parent_id": "abc"}, "parent_id"),
    Refusal(SPEC_NEW_CH, *NEW_CHANNEL, {"type": 0}, "name"),
    Refusal(SPEC_NEW_CH, *NEW_CHANNEL, {"name": "x", "type": 99}, "type"),
    Refusal(DOCS_TOPIC, *NEW_CHANNEL, {"name": "x", "topic": "t" * 1025}, "topic"),
    Refusal(
        SPEC_NEW_CH,
        *NEW_CHANNEL,
        {"name": "x", "permission_overwrites": [{"type": 1}]},
        "permission_overwrites.0.id",
    ),
    Refusal(
        "spec: SnowflakeType (path)", "POST", "/guilds/abc/channels", {"name": "x"}, "guild_id"
    ),
    Refusal(
        "spec: OverwriteRequest / docs: resources/channel#edit-channel-permissions",
        "PUT",
        "/channels/{channel}/permissions/{guild}",
        {"allow": "1024"},
        "type",
    ),
    Refusal(
        "spec: OverwriteRequest",
        "PUT",
        "/channels/{channel}/permissions/{guild}",
        {"type": 0, "deny": "x"},
        "deny",
    ),
    Refusal(
        "spec: SnowflakeType (path)",
        "PUT",
        "/channels/{channel}/permissions/abc",
        {"type": 0},
        "overwrite_id",
    ),
    Refusal(
        "spec: CreatePrivateChannelRequest",
        "POST",
        "/users/@me/channels",
        {"recipient_id": "abc"},
        "recipient_id",
    ),
    Refusal("docs: resources/user#create-dm", "POST", "/users/@me/channels", {}, "recipient_id"),
    # -- interaction callbacks -----------------------------------------------------------------
    Refusal("spec: InteractionCallbackTypes", *CALLBACK, {"type": 3}, "type"),
    Refusal("spec: InteractionCallbackRequest", *CALLBACK, {"data": {"content": "x"}}, "type"),
    Refusal(DOCS_CALLBACK, *CALLBACK, {"type": 8, "data": {"choices": []}}, "type"),
    Refusal(DOCS_CALLBACK, *CALLBACK, {"type": 1}, "type"),
    Refusal(DOCS_CALLBACK, *MODAL_CALLBACK, modal(), "type"),
    Refusal(
        SPEC_MODAL,
        *CALLBACK,
        {"type": 9, "data": {"custom_id": "m", "components": [MODAL_ROW]}},
        "data.title",
    ),
    Refusal(SPEC_MODAL, *CALLBACK, modal(title=""), "data.title"),
    Refusal(SPEC_MODAL, *CALLBACK, modal(title="t" * 46), "data.title"),
    Refusal(SPEC_MODAL, *CALLBACK, modal(custom_id=""), "data.custom_id"),
    Refusal(SPEC_MODAL, *CALLBACK, modal(components=[]), "data.components"),
    Refusal(DOCS_MODAL, *CALLBACK, modal(components=[MODAL_ROW] * 6), "data.components"),
    Refusal(
        "spec: ActionRowComponentForModalRequest",
        *CALLBACK,
        modal(components=[{"type": 1, "components": []}]),
        "data.components.0.components",
    ),
    Refusal(
        DOCS_TEXT_INPUT,
        *CALLBACK,
        modal(
            components=[{"type": 1, "components": [TEXT_INPUT, {**TEXT_INPUT, "custom_id": "r"}]}]
        ),
        "data.components.0.components",
    ),
    Refusal(
        DOCS_TEXT_INPUT,
        *CALLBACK,
        modal(components=[row({**TEXT_INPUT, "min_length": 10, "max_length": 5})]),
        "data.components.0.components.0.min_length",
    ),
    Refusal(
        SPEC_INPUT,
        *CALLBACK,
        modal(components=[row({**TEXT_INPUT, "max_length": 4001})]),
        "data.components.0.components.0.max_length",
    ),
    Refusal(
        SPEC_INPUT,
        *CALLBACK,
        modal(components=[row({**TEXT_INPUT, "max_length": 0})]),
        "data.components.0.components.0.max_length",
    ),
    Refusal(
        SPEC_INPUT,
        *CALLBACK,
        modal(components=[row({**TEXT_INPUT, "label": "l" * 46})]),
        "data.components.0.components.0.label",
    ),
    Refusal(
        DOCS_TEXT_INPUT,
        *CALLBACK,
        modal(components=[row({k: v for k, v in TEXT_INPUT.items() if k != "label"})]),
        "data.components.0.components.0.label",
    ),
    Refusal(
        SPEC_INPUT,
        *CALLBACK,
        modal(components=[row({**TEXT_INPUT, "style": 3})]),
        "data.components.0.components.0.style",
    ),
    Refusal(
        SPEC_INPUT,
        *CALLBACK,
        modal(components=[row({**TEXT_INPUT, "placeholder": "p" * 101})]),
        "data.components.0.components.0.placeholder",
    ),
    Refusal(
        DOCS_TEXT_INPUT,
        *CALLBACK,
        modal(components=[row({**TEXT_INPUT, "max_length": 3, "value": "long"})]),
        "data.components.0.components.0.value",
    ),
    Refusal(
        DOCS_IDS,
        *CALLBACK,
        modal(components=[MODAL_ROW, MODAL_ROW]),
        "data.components.1.components.0.custom_id",
    ),
    Refusal(
        "spec: IncomingWebhookInteractionRequest",
        *CALLBACK,
        {"type": 4, "data": {"content": "x" * 2001}},
        "data.content",
    ),
    Refusal(
        DOCS_IDS,
        *CALLBACK,
        {"type": 4, "data": {"components": [row(button("a"), button("a"))]}},
        "data.components.0.components.1.custom_id",
    ),
    Refusal(
        "docs: interactions/receiving-and-responding#interaction-response-object-messages",
        *CALLBACK,
        {"type": 4, "data": {"content": "x", "flags": 1 << 8}},
        "data.flags",
    ),
    Refusal(
        DOCS_MENTIONS,
        *CALLBACK,
        {
            "type": 4,
            "data": {"content": "x", "allowed_mentions": {"parse": ["users"], "users": ["1"]}},
        },
        "data.allowed_mentions",
    ),
    Refusal(
        "spec: IncomingWebhookUpdateForInteractionCallbackRequestPartial",
        *CALLBACK,
        {"type": 7, "data": {"embeds": [{"title": "t" * 257}]}},
        "data.embeds.0.title",
    ),
    # -- follow-ups and edits of the original response ------------------------------------------
    Refusal("spec: IncomingWebhookRequestPartial", *FOLLOWUP, {"content": "x" * 2001}, "content"),
    Refusal(
        DOCS_BUTTON,
        *FOLLOWUP,
        {
            "components": [
                row(
                    {
                        "type": 2,
                        "style": 5,
                        "label": "Go",
                        "custom_id": "x",
                        "url": "https://example.com",
                    }
                )
            ]
        },
        "components.0.components.0.custom_id",
    ),
    Refusal(
        "docs: interactions/receiving-and-responding#create-followup-message (flags)",
        *FOLLOWUP,
        {"content": "x", "flags": 1 << 8},
        "flags",
    ),
    Refusal(
        "spec: execute_webhook (wait)",
        "POST",
        "/webhooks/{app}/{token}?wait=maybe",
        {"content": "x"},
        "wait",
    ),
    Refusal(
        "spec: IncomingWebhookUpdateRequestPartial",
        *EDIT_ORIGINAL,
        {"content": "x" * 2001},
        "content",
    ),
    Refusal(
        "docs: resources/webhook#edit-webhook-message-jsonform-params (flags)",
        *EDIT_ORIGINAL,
        {"content": "x", "flags": 64},
        "flags",
    ),
    Refusal(
        DOCS_MENTIONS,
        *EDIT_ORIGINAL,
        {"content": "x", "allowed_mentions": {"parse": ["roles"], "roles": ["1"]}},
        "allowed_mentions",
    ),
]


@pytest_asyncio.fixture
async def targets(emulator: DiscordEmulator, world: SandboxWorld) -> AsyncIterator[dict[str, str]]:
    """IDs to fill the paths: a channel with a bot message, a component and a modal interaction."""
    channel = emulator.state.channels[world.panel_channel_id]
    message = emulator.state.add_message(channel, emulator.state.bot, "panel")
    click = await emulator.click_button(
        world.guild.id, world.admin.id, channel.id, message.id, "rmp:open:btn_help"
    )
    submit = await emulator.submit_modal(world.guild.id, world.admin.id, channel.id, "f", {})
    yield {
        "guild": str(world.guild.id),
        "channel": str(channel.id),
        "category": str(world.category_id),
        "message": str(message.id),
        "app": str(emulator.state.application_id),
        "iid": str(click.id),
        "token": click.token,
        "modal_iid": str(submit.id),
        "modal_token": submit.token,
    }


def _at(tree: Any, dotted: str) -> Any:
    node = tree
    for part in dotted.split(".") if dotted else []:
        assert isinstance(node, dict), json.dumps(tree)
        assert part in node, f"no {part!r} in {json.dumps(tree)}"
        node = node[part]
    return node


async def test_the_table_has_at_least_100_refusals_each_with_its_source() -> None:
    assert len(REFUSALS) >= 100
    assert all(r.source.startswith(("spec: ", "docs: ")) for r in REFUSALS)


@pytest.mark.parametrize(
    "case",
    REFUSALS,
    ids=[f"{i:03d}-{r.method}-{r.field or 'body'}" for i, r in enumerate(REFUSALS)],
)
async def test_discord_refuses_and_so_does_the_emulator(
    case: Refusal, emulator: DiscordEmulator, targets: dict[str, str]
) -> None:
    url = emulator.rest_url + case.path.format(**targets)
    headers = {"Authorization": f"Bot {emulator.token}"}
    async with aiohttp.ClientSession() as session:
        if case.raw is not None:
            headers["Content-Type"] = "application/json"
            answer = await session.request(case.method, url, data=case.raw, headers=headers)
        elif case.body is None:
            answer = await session.request(case.method, url, headers=headers)
        else:
            answer = await session.request(case.method, url, json=case.body, headers=headers)
        body = await answer.json()
    assert (answer.status, body["code"]) == (400, case.code), (case.source, body)
    if case.code == 50035:
        assert body["message"] == "Invalid Form Body"
        errors = _at(body["errors"], case.field)
        assert errors["_errors"] if not case.field else errors, (case.source, body)
    assert emulator.internal_errors == []


async def test_the_same_requests_made_valid_are_accepted(
    emulator: DiscordEmulator, targets: dict[str, str]
) -> None:
    """The table's baselines pass, so each refusal is down to the one thing it breaks."""
    headers = {"Authorization": f"Bot {emulator.token}"}
    valid = [
        ("PUT", "/applications/{app}/commands", [COMMAND]),
        # The spec's quirks, read as Discord reads them (bot/sandbox/spec.py): permissions as
        # strings or integers, snowflakes as strings or integers, unknown fields ignored.
        ("PUT", "/applications/{app}/commands", command(default_member_permissions="32")),
        ("PUT", "/applications/{app}/commands", command(default_member_permissions=32, x=1)),
        (
            "PATCH",
            "/channels/{channel}",
            {
                "parent_id": int(targets["category"]),
                "permission_overwrites": [
                    {"id": int(targets["guild"]), "type": 0, "allow": "1024", "deny": 2048}
                ],
            },
        ),
        ("PUT", "/channels/{channel}/permissions/{guild}", {"type": 0, "allow": "1024"}),
        ("POST", "/channels/{channel}/messages", {"content": "x", "components": [ROW]}),
        ("PATCH", "/channels/{channel}", {"name": "renamed", "topic": "t" * 1024}),
        ("GET", "/channels/{channel}/messages?after=1&limit=100", None),
        ("POST", "/interactions/{iid}/{token}/callback", modal()),
    ]
    async with aiohttp.ClientSession() as session:
        for method, path, body in valid:
            url = emulator.rest_url + path.format(**targets)
            answer = await session.request(method, url, json=body, headers=headers)
            assert answer.status in (200, 201, 204), (path, await answer.text())
    record = emulator.interactions_by_token[targets["token"]]
    assert record.responses[0]["type"] == ix.MODAL


GARBAGE_BODIES: list[Any] = [
    [],
    "text",
    7,
    None,
    {"type": "x", "name": 5, "id": {}, "parent_id": [], "recipient_id": {"a": 1}},
    {"permission_overwrites": "all", "components": {"a": 1}, "embeds": "e", "flags": "f"},
    {"data": "x", "allowed_mentions": [], "options": 3, "content": ["a"]},
    [{"name": None, "options": [{"type": "s"}]}],
]


async def test_no_malformed_request_on_any_route_gets_a_500(
    emulator: DiscordEmulator, targets: dict[str, str]
) -> None:
    """Every route the emulator serves, with bodies and queries of the wrong shape: refused
    (4xx), never an emulator failure."""
    routes = {
        (route.method, route.resource.canonical)
        for route in emulator.app().router.routes()
        if route.resource is not None and route.resource.canonical.startswith("/api/v10")
    }
    fill = {
        "guild_id": targets["guild"], "channel_id": targets["channel"],
        "message_id": targets["message"], "app_id": targets["app"], "token": targets["token"],
        "interaction_id": targets["iid"], "user_id": str(emulator.state.bot.id), "target_id": "x1",
    }  # fmt: skip
    headers = {"Authorization": f"Bot {emulator.token}"}
    async with aiohttp.ClientSession() as session:
        for method, canonical in sorted(routes):
            if method == "HEAD":
                continue
            url = emulator.rest_url.removesuffix("/api/v10") + canonical.format(**fill)
            for body in GARBAGE_BODIES:
                answer = await session.request(
                    method, url + "?limit=x&after=-&before=[]", json=body, headers=headers
                )
                assert answer.status < 500, (method, canonical, body, await answer.text())
            if method == "GET":  # and well-formed: its answer is checked against the spec
                answer = await session.get(url, headers=headers)
                assert answer.status < 500, (method, canonical, await answer.text())
    assert emulator.internal_errors == []


async def test_a_multipart_bodys_payload_json_is_checked_like_a_json_body(
    emulator: DiscordEmulator, targets: dict[str, str]
) -> None:
    """Attachments come as multipart/form-data; its `payload_json` is refused as a JSON body is."""
    url = f"{emulator.rest_url}/channels/{targets['channel']}/messages"
    headers = {"Authorization": f"Bot {emulator.token}"}
    answers = []
    async with aiohttp.ClientSession() as session:
        for payload in ({"content": "x" * 2001}, {"content": "transcript"}):
            form = aiohttp.FormData()
            form.add_field("payload_json", json.dumps(payload), content_type="application/json")
            form.add_field("files[0]", b"<html></html>", filename="t.html")
            async with session.post(url, data=form, headers=headers) as answer:
                answers.append((answer.status, await answer.json()))
    (refused, refusal), (accepted, message) = answers
    assert (refused, refusal["code"]) == (400, 50035)
    assert "content" in refusal["errors"]
    assert accepted == 200
    assert message["attachments"][0]["filename"] == "t.html"
