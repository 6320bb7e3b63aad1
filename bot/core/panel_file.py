"""Panels as code: a server's panels as a TOML file, and back, exactly.

`dump_panels` writes every field a panel, button and question has, IDs included, in their order;
`load_panels` reads such a file (or a hand-written one, where IDs may be left out) and checks all
of it before anyone writes anything: TOML syntax, unknown keys, types, IDs, duplicates, then
`validate_panel` on each panel. Every problem is one `PanelFileError` line naming ``file:line``
and the key path, e.g. ``panels.toml:12: panels[1].buttons[0].label: expected string, got
integer``.

The format (see ``panels.example.toml``)::

    [[panels]]                    # one per panel, in the order they are listed
    id = "pnl_demo"               # optional: a panel without one gets a new ID
    title = "Need a hand?"
    [[panels.buttons]]            # the panel's buttons, left to right
    label = "Get help"
    [[panels.buttons.questions]]  # the button's intake form, top to bottom
    label = "What do you need help with?"

A file with no panels says so with ``panels = []``; a file without a ``panels`` key is refused,
so an empty or wrong file never deletes a server's panels.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.core.errors import AdminError
from bot.core.models import Button, ButtonStyle, Panel, Question, QuestionStyle
from bot.core.numbers import SNOWFLAKE_MAX
from bot.core.panels import (
    BUTTON_STYLES,
    COLOUR_MAX,
    QUESTION_STYLES,
    new_id,
    parse_colour,
    validate_button,
    validate_panel,
    validate_question,
)
from bot.core.toml_reader import (
    Invalid,
    Locator,
    boolean,
    did_you_mean,
    integer,
    join,
    read_toml,
    string,
    toml_type,
)

PANEL_PREFIX = "pnl_"
BUTTON_PREFIX = "btn_"
QUESTION_PREFIX = "qst_"
# IDs end up in Discord custom_ids (at most 100 characters, with a short `rmp:open:` prefix).
ID_BODY_MAX = 64
MAX_HOURS = 24 * 365  # inactivity timers: a year at most

PANEL_KEYS = ("id", "title", "description", "colour", "channel_id", "message_id", "buttons")
BUTTON_KEYS = (
    "id",
    "label",
    "emoji",
    "style",
    "category_id",
    "support_role_ids",
    "name_pattern",
    "max_open",
    "welcome_text",
    "overflow_category_ids",
    "inactivity_warn_hours",
    "inactivity_close_hours",
    "thread_channel_id",
    "questions",
)
QUESTION_KEYS = (
    "id",
    "label",
    "placeholder",
    "style",
    "required",
    "min_length",
    "max_length",
)

HEADER = (
    "# Rimpllee panels: `rimpllee panel import` makes the server's panels exactly the ones below,\n"
    "# deleting any panel not listed. Format: panels.example.toml in the Rimpllee repository.\n"
)


# What a key left out of the file means: the models' own defaults.
_DEFAULT_BUTTON = Button(button_id="", panel_id="", label="")
_DEFAULT_QUESTION = Question(question_id="", label="")


class PanelFileError(AdminError):
    """A panel file that cannot be imported; ``str()`` is one line naming file:line and key."""


# -- writing --------------------------------------------------------------------------------------

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def _escape(char: str, *, multiline: bool) -> str:
    if char == "\n" and multiline:
        return char
    if char in _ESCAPES:
        return _ESCAPES[char]
    # TOML forbids raw control characters; line and paragraph separators would look like line
    # breaks in an editor. All of these are in the BMP, so \uXXXX is enough.
    if unicodedata.category(char) in ("Cc", "Zl", "Zp"):
        return f"\\u{ord(char):04X}"
    return char


def toml_string(text: str) -> str:
    """A TOML basic string that reads back as exactly `text`.

    Text with line breaks becomes a multi-line basic string, so welcome texts stay readable;
    quotes and backslashes are always escaped, so no delimiter or line-ending backslash can
    appear by accident.
    """
    multiline = "\n" in text
    body = "".join(_escape(ch, multiline=multiline) for ch in text)
    # The newline right after an opening """ is not part of the string.
    return f'"""\n{body}"""' if multiline else f'"{body}"'


def _snowflake_text(value: int) -> str:
    return f'"{value}"'


def _lines(pairs: Iterable[tuple[str, str | None]]) -> list[str]:
    return [f"{key} = {value}" for key, value in pairs if value is not None]


def _optional(value: str | None) -> str | None:
    return None if value is None else toml_string(value)


def _optional_int(value: int | None) -> str | None:
    return None if value is None else str(value)


def _optional_id(value: int | None) -> str | None:
    return None if value is None else _snowflake_text(value)


def _id_list(values: Sequence[int]) -> str | None:
    return f"[{', '.join(_snowflake_text(v) for v in values)}]" if values else None


def _optional_hours(value: float | None) -> str | None:
    return None if value is None else repr(float(value))


def _question_lines(question: Question) -> list[str]:
    return _lines(
        [
            ("id", toml_string(question.question_id)),
            ("label", toml_string(question.label)),
            ("placeholder", _optional(question.placeholder)),
            ("style", toml_string(question.style)),
            ("required", "true" if question.required else "false"),
            ("min_length", _optional_int(question.min_length)),
            ("max_length", _optional_int(question.max_length)),
        ]
    )


def _button_lines(button: Button) -> list[str]:
    roles = ", ".join(_snowflake_text(r) for r in sorted(button.support_role_ids))
    return _lines(
        [
            ("id", toml_string(button.button_id)),
            ("label", toml_string(button.label)),
            ("emoji", _optional(button.emoji)),
            ("style", toml_string(button.style)),
            ("category_id", _optional_id(button.category_id)),
            ("support_role_ids", f"[{roles}]"),
            ("name_pattern", toml_string(button.name_pattern)),
            ("max_open", str(button.max_open)),
            ("welcome_text", _optional(button.welcome_text)),
            ("overflow_category_ids", _id_list(button.overflow_category_ids)),
            ("inactivity_warn_hours", _optional_hours(button.inactivity_warn_hours)),
            ("inactivity_close_hours", _optional_hours(button.inactivity_close_hours)),
            ("thread_channel_id", _optional_id(button.thread_channel_id)),
        ]
    )


def _panel_lines(panel: Panel) -> list[str]:
    return _lines(
        [
            ("id", toml_string(panel.panel_id)),
            ("title", toml_string(panel.title)),
            ("description", _optional(panel.description)),
            ("colour", None if panel.colour is None else f'"#{panel.colour:06X}"'),
            ("channel_id", _optional_id(panel.channel_id)),
            ("message_id", _optional_id(panel.message_id)),
        ]
    )


def dump_panels(panels: Sequence[Panel]) -> str:
    """The panels as a TOML file that `load_panels` reads back as exactly these panels.

    Deterministic (no dates, no guild ID), so exporting the same panels twice gives the same
    bytes and a file under version control only changes when the panels do. Support role IDs are
    a set and are written sorted, as the store returns them.
    """
    blocks: list[list[str]] = []
    for panel in panels:
        blocks.append(["[[panels]]", *_panel_lines(panel)])
        for button in panel.buttons:
            blocks.append(["[[panels.buttons]]", *_button_lines(button)])
            blocks.extend(
                ["[[panels.buttons.questions]]", *_question_lines(question)]
                for question in button.questions
            )
    if not blocks:
        blocks.append(["panels = []  # no panels: importing this file deletes every panel"])
    return HEADER + "".join("\n" + "\n".join(block) + "\n" for block in blocks)


# -- reading --------------------------------------------------------------------------------------


def _error(at: Locator, path: str, message: str) -> PanelFileError:
    return PanelFileError(
        f"{at.where(path)}: {path}: {message}" if path else f"{at.where(path)}: {message}"
    )


T = TypeVar("T")


def _snowflake(value: object) -> int:
    """A Discord ID: a string of digits (what export writes) or a TOML integer."""
    if isinstance(value, str) and re.fullmatch(r"[0-9]+", value):
        number = int(value)
    elif type(value) is int:
        number = value
    else:
        shown = repr(value) if isinstance(value, str) else toml_type(value)
        raise Invalid(f"expected a Discord ID (a string of digits), got {shown}")
    if not 0 < number <= SNOWFLAKE_MAX:
        raise Invalid(f"{number} is not a Discord ID")
    return number


def _hours(value: object) -> float:
    """Hours as a TOML integer or float, not negative (0 turns a button's auto-close off)."""
    if type(value) not in (int, float):
        raise Invalid(f"expected a number of hours, got {toml_type(value)}")
    hours = float(value)  # type: ignore[arg-type]
    if not 0 <= hours <= MAX_HOURS:
        raise Invalid(f"expected 0 to {MAX_HOURS} hours, got {hours:g}")
    return hours


def _colour(value: object) -> int:
    if type(value) is int:
        if not 0 <= value <= COLOUR_MAX:
            raise Invalid(f'{value:#x} is not a colour; use six hex digits like "#5865F2"')
        return value
    if isinstance(value, str):
        try:
            return parse_colour(value)
        except AdminError as exc:
            raise Invalid(str(exc)) from None
    raise Invalid(f'expected a colour like "#5865F2", got {toml_type(value)}')


def _button_style(value: object) -> ButtonStyle:
    text = string(value)
    for style in BUTTON_STYLES:
        if text == style:
            return style
    raise Invalid(f"expected one of {', '.join(BUTTON_STYLES)}, got {text!r}")


def _question_style(value: object) -> QuestionStyle:
    text = string(value)
    for style in QUESTION_STYLES:
        if text == style:
            return style
    raise Invalid(f"expected one of {', '.join(QUESTION_STYLES)}, got {text!r}")


def _id(prefix: str) -> Callable[[object], str]:
    pattern = re.compile(rf"{prefix}[A-Za-z0-9_-]{{1,{ID_BODY_MAX}}}")

    def parse(value: object) -> str:
        text = string(value)
        if pattern.fullmatch(text) is None:
            raise Invalid(
                f"{text!r} is not a valid id: {prefix} and 1-{ID_BODY_MAX} letters, digits, "
                "_ or - (or leave id out to get a new one)"
            )
        return text

    return parse


def _tables(value: object) -> list[Any]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        got = toml_type(value)
        if isinstance(value, list):
            got = next(f"array containing {toml_type(v)}" for v in value if not isinstance(v, dict))
        raise Invalid(f"expected an array of tables, got {got}")
    return value


class _Table:
    """One TOML table of the file: unknown keys refused, each value parsed at its key path."""

    def __init__(
        self, at: Locator, path: str, data: Mapping[str, Any], known: tuple[str, ...]
    ) -> None:
        self.at = at
        self.path = path
        self.data = data
        for key in data:
            if key not in known:
                raise _error(
                    at,
                    self.key(key),
                    f"unknown key (known keys here: {', '.join(known)}){did_you_mean(key, known)}",
                )

    def key(self, key: str) -> str:
        return join(self.path, key)

    def get(self, key: str, parse: Callable[[object], T]) -> T | None:
        if key not in self.data:
            return None
        try:
            return parse(self.data[key])
        except Invalid as exc:
            raise _error(self.at, self.key(key), str(exc)) from None

    def required(self, key: str, parse: Callable[[object], T]) -> T:
        value = self.get(key, parse)
        if value is None:
            raise _error(self.at, self.path, f"missing required key {key!r}")
        return value

    def tables(self, key: str, known: tuple[str, ...]) -> list[_Table]:
        items = self.get(key, _tables) or []
        return [
            _Table(self.at, f"{self.key(key)}[{i}]", item, known) for i, item in enumerate(items)
        ]


class _Ids:
    """IDs are global: each may appear once in a file; missing ones are made up, unique."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}  # id -> key path of the table that has it
        self.new: list[str] = []

    def take(self, table: _Table, prefix: str) -> str:
        given = table.get("id", _id(prefix))
        if given is None:
            given = new_id(prefix)
            while given in self.seen:
                given = new_id(prefix)
            self.new.append(given)
        elif given in self.seen:
            raise _error(
                table.at, table.key("id"), f"{given!r} is already the id of {self.seen[given]}"
            )
        self.seen[given] = table.path
        return given


def _question(table: _Table, ids: _Ids) -> Question:
    required = table.get("required", boolean)
    return Question(
        question_id=ids.take(table, QUESTION_PREFIX),
        label=table.required("label", string),
        placeholder=table.get("placeholder", string),
        style=table.get("style", _question_style) or _DEFAULT_QUESTION.style,
        required=_DEFAULT_QUESTION.required if required is None else required,
        min_length=table.get("min_length", integer),
        max_length=table.get("max_length", integer),
    )


def _role_ids(table: _Table) -> tuple[int, ...]:
    path = table.key("support_role_ids")
    value = table.data.get("support_role_ids", [])
    if not isinstance(value, list):
        raise _error(table.at, path, f"expected an array of Discord IDs, got {toml_type(value)}")
    roles: list[int] = []
    for i, item in enumerate(value):
        try:
            role = _snowflake(item)
        except Invalid as exc:
            raise _error(table.at, f"{path}[{i}]", str(exc)) from None
        if role in roles:
            raise _error(table.at, f"{path}[{i}]", f"role {role} is listed twice")
        roles.append(role)
    return tuple(sorted(roles))  # a set: stored and exported sorted


def _category_ids(table: _Table) -> tuple[int, ...]:
    path = table.key("overflow_category_ids")
    value = table.data.get("overflow_category_ids", [])
    if not isinstance(value, list):
        raise _error(table.at, path, f"expected an array of Discord IDs, got {toml_type(value)}")
    found: list[int] = []
    for i, item in enumerate(value):
        try:
            category = _snowflake(item)
        except Invalid as exc:
            raise _error(table.at, f"{path}[{i}]", str(exc)) from None
        if category in found:
            raise _error(table.at, f"{path}[{i}]", f"category {category} is listed twice")
        found.append(category)
    return tuple(found)  # an order: the next full one hands over to the one after it


def _button(table: _Table, panel_id: str, position: int, ids: _Ids) -> Button:
    button_id = ids.take(table, BUTTON_PREFIX)
    label = table.required("label", string)
    name_pattern = table.get("name_pattern", string)
    max_open = table.get("max_open", integer)
    return Button(
        button_id=button_id,
        panel_id=panel_id,
        label=label,
        position=position,
        emoji=table.get("emoji", string),
        style=table.get("style", _button_style) or _DEFAULT_BUTTON.style,
        category_id=table.get("category_id", _snowflake),
        name_pattern=_DEFAULT_BUTTON.name_pattern if name_pattern is None else name_pattern,
        max_open=_DEFAULT_BUTTON.max_open if max_open is None else max_open,
        welcome_text=table.get("welcome_text", string),
        support_role_ids=_role_ids(table),
        overflow_category_ids=_category_ids(table),
        inactivity_warn_hours=table.get("inactivity_warn_hours", _hours),
        inactivity_close_hours=table.get("inactivity_close_hours", _hours) or None,
        thread_channel_id=table.get("thread_channel_id", _snowflake),
        questions=tuple(
            _question(question, ids) for question in table.tables("questions", QUESTION_KEYS)
        ),
    )


def _panel(table: _Table, guild_id: int, ids: _Ids) -> Panel:
    panel_id = ids.take(table, PANEL_PREFIX)
    title = table.required("title", string)
    description = table.get("description", string)
    colour = table.get("colour", _colour)
    channel_id = table.get("channel_id", _snowflake)
    message_id = table.get("message_id", _snowflake)
    if (channel_id is None) != (message_id is None):
        raise _error(
            table.at, table.path, "channel_id and message_id go together: give both or neither"
        )
    buttons = table.tables("buttons", BUTTON_KEYS)
    return Panel(
        panel_id=panel_id,
        guild_id=guild_id,
        title=title,
        description=description,
        colour=colour,
        channel_id=channel_id,
        message_id=message_id,
        buttons=tuple(_button(b, panel_id, i, ids) for i, b in enumerate(buttons)),
    )


def _validate(at: Locator, table: _Table, panel: Panel, ids: _Ids) -> None:
    """`validate_panel`, with its message kept and placed at the panel, button or question.

    An ID made up for this file means nothing to the admin: the message names its key path.
    """
    try:
        validate_panel(panel)
    except AdminError as exc:
        message, path = str(exc), table.path
        shown = message
        for made_up in ids.new:
            shown = shown.replace(made_up, ids.seen[made_up])
        buttons = table.tables("buttons", BUTTON_KEYS)
        for b, (button, button_table) in enumerate(zip(panel.buttons, buttons, strict=True)):
            where = f"panel {panel.panel_id}, button {b + 1} ({button.button_id})"
            if _message_of(validate_button, button, where) != message:
                continue
            path = button_table.path
            questions = button_table.tables("questions", QUESTION_KEYS)
            for q, (question, q_table) in enumerate(zip(button.questions, questions, strict=True)):
                if (
                    _message_of(validate_question, question, f"{where}, question {q + 1}")
                    == message
                ):
                    path = q_table.path
            break
        raise PanelFileError(f"{at.where(path)}: {shown}") from None


def _message_of(check: Callable[[Any, str], None], item: object, where: str) -> str | None:
    try:
        check(item, where)
    except AdminError as exc:
        return str(exc)
    return None


@dataclass(frozen=True, slots=True)
class PanelFile:
    panels: list[Panel]
    new_ids: tuple[str, ...]  # the IDs made up for tables without an `id`, in file order
    places: dict[str, str]  # each ID -> "file:line: key path" of its table, for messages

    def check_ids_stay(self, current: Sequence[Panel]) -> None:
        """Refuse a button moved to another panel, or a question to another button.

        An ID names one thing for good: tickets and posted messages refer to it with its panel.
        (The store would also refuse most such moves, but only in some orders.)
        """
        panel_of = {b.button_id: p.panel_id for p in current for b in p.buttons}
        button_of = {
            q.question_id: b.button_id for p in current for b in p.buttons for q in b.questions
        }
        for panel in self.panels:
            for button in panel.buttons:
                was = panel_of.get(button.button_id, panel.panel_id)
                if was != panel.panel_id:
                    raise PanelFileError(
                        f"{self.places[button.button_id]}: button {button.button_id} is on "
                        f"panel {was}; it cannot move to panel {panel.panel_id} "
                        "(leave out its id to make it a new button)"
                    )
                for question in button.questions:
                    was = button_of.get(question.question_id, button.button_id)
                    if was != button.button_id:
                        raise PanelFileError(
                            f"{self.places[question.question_id]}: question "
                            f"{question.question_id} belongs to button {was}; it cannot move to "
                            f"button {button.button_id} (leave out its id to make it a new one)"
                        )


def load_panels(text: str, *, source: str, guild_id: int) -> list[Panel]:
    """The server's panels as `text` describes them, checked whole; raises `PanelFileError`.

    `source` names the file in messages. Buttons keep the file's order (their `position`),
    questions too; panels, buttons and questions without an `id` get a new one.
    """
    return read_panel_file(text, source=source, guild_id=guild_id).panels


def read_panel_file(text: str, *, source: str, guild_id: int) -> PanelFile:
    """`load_panels`, also saying which IDs were made up (to tell the admin to export)."""
    data = read_toml(text, source=source, error=PanelFileError)
    at = Locator(source, text)
    root = _Table(at, "", data, ("panels",))
    if "panels" not in data:
        raise PanelFileError(
            f"{source}: no panels: describe them with [[panels]] tables, "
            "or write `panels = []` to delete every panel"
        )
    ids = _Ids()
    tables = root.tables("panels", PANEL_KEYS)
    panels = [_panel(table, guild_id, ids) for table in tables]
    for table, panel in zip(tables, panels, strict=True):
        _validate(at, table, panel, ids)
    places = {}
    for id_, path in ids.seen.items():
        number = at.line(path)
        places[id_] = f"{source}:{number}: {path}" if number is not None else f"{source}: {path}"
    return PanelFile(panels, tuple(ids.new), places)
