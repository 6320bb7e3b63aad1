"""Discord's rules its OpenAPI spec can't express, each with the docs page it comes from.

Run after the spec check (`spec.py`) on the same request; each check adds to the same 50035 error
tree. Docs: https://discord.com/developers/docs/… (abbreviated `docs:` below).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.sandbox import interactions as ix
from bot.sandbox.state import JSON
from bot.sandbox.validation import FormErrors

Path = list[str | int]

# Message flags (docs: resources/message#message-object-message-flags).
SUPPRESS_EMBEDS = 1 << 2
SUPPRESS_NOTIFICATIONS = 1 << 12
IS_VOICE_MESSAGE = 1 << 13
IS_COMPONENTS_V2 = 1 << 15

# Which flags each endpoint takes.
# docs: resources/message#create-message-jsonform-params ("only SUPPRESS_EMBEDS,
#   SUPPRESS_NOTIFICATIONS, IS_VOICE_MESSAGE and IS_COMPONENTS_V2 can be set")
# docs: resources/message#edit-message-jsonform-params ("only SUPPRESS_EMBEDS and
#   IS_COMPONENTS_V2 can be set")
# docs: interactions/receiving-and-responding#interaction-response-object-messages (EPHEMERAL too)
# docs: interactions/receiving-and-responding#create-followup-message (EPHEMERAL too)
# docs: resources/webhook#edit-webhook-message-jsonform-params (as edit message)
CREATE_FLAGS = SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | IS_VOICE_MESSAGE | IS_COMPONENTS_V2
EDIT_FLAGS = SUPPRESS_EMBEDS | IS_COMPONENTS_V2
INTERACTION_FLAGS = CREATE_FLAGS | ix.EPHEMERAL

# Interaction and callback types (docs: interactions/receiving-and-responding
#   #interaction-object-interaction-type, #interaction-response-object-interaction-callback-type).
PING, PONG, LAUNCH_ACTIVITY = 1, 1, 12
_MESSAGE = {ix.CHANNEL_MESSAGE, ix.DEFERRED_CHANNEL_MESSAGE}
_UPDATE = {ix.DEFERRED_UPDATE_MESSAGE, ix.UPDATE_MESSAGE}
CALLBACKS_FOR = {
    PING: {PONG},
    ix.APPLICATION_COMMAND: {*_MESSAGE, ix.MODAL, LAUNCH_ACTIVITY},
    ix.MESSAGE_COMPONENT: {*_MESSAGE, *_UPDATE, ix.MODAL, LAUNCH_ACTIVITY},
    ix.AUTOCOMPLETE: {ix.AUTOCOMPLETE_RESULT},
    ix.MODAL_SUBMIT: {*_MESSAGE, *_UPDATE},
}

# Application commands (docs: interactions/application-commands#application-command-object).
CHAT_INPUT = 1
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, NUMBER, CHANNEL = 3, 4, 10, 7
COMMAND_TOTAL_MAX = 8000
# docs: …#application-command-object-application-command-naming: 1-32 characters of letters,
# digits (any script), `-`, `_` and `'`, lowercase where the letter has a lowercase form.
_NAME_CHARS = re.compile(r"^[-_'\w]{1,32}$")

# Components (docs: components/reference, legacy layout without IS_COMPONENTS_V2).
ACTION_ROW, BUTTON, TEXT_INPUT, LABEL = 1, 2, 4, 18
SELECTS = {3, 5, 6, 7, 8}
LINK, PREMIUM = 5, 6
ROWS_MAX = 5
ROW_BUTTONS_MAX = 5
MODAL_ROWS_MAX = 5
TEXT_INPUT_MAX = 4000

# Channels (docs: resources/channel#channel-object-channel-structure: topic 0-1024, 0-4096 for
# forum and media channels).
TOPIC_MAX = 1024
LONG_TOPIC_TYPES = {15, 16}


@dataclass(frozen=True)
class World:
    """What a rule needs to know about the emulated world (IDs as sent on the wire)."""

    channel_type: Callable[[str], int | None]
    interaction_type: Callable[[str], int | None]


def check(
    method: str,
    spec_path: str,
    params: Mapping[str, str],
    query: Mapping[str, str],
    body: Any,
    world: World,
) -> FormErrors:
    """Every rule that applies to this request (spec_path is the spec's template)."""
    errors = FormErrors()
    route = (method, spec_path)
    body_obj = body if isinstance(body, dict) else {}
    if route == ("GET", "/channels/{channel_id}/messages"):
        _one_of_before_after_around(query, errors)
    elif route in (
        ("PUT", "/applications/{application_id}/commands"),
        ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands"),
    ):
        if isinstance(body, list):
            _commands(body, errors)
    elif route in (
        ("POST", "/applications/{application_id}/commands"),
        ("POST", "/applications/{application_id}/guilds/{guild_id}/commands"),
    ):
        _command(body_obj, [], errors)
    elif route == ("POST", "/channels/{channel_id}/messages"):
        _message(body_obj, [], CREATE_FLAGS, errors)
    elif route == ("PATCH", "/channels/{channel_id}/messages/{message_id}"):
        _message(body_obj, [], EDIT_FLAGS, errors)
    elif route == ("POST", "/webhooks/{webhook_id}/{webhook_token}"):
        _message(body_obj, [], INTERACTION_FLAGS, errors)
    elif method == "PATCH" and spec_path.startswith("/webhooks/{webhook_id}/{webhook_token}/"):
        _message(body_obj, [], EDIT_FLAGS, errors)
    elif route == ("POST", "/interactions/{interaction_id}/{interaction_token}/callback"):
        _callback(body_obj, world.interaction_type(params.get("interaction_token", "")), errors)
    elif route == ("POST", "/guilds/{guild_id}/channels"):
        _topic(body_obj, body_obj.get("type") or 0, errors)
    elif route == ("PATCH", "/channels/{channel_id}"):
        _topic(body_obj, world.channel_type(params.get("channel_id", "")), errors)
    elif route == ("POST", "/users/@me/channels") and body_obj.get("recipient_id") is None:
        # docs: resources/user#create-dm-json-params: recipient_id is required.
        errors.add(["recipient_id"], "BASE_TYPE_REQUIRED", "This field is required")
    elif (
        route == ("PUT", "/channels/{channel_id}/permissions/{overwrite_id}")
        and body_obj.get("type") is None
    ):
        # docs: resources/channel#edit-channel-permissions-json-params: type is required.
        errors.add(["type"], "BASE_TYPE_REQUIRED", "This field is required")
    return errors


# -- messages -----------------------------------------------------------------------------------


def _one_of_before_after_around(query: Mapping[str, str], errors: FormErrors) -> None:
    """docs: resources/message#get-channel-messages-query-string-params: before, after and
    around are mutually exclusive."""
    given = [k for k in ("around", "before", "after") if k in query]
    for key in given[1:]:
        errors.add(
            [key],
            "BASE_TYPE_INVALID",
            f"Only one of around, before and after may be given ({', '.join(given)}).",
        )


def _message(body: JSON, at: Path, allowed_flags: int, errors: FormErrors) -> None:
    flags = body.get("flags")
    if isinstance(flags, int) and flags & ~allowed_flags:
        errors.add(
            [*at, "flags"],
            "MESSAGE_INVALID_FLAGS",
            f"Flags {flags & ~allowed_flags} can't be set here.",
        )
    _allowed_mentions(body.get("allowed_mentions"), [*at, "allowed_mentions"], errors)
    components = body.get("components")
    if isinstance(components, list) and not (isinstance(flags, int) and flags & IS_COMPONENTS_V2):
        _message_components(components, [*at, "components"], errors)


def _allowed_mentions(value: Any, at: Path, errors: FormErrors) -> None:
    """docs: resources/message#allowed-mentions-object: `parse: ["users"]` with `users` (or
    `roles` with `roles`) is mutually exclusive."""
    if not isinstance(value, dict):
        return
    parse = value.get("parse") or []
    for kind in ("users", "roles"):
        if kind in parse and value.get(kind):
            errors.add(
                at,
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
            )


def _message_components(rows: list[Any], at: Path, errors: FormErrors) -> None:
    """docs: components/reference#action-row: at most 5 rows; a row holds 1-5 buttons or one
    select menu. docs: components/reference#button: a link button has a url and no custom_id,
    other buttons a custom_id and no url; a label or an emoji. docs: components/reference
    #anatomy-of-a-component: custom_ids are unique within a message. Text inputs are for modals."""
    if len(rows) > ROWS_MAX:
        errors.add(at, "BASE_TYPE_MAX_LENGTH", f"Must be {ROWS_MAX} or fewer in length.")
    seen: dict[str, Path] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            continue
        if row.get("type") != ACTION_ROW:
            errors.add(
                [*at, i, "type"],
                "COMPONENT_LAYOUT_INVALID",
                "Top-level components must be action rows without the IS_COMPONENTS_V2 flag.",
            )
            continue
        children = [c for c in row.get("components") or [] if isinstance(c, dict)]
        kinds = [c.get("type") for c in children]
        if any(k in SELECTS for k in kinds) and len(children) > 1:
            errors.add(
                [*at, i, "components"],
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "A select menu takes a whole action row.",
            )
        elif len(children) > ROW_BUTTONS_MAX:
            errors.add(
                [*at, i, "components"],
                "BASE_TYPE_BAD_LENGTH",
                f"Must be between 1 and {ROW_BUTTONS_MAX} in length.",
            )
        for j, child in enumerate(children):
            path: Path = [*at, i, "components", j]
            if child.get("type") == TEXT_INPUT:
                errors.add(
                    [*path, "type"],
                    "COMPONENT_TYPE_INVALID",
                    "Text inputs may only be used in modals.",
                )
            if child.get("type") == BUTTON:
                _button(child, path, errors)
            if child.get("type") in SELECTS:
                _min_max(child, "min_values", "max_values", path, errors)
            _unique_custom_id(child, path, seen, errors)


def _button(button: JSON, at: Path, errors: FormErrors) -> None:
    style = button.get("style")
    if style == LINK:
        if not button.get("url"):
            errors.add([*at, "url"], "BUTTON_COMPONENT_URL_REQUIRED", "A link button needs a url.")
        if button.get("custom_id") is not None:
            errors.add(
                [*at, "custom_id"],
                "BUTTON_COMPONENT_CUSTOM_ID_FORBIDDEN",
                "A link button cannot have a custom_id.",
            )
    elif style == PREMIUM:
        if not button.get("sku_id"):
            errors.add([*at, "sku_id"], "BASE_TYPE_REQUIRED", "This field is required")
    else:
        if not button.get("custom_id"):
            errors.add([*at, "custom_id"], "BASE_TYPE_REQUIRED", "This field is required")
        if button.get("url") is not None:
            errors.add(
                [*at, "url"], "BUTTON_COMPONENT_URL_FORBIDDEN", "Only link buttons have a url."
            )
    if style != PREMIUM and not button.get("label") and not button.get("emoji"):
        errors.add(
            [*at, "label"],
            "BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED",
            "A button needs a label or an emoji.",
        )


def _unique_custom_id(component: JSON, at: Path, seen: dict[str, Path], errors: FormErrors) -> None:
    custom_id = component.get("custom_id")
    if not isinstance(custom_id, str):
        return
    if custom_id in seen:
        errors.add(
            [*at, "custom_id"],
            "COMPONENT_CUSTOM_ID_DUPLICATED",
            "Component custom id cannot be duplicated",
        )
    seen[custom_id] = at


def _min_max(item: JSON, low_key: str, high_key: str, at: Path, errors: FormErrors) -> None:
    low, high = item.get(low_key), item.get(high_key)
    if isinstance(low, int) and isinstance(high, int) and low > high:
        errors.add(
            [*at, low_key],
            "BASE_TYPE_BAD_VALUE",
            f"{low_key} ({low}) must be less than or equal to {high_key} ({high}).",
        )


# -- interaction callbacks ----------------------------------------------------------------------


def _callback(body: JSON, interaction_type: int | None, errors: FormErrors) -> None:
    """docs: interactions/receiving-and-responding#responding-to-an-interaction: the callback
    type must fit the interaction (e.g. a modal can't answer a modal submit, autocomplete
    takes only choices)."""
    kind = body.get("type")
    allowed = CALLBACKS_FOR.get(interaction_type or 0)
    if isinstance(kind, int) and allowed is not None and kind not in allowed:
        errors.add(
            ["type"],
            "INTERACTION_RESPONSE_TYPE_INVALID",
            f"Callback type {kind} can't answer an interaction of type {interaction_type} "
            f"(one of {sorted(allowed)}).",
        )
    data = body.get("data")
    if not isinstance(data, dict):
        return
    if kind in (ix.CHANNEL_MESSAGE, ix.UPDATE_MESSAGE):
        _message(data, ["data"], INTERACTION_FLAGS, errors)
    elif kind == ix.DEFERRED_CHANNEL_MESSAGE:
        flags = data.get("flags")
        if isinstance(flags, int) and flags & ~INTERACTION_FLAGS:
            errors.add(["data", "flags"], "MESSAGE_INVALID_FLAGS", "Invalid flags.")
    elif kind == ix.MODAL:
        _modal(data, errors)


def _modal(data: JSON, errors: FormErrors) -> None:
    """docs: interactions/receiving-and-responding#interaction-response-object-modal: a title,
    1-5 components; docs: components/reference#text-input: one text input a row, a label,
    min_length 0-4000, max_length 1-4000, min_length <= max_length, value within them."""
    rows = [r for r in data.get("components") or [] if isinstance(r, dict)]
    if len(rows) > MODAL_ROWS_MAX:
        errors.add(
            ["data", "components"],
            "BASE_TYPE_BAD_LENGTH",
            f"Must be between 1 and {MODAL_ROWS_MAX} in length.",
        )
    seen: dict[str, Path] = {}
    for i, row in enumerate(rows):
        at: Path = ["data", "components", i]
        if row.get("type") == LABEL:
            inner = row.get("component")
            if isinstance(inner, dict):
                _text_input(inner, [*at, "component"], seen, errors, labelled=True)
            continue
        if row.get("type") != ACTION_ROW:
            continue
        children = [c for c in row.get("components") or [] if isinstance(c, dict)]
        if len(children) != 1:
            errors.add(
                [*at, "components"],
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 1 in length.",
            )
        for j, child in enumerate(children):
            _text_input(child, [*at, "components", j], seen, errors, labelled=False)


def _text_input(
    item: JSON, at: Path, seen: dict[str, Path], errors: FormErrors, *, labelled: bool
) -> None:
    if not labelled and not item.get("label"):
        errors.add([*at, "label"], "BASE_TYPE_REQUIRED", "This field is required")
    _min_max(item, "min_length", "max_length", at, errors)
    value, low, high = item.get("value"), item.get("min_length"), item.get("max_length")
    if isinstance(value, str) and value:
        if isinstance(high, int) and len(value) > high:
            errors.add(
                [*at, "value"], "BASE_TYPE_MAX_LENGTH", f"Must be {high} or fewer in length."
            )
        if isinstance(low, int) and len(value) < low:
            errors.add([*at, "value"], "BASE_TYPE_MIN_LENGTH", f"Must be {low} or more in length.")
    _unique_custom_id(item, at, seen, errors)


# -- application commands -----------------------------------------------------------------------


def _commands(commands: list[Any], errors: FormErrors) -> None:
    """docs: interactions/application-commands#registering-a-command: names are unique per
    command type within an application (or a guild)."""
    seen: set[tuple[Any, Any]] = set()
    for i, command in enumerate(commands):
        if not isinstance(command, dict):
            continue
        _command(command, [i], errors)
        key = (command.get("type") or CHAT_INPUT, command.get("name"))
        if key in seen:
            errors.add(
                [i, "name"],
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                "Application command names must be unique",
            )
        seen.add(key)


def _command(command: JSON, at: Path, errors: FormErrors) -> None:
    """docs: interactions/application-commands#application-command-object-application-command-
    structure: a CHAT_INPUT command has a valid name and a 1-100 character description; USER and
    MESSAGE commands an empty description and no options; the whole command (names,
    descriptions, choice names and values, longest localization counted) is at most 8,000
    characters."""
    kind = command.get("type") or CHAT_INPUT
    description = command.get("description")
    if "nsfw" in command and not isinstance(command["nsfw"], bool | None):  # not in the spec
        errors.add(
            [*at, "nsfw"],
            "BOOLEAN_TYPE_CONVERT",
            f'Could not interpret "{command["nsfw"]}" as boolean.',
        )
    if kind == CHAT_INPUT:
        _name(command.get("name"), [*at, "name"], errors)
        if not isinstance(description, str) or not 1 <= len(description) <= 100:
            errors.add(
                [*at, "description"],
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            )
        _options(command.get("options") or [], [*at, "options"], errors, depth=0)
    else:
        if description:
            errors.add(
                [*at, "description"],
                "APPLICATION_COMMAND_DESCRIPTION_INVALID",
                "User and message commands have an empty description.",
            )
        if command.get("options"):
            errors.add(
                [*at, "options"],
                "APPLICATION_COMMAND_OPTIONS_INVALID",
                "User and message commands take no options.",
            )
    if _size(command) > COMMAND_TOTAL_MAX:
        errors.add(
            at,
            "APPLICATION_COMMAND_TOO_LARGE",
            f"Command exceeds maximum size ({COMMAND_TOTAL_MAX})",
        )


def _name(name: Any, at: Path, errors: FormErrors) -> None:
    """docs: interactions/application-commands#application-command-object-application-command-
    naming."""
    if not isinstance(name, str):
        return
    if not _NAME_CHARS.match(name) or name != name.lower():
        errors.add(
            at,
            "APPLICATION_COMMAND_INVALID_NAME",
            f"Command name is invalid: {name!r} (1-32 lowercase letters, digits, - _ ').",
        )


def _options(options: list[Any], at: Path, errors: FormErrors, *, depth: int) -> None:
    """docs: interactions/application-commands#application-command-object-application-command-
    option-structure: unique names; required options before optional ones; subcommands and
    groups are not mixed with other options, groups hold only subcommands (two levels);
    choices only on string, integer and number options, not with autocomplete, values of the
    option's type; channel_types only on channel options; min <= max."""
    names: set[Any] = set()
    optional_seen = False
    kinds = [o.get("type") for o in options if isinstance(o, dict)]
    nested = [k for k in kinds if k in (SUB_COMMAND, SUB_COMMAND_GROUP)]
    if nested and len(nested) != len(kinds):
        errors.add(
            at,
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Sub-commands and sub-command groups can't be mixed with other options.",
        )
    for i, option in enumerate(options):
        if not isinstance(option, dict):
            continue
        path: Path = [*at, i]
        kind = option.get("type")
        _name(option.get("name"), [*path, "name"], errors)
        if option.get("name") in names:
            errors.add(
                [*path, "name"],
                "APPLICATION_COMMAND_OPTION_NAME_NOT_UNIQUE",
                "Option names must be unique",
            )
        names.add(option.get("name"))
        if kind in (SUB_COMMAND, SUB_COMMAND_GROUP):
            if (depth >= 1 and kind == SUB_COMMAND_GROUP) or depth >= 2:
                errors.add(
                    [*path, "type"],
                    "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                    "Sub-command groups hold only sub-commands.",
                )
            inner = option.get("options") or []
            if kind == SUB_COMMAND_GROUP and any(
                isinstance(o, dict) and o.get("type") != SUB_COMMAND for o in inner
            ):
                errors.add(
                    [*path, "options"],
                    "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                    "Sub-command groups hold only sub-commands.",
                )
            _options(inner, [*path, "options"], errors, depth=depth + 1)
            continue
        if option.get("required"):
            if optional_seen:
                errors.add(
                    [*path, "required"],
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            optional_seen = True
        _choices(option, kind, path, errors)
        if option.get("channel_types") and kind != CHANNEL:
            errors.add(
                [*path, "channel_types"],
                "APPLICATION_COMMAND_OPTION_CHANNEL_TYPES_INVALID",
                "Only channel options take channel_types.",
            )
        _min_max(option, "min_value", "max_value", path, errors)
        _min_max(option, "min_length", "max_length", path, errors)


def _choices(option: JSON, kind: Any, at: Path, errors: FormErrors) -> None:
    choices = option.get("choices")
    if not choices:
        return
    if kind not in (STRING, INTEGER, NUMBER):
        errors.add(
            [*at, "choices"],
            "APPLICATION_COMMAND_OPTION_CHOICES_INVALID",
            "Only string, integer and number options take choices.",
        )
        return
    if option.get("autocomplete"):
        errors.add(
            [*at, "autocomplete"],
            "APPLICATION_COMMAND_AUTOCOMPLETE_WITH_CHOICES",
            "Autocomplete may not be set on an option with choices.",
        )
    for k, choice in enumerate(choices):
        value = choice.get("value") if isinstance(choice, dict) else None
        fits = (
            isinstance(value, str)
            if kind == STRING
            else isinstance(value, int) and not isinstance(value, bool)
            if kind == INTEGER
            else isinstance(value, int | float) and not isinstance(value, bool)
        )
        if not fits:
            errors.add(
                [*at, "choices", k, "value"],
                "APPLICATION_COMMAND_OPTION_CHOICE_VALUE_INVALID",
                "A choice's value must have its option's type.",
            )


def _longest(value: Any, localizations: Any) -> int:
    lengths = [len(value)] if isinstance(value, str) else [0]
    if isinstance(localizations, dict):
        lengths += [len(v) for v in localizations.values() if isinstance(v, str)]
    return max(lengths)


def _size(node: JSON) -> int:
    size = _longest(node.get("name"), node.get("name_localizations"))
    size += _longest(node.get("description"), node.get("description_localizations"))
    for choice in node.get("choices") or []:
        if isinstance(choice, dict):
            size += _longest(choice.get("name"), choice.get("name_localizations"))
            value = choice.get("value")
            size += len(value) if isinstance(value, str) else 0
    for option in node.get("options") or []:
        if isinstance(option, dict):
            size += _size(option)
    return size


# -- channels -----------------------------------------------------------------------------------


def _topic(body: JSON, channel_type: Any, errors: FormErrors) -> None:
    topic = body.get("topic")
    limit = 4096 if channel_type in LONG_TOPIC_TYPES else TOPIC_MAX
    if isinstance(topic, str) and len(topic) > limit:
        errors.add(["topic"], "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
