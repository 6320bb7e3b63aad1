"""The options `/panel …` commands share: panel, button and question pickers with autocomplete,
and the option blocks that `add` and `edit` of a button (or a question) both take, defined once.

lightbulb reads a command's options from its own class body, so a shared block is a function
whose results the class body unpacks into attributes.

(No `from __future__ import annotations` here: lightbulb reads the option annotations at runtime.)
"""

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import NamedTuple

import hikari
import lightbulb

from bot.core.panels import (
    ANSWER_MAX,
    BUTTON_LABEL_MAX,
    BUTTON_STYLES,
    MAX_OPEN_MAX,
    NAME_PATTERN_MAX,
    PLACEHOLDER_MAX,
    QUESTION_LABEL_MAX,
    QUESTION_STYLES,
    WELCOME_TEXT_MAX,
    PanelService,
)
from bot.discord.guild_checks import CATEGORY_TYPES, manages_server
from bot.discord.interaction import cut

CHOICES_MAX = 25  # Discord shows at most 25 autocomplete choices
CHOICE_NAME_MAX = 100
PANEL_CLEARABLE = ("description", "colour")
BUTTON_CLEARABLE = ("emoji", "category", "welcome_text", "support_roles")
QUESTION_CLEARABLE = ("placeholder", "min_length", "max_length")

# -- autocomplete -------------------------------------------------------------------------------


def _managed_guild(ctx: lightbulb.AutocompleteContext[str]) -> int | None:
    """The server, if the member may manage it: others get no choices (and no IDs)."""
    if ctx.interaction.guild_id is None or not manages_server(ctx.interaction.member):
        return None
    return int(ctx.interaction.guild_id)


def _typed(ctx: lightbulb.AutocompleteContext[str]) -> str:
    return str(ctx.focused.value or "").strip().casefold()


def choices(items: Iterable[tuple[str, str]], typed: str) -> list[tuple[str, str]]:
    """`(name, value)` pairs whose name or value contains what was typed, at most 25."""
    out: list[tuple[str, str]] = []
    for name, value in items:
        if typed in name.casefold() or typed in value.casefold():
            out.append((cut(name, CHOICE_NAME_MAX), value))
            if len(out) == CHOICES_MAX:
                break
    return out


def _labelled(label: str, item_id: str) -> str:
    suffix = f" ({item_id})"
    return cut(label, CHOICE_NAME_MAX - len(suffix)) + suffix


@lightbulb.di.with_di
async def complete_panel(
    ctx: lightbulb.AutocompleteContext[str], panels: PanelService = lightbulb.di.INJECTED
) -> None:
    guild = _managed_guild(ctx)
    found = await panels.panels(guild) if guild else []
    items = ((_labelled(p.title, p.panel_id), p.panel_id) for p in found)
    await ctx.respond(choices(items, _typed(ctx)))


@lightbulb.di.with_di
async def complete_button(
    ctx: lightbulb.AutocompleteContext[str], panels: PanelService = lightbulb.di.INJECTED
) -> None:
    guild = _managed_guild(ctx)
    found = await panels.panels(guild) if guild else []
    items = (
        (_labelled(f"{p.title} > {b.label}", b.button_id), b.button_id)
        for p in found
        for b in p.buttons
    )
    await ctx.respond(choices(items, _typed(ctx)))


@lightbulb.di.with_di
async def complete_question(
    ctx: lightbulb.AutocompleteContext[str], panels: PanelService = lightbulb.di.INJECTED
) -> None:
    guild = _managed_guild(ctx)
    found = await panels.panels(guild) if guild else []
    items = (
        (_labelled(f"{b.label} > {q.label}", q.question_id), q.question_id)
        for p in found
        for b in p.buttons
        for q in b.questions
    )
    await ctx.respond(choices(items, _typed(ctx)))


def clear_completer(
    allowed: Sequence[str],
) -> Callable[[lightbulb.AutocompleteContext[str]], Awaitable[None]]:
    """Suggests the clearable names, completing the last item of a comma-separated list."""

    async def complete(ctx: lightbulb.AutocompleteContext[str]) -> None:
        typed = str(ctx.focused.value or "")
        head, _, last = typed.rpartition(",")
        done = {n.strip() for n in head.split(",") if n.strip()}
        prefix = f"{head}," if head else ""
        items = [(prefix + n, prefix + n) for n in allowed if n not in done]
        await ctx.respond(choices(items, last.strip().casefold()))

    return complete


# -- option definitions shared by several commands ------------------------------------------------


def panel_option() -> str:
    return lightbulb.string("panel", "The panel (ID like pnl_…)", autocomplete=complete_panel)


def button_option() -> str:
    return lightbulb.string("button", "The button (ID like btn_…)", autocomplete=complete_button)


def question_option() -> str:
    return lightbulb.string(
        "question", "The question (ID like qst_…)", autocomplete=complete_question
    )


BUTTON_STYLE_CHOICES: list[lightbulb.Choice[str]] = [lightbulb.Choice(s, s) for s in BUTTON_STYLES]
QUESTION_STYLE_CHOICES: list[lightbulb.Choice[str]] = [
    lightbulb.Choice(s, s) for s in QUESTION_STYLES
]


# -- the option blocks of `add` and `edit` ------------------------------------------------------


class ButtonOptions(NamedTuple):
    label: str | None
    emoji: str | None
    style: str | None
    category: hikari.PartialChannel | None
    name_pattern: str | None
    max_open: int | None
    welcome_text: str | None


def button_options(*, adding: bool) -> ButtonOptions:
    """A button's settings: `add` requires a label and says the defaults; `edit` requires none."""
    return ButtonOptions(
        label=lightbulb.string(
            "label",
            "Button text",
            max_length=BUTTON_LABEL_MAX,
            default=hikari.UNDEFINED if adding else None,
        ),
        emoji=lightbulb.string(
            "emoji", "Unicode emoji or this server's custom emoji", default=None
        ),
        style=lightbulb.string("style", "Colour", default=None, choices=BUTTON_STYLE_CHOICES),
        category=lightbulb.channel(
            "category", "Category for ticket channels", default=None, channel_types=CATEGORY_TYPES
        ),
        name_pattern=lightbulb.string(
            "name_pattern",
            "Ticket channel name; {number} and {user} are filled in"
            + (" (default ticket-{number})" if adding else ""),
            default=None,
            max_length=NAME_PATTERN_MAX,
        ),
        max_open=lightbulb.integer(
            "max_open",
            "Open tickets a member may have from this button" + (" (default 1)" if adding else ""),
            default=None,
            min_value=1,
            max_value=MAX_OPEN_MAX,
        ),
        welcome_text=lightbulb.string(
            "welcome_text",
            "First message in the ticket",
            default=None,
            max_length=WELCOME_TEXT_MAX,
        ),
    )


class QuestionOptions(NamedTuple):
    label: str | None
    placeholder: str | None
    style: str | None
    required: bool | None
    min_length: int | None
    max_length: int | None


def question_options(*, adding: bool) -> QuestionOptions:
    """A question's settings: `add` requires its label and says the default of `required`."""
    return QuestionOptions(
        label=lightbulb.string(
            "label",
            "The question",
            max_length=QUESTION_LABEL_MAX,
            default=hikari.UNDEFINED if adding else None,
        ),
        placeholder=lightbulb.string(
            "placeholder",
            "Hint shown in the empty field",
            default=None,
            max_length=PLACEHOLDER_MAX,
        ),
        style=lightbulb.string(
            "style",
            "short: one line, paragraph: several",
            default=None,
            choices=QUESTION_STYLE_CHOICES,
        ),
        required=lightbulb.boolean(
            "required", "Must be answered" + (" (default True)" if adding else ""), default=None
        ),
        min_length=lightbulb.integer(
            "min_length", "Shortest answer allowed", default=None, min_value=0, max_value=ANSWER_MAX
        ),
        max_length=lightbulb.integer(
            "max_length", "Longest answer allowed", default=None, min_value=1, max_value=ANSWER_MAX
        ),
    )
