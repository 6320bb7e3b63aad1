"""Discord's size limits on what a bot sends, answered with Discord's own error bodies.

Each check returns the `errors` tree of a 50035 "Invalid Form Body" response (empty when valid), in
the nested `{"field": {"_errors": [{code, message}]}}` shape Discord uses.
"""

from __future__ import annotations

import re
from typing import Any

from bot.sandbox.state import JSON

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
EMBED_LIMITS = {"title": 256, "description": 4096}
EMBED_FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
AUTHOR_NAME_MAX = 256
ACTION_ROWS_MAX = 5
ROW_COMPONENTS_MAX = 5
CUSTOM_ID_MAX = 100
BUTTON_LABEL_MAX = 80
MODAL_TITLE_MAX = 45
MODAL_INPUTS_MAX = 5
TEXT_INPUT_LABEL_MAX = 45
TEXT_INPUT_VALUE_MAX = 4000
TEXT_INPUT_PLACEHOLDER_MAX = 100
CHANNEL_NAME_MAX = 100
UPLOAD_MAX_BYTES = 10 * 1024 * 1024  # a bot's attachments, on a server without boosts

# Discord's own emoji check, written for the emulator from Unicode's emoji data rather than taken
# from the bot, so a bot bug in its emoji rule is caught here instead of agreed with. The code
# points with the Emoji property, by block (coarse, as Unicode keeps adding to these blocks):
_EMOJI_CODE_POINTS = (
    "\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u2199\u21a9\u21aa\u231a\u231b\u2328"
    "\u23cf\u23e9-\u23f3\u23f8-\u23fa\u24c2\u25aa\u25ab\u25b6\u25c0\u25fb-\u25fe"
    "\u2600-\u27bf\u2934\u2935\u2b05-\u2b07\u2b1b\u2b1c\u2b50\u2b55\u3030\u303d\u3297"
    "\u3299\U0001f000-\U0001faff"
)
_EMOJI_ELEMENT = (
    f"[{_EMOJI_CODE_POINTS}]"
    "[\ufe0e\ufe0f]?"  # text or emoji presentation
    "(?:[\U0001f3fb-\U0001f3ff]|[\U000e0020-\U000e007e]+\U000e007f)?"  # skin tone or tags
)
_UNICODE_EMOJI = re.compile(
    "[0-9#*]\ufe0f?\u20e3"  # keycap
    "|[\U0001f1e6-\U0001f1ff]{2}"  # a flag: two regional indicators
    f"|{_EMOJI_ELEMENT}(?:\u200d{_EMOJI_ELEMENT})*"  # one emoji, or a ZWJ sequence of them
)


def is_emoji_name(name: str) -> bool:
    """Whether Discord takes `name` as the name of a Unicode emoji (a custom one has an id)."""
    return _UNICODE_EMOJI.fullmatch(name) is not None


class FormErrors:
    """Collects field errors at dotted paths and renders Discord's nested error tree."""

    def __init__(self) -> None:
        self.tree: JSON = {}

    def add(self, path: list[str | int], code: str, message: str) -> None:
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def length(self, path: list[str | int], value: Any, maximum: int, minimum: int = 0) -> None:
        if isinstance(value, str) and not minimum <= len(value) <= maximum:
            self.add(
                path,
                "BASE_TYPE_BAD_LENGTH",
                f"Must be between {minimum} and {maximum} in length.",
            )

    def __bool__(self) -> bool:
        return bool(self.tree)


def _embed_size(embed: JSON) -> int:
    size = len(embed.get("title") or "") + len(embed.get("description") or "")
    size += len((embed.get("footer") or {}).get("text") or "")
    size += len((embed.get("author") or {}).get("name") or "")
    for f in embed.get("fields") or []:
        size += len(f.get("name") or "") + len(f.get("value") or "")
    return size


def check_message(body: JSON, errors: FormErrors) -> None:
    """Content, embeds and components of a message create/edit."""
    errors.length(["content"], body.get("content"), CONTENT_MAX)
    embeds = body.get("embeds") or []
    if len(embeds) > EMBEDS_MAX:
        errors.add(["embeds"], "BASE_TYPE_MAX_LENGTH", f"Must be {EMBEDS_MAX} or fewer in length.")
    total = 0
    for i, embed in enumerate(embeds):
        for key, limit in EMBED_LIMITS.items():
            errors.length(["embeds", i, key], embed.get(key), limit)
        errors.length(
            ["embeds", i, "footer", "text"], (embed.get("footer") or {}).get("text"), FOOTER_MAX
        )
        errors.length(
            ["embeds", i, "author", "name"],
            (embed.get("author") or {}).get("name"),
            AUTHOR_NAME_MAX,
        )
        fields = embed.get("fields") or []
        if len(fields) > EMBED_FIELDS_MAX:
            errors.add(
                ["embeds", i, "fields"],
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {EMBED_FIELDS_MAX} or fewer in length.",
            )
        for j, f in enumerate(fields):
            errors.length(["embeds", i, "fields", j, "name"], f.get("name"), FIELD_NAME_MAX, 1)
            errors.length(["embeds", i, "fields", j, "value"], f.get("value"), FIELD_VALUE_MAX, 1)
        total += _embed_size(embed)
    if total > EMBED_TOTAL_MAX:
        errors.add(["embeds"], "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
    check_components(body.get("components") or [], errors)


def check_components(rows: list[JSON], errors: FormErrors) -> None:
    if len(rows) > ACTION_ROWS_MAX:
        errors.add(
            ["components"],
            "BASE_TYPE_MAX_LENGTH",
            f"Must be {ACTION_ROWS_MAX} or fewer in length.",
        )
    for i, row in enumerate(rows):
        children = row.get("components") or []
        if len(children) > ROW_COMPONENTS_MAX:
            errors.add(
                ["components", i, "components"],
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {ROW_COMPONENTS_MAX} or fewer in length.",
            )
        for j, child in enumerate(children):
            path: list[str | int] = ["components", i, "components", j]
            errors.length([*path, "custom_id"], child.get("custom_id"), CUSTOM_ID_MAX)
            errors.length([*path, "label"], child.get("label"), BUTTON_LABEL_MAX)
            emoji = child.get("emoji") or {}
            if emoji and not emoji.get("id") and not is_emoji_name(str(emoji.get("name"))):
                errors.add(
                    [*path, "emoji", "name"], "BUTTON_COMPONENT_INVALID_EMOJI", "Invalid emoji"
                )


def check_modal(data: JSON, errors: FormErrors) -> None:
    """A modal interaction response (type 9)."""
    errors.length(["data", "title"], data.get("title"), MODAL_TITLE_MAX, 1)
    errors.length(["data", "custom_id"], data.get("custom_id"), CUSTOM_ID_MAX, 1)
    rows = data.get("components") or []
    if not 1 <= len(rows) <= MODAL_INPUTS_MAX:
        errors.add(
            ["data", "components"],
            "BASE_TYPE_BAD_LENGTH",
            f"Must be between 1 and {MODAL_INPUTS_MAX} in length.",
        )
    for i, row in enumerate(rows):
        for j, item in enumerate(row.get("components") or []):
            path: list[str | int] = ["data", "components", i, "components", j]
            errors.length([*path, "label"], item.get("label"), TEXT_INPUT_LABEL_MAX, 1)
            errors.length([*path, "custom_id"], item.get("custom_id"), CUSTOM_ID_MAX, 1)
            errors.length(
                [*path, "placeholder"], item.get("placeholder"), TEXT_INPUT_PLACEHOLDER_MAX
            )
            errors.length([*path, "value"], item.get("value"), TEXT_INPUT_VALUE_MAX)
            for key in ("min_length", "max_length"):
                value = item.get(key)
                if value is not None and not 0 <= int(value) <= TEXT_INPUT_VALUE_MAX:
                    errors.add(
                        [*path, key],
                        "NUMBER_TYPE_MAX",
                        f"int value should be less than or equal to {TEXT_INPUT_VALUE_MAX}.",
                    )


def normalize_channel_name(name: str, channel_type: int, errors: FormErrors) -> str:
    """Discord lowercases text channel names and turns spaces into dashes."""
    errors.length(["name"], name, CHANNEL_NAME_MAX, 1)
    if channel_type == 0:
        return "-".join(name.lower().split())
    return name
