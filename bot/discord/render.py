"""How panels look in Discord: an embed and up to 5 rows of 5 buttons, custom_ids by button ID."""

from __future__ import annotations

from typing import Literal

import hikari

from bot.core.models import Button, Panel
from bot.core.tickets import answer_limits

# Every custom_id the bot puts on a component starts with "rmp:" and carries all the router needs,
# so buttons and forms keep working across restarts.
OPEN_PREFIX = "rmp:open:"
FORM_PREFIX = "rmp:form:"
CLOSE_PREFIX = "rmp:close:"
CLOSE_FORM_PREFIX = "rmp:closeform:"
BUTTONS_PER_ROW = 5

InteractiveStyle = Literal[
    hikari.ButtonStyle.PRIMARY,
    hikari.ButtonStyle.SECONDARY,
    hikari.ButtonStyle.SUCCESS,
    hikari.ButtonStyle.DANGER,
]
_STYLES: dict[str, InteractiveStyle] = {
    "primary": hikari.ButtonStyle.PRIMARY,
    "secondary": hikari.ButtonStyle.SECONDARY,
    "success": hikari.ButtonStyle.SUCCESS,
    "danger": hikari.ButtonStyle.DANGER,
}


def open_custom_id(button: Button) -> str:
    return OPEN_PREFIX + button.button_id


def form_custom_id(button: Button) -> str:
    return FORM_PREFIX + button.button_id


def close_custom_id(ticket_id: int) -> str:
    return f"{CLOSE_PREFIX}{ticket_id}"


def panel_embed(panel: Panel) -> hikari.Embed:
    return hikari.Embed(title=panel.title, description=panel.description, colour=panel.colour)


def panel_rows(
    rest: hikari.api.RESTClient, panel: Panel
) -> list[hikari.api.MessageActionRowBuilder]:
    rows = []
    for start in range(0, len(panel.buttons), BUTTONS_PER_ROW):
        row = rest.build_message_action_row()
        for button in panel.buttons[start : start + BUTTONS_PER_ROW]:
            row.add_interactive_button(
                _STYLES[button.style],
                open_custom_id(button),
                label=button.label,
                emoji=button.emoji or hikari.UNDEFINED,
            )
        rows.append(row)
    return rows


def question_modal(
    rest: hikari.api.RESTClient, button: Button
) -> list[hikari.api.ModalActionRowBuilder]:
    """The intake form: one text input per question, keyed by question ID, each taking no more
    than the welcome message can hold (`answer_limits`)."""
    rows = []
    for question, most in zip(button.questions, answer_limits(button), strict=True):
        row = rest.build_modal_action_row()
        row.add_text_input(
            question.question_id,
            question.label,
            style=hikari.TextInputStyle.PARAGRAPH
            if question.style == "paragraph"
            else hikari.TextInputStyle.SHORT,
            placeholder=question.placeholder or hikari.UNDEFINED,
            required=question.required,
            min_length=question.min_length or 0,
            max_length=most,
        )
        rows.append(row)
    return rows
