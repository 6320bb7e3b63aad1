"""Building panels: every change is validated whole against Discord's limits before it is saved.

The slash commands and panel files both go through `validate_panel`, so anything Discord would
reject when the panel is posted (or its modal shown) is refused up front with a clear message.
Posted panels are refreshed in place after every change.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import string
import time
import unicodedata
from typing import Any, Protocol

from bot.core.errors import AdminError
from bot.core.limits import Clock
from bot.core.models import Button, ButtonStyle, Panel, Question, QuestionStyle
from bot.core.numbers import OPEN_PER_MEMBER_MAX

PANEL_TITLE_MAX = 256
PANEL_DESCRIPTION_MAX = 4000
BUTTONS_MAX = 25  # 5 action rows of 5 buttons
BUTTON_LABEL_MAX = 80
QUESTIONS_MAX = 5  # a modal holds 5 text inputs
QUESTION_LABEL_MAX = 45
PLACEHOLDER_MAX = 100
ANSWER_MAX = 1024  # an answer must fit an embed field of the welcome message
NAME_PATTERN_MAX = 100
WELCOME_TEXT_MAX = 2000
MAX_OPEN_MAX = OPEN_PER_MEMBER_MAX
COLOUR_MAX = 0xFFFFFF
BUTTON_STYLES: tuple[ButtonStyle, ...] = ("primary", "secondary", "success", "danger")
QUESTION_STYLES: tuple[QuestionStyle, ...] = ("short", "paragraph")

_ID_ALPHABET = string.ascii_lowercase + string.digits
_CUSTOM_EMOJI = re.compile(r"<a?:[A-Za-z0-9_]{2,32}:\d{15,21}>")


def new_id(prefix: str) -> str:
    """`pnl_`, `btn_` or `qst_` and 8 random characters: short, readable, unique in practice."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def _text(what: str, value: str | None, maximum: int, *, required: bool = True) -> None:
    if value is None or not value.strip():
        if required:
            raise AdminError(f"{what} must not be empty")
        return
    if len(value) > maximum:
        raise AdminError(f"{what} is {len(value)} characters; Discord allows at most {maximum}")


_EMOJI_JOINERS = {0xFE0F, 0xFE0E, 0x200D, 0x20E3}
_KEYCAP = re.compile("[0-9#*]\ufe0f?\u20e3")


def is_unicode_emoji(text: str) -> bool:
    """Symbols plus the joiners, skin tones and tags emoji sequences are built from, or a keycap.

    Code points newer than Python's Unicode database count as symbols in the emoji planes, so a
    fresh emoji is not refused for being unknown to this Python.
    """
    if _KEYCAP.fullmatch(text):
        return True
    if not 0 < len(text) <= 10:
        return False
    symbol = False
    for ch in text:
        cp = ord(ch)
        category = unicodedata.category(ch)
        if category == "So" or (category == "Cn" and 0x1F000 <= cp <= 0x1FAFF):
            symbol = True
        elif not (cp in _EMOJI_JOINERS or 0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F):
            return False
    return symbol


def looks_like_emoji(value: str) -> bool:
    """A custom emoji `<:name:id>` or a Unicode emoji (whether a custom one exists is Discord's
    to say: the slash commands check the cache, files are checked when posted)."""
    return bool(_CUSTOM_EMOJI.fullmatch(value)) or is_unicode_emoji(value)


def validate_question(question: Question, where: str) -> None:
    _text(f"{where}: the question label", question.label, QUESTION_LABEL_MAX)
    _text(f"{where}: the placeholder", question.placeholder, PLACEHOLDER_MAX, required=False)
    if question.style not in QUESTION_STYLES:
        raise AdminError(f"{where}: style must be one of {', '.join(QUESTION_STYLES)}")
    low, high = question.min_length, question.max_length
    for name, value in (("min_length", low), ("max_length", high)):
        if value is not None and not 0 <= value <= ANSWER_MAX:
            raise AdminError(f"{where}: {name} must be between 0 and {ANSWER_MAX}")
    if high is not None and high < 1:
        raise AdminError(f"{where}: max_length must be at least 1")
    if low is not None and high is not None and low > high:
        raise AdminError(f"{where}: min_length ({low}) is more than max_length ({high})")


OVERFLOW_MAX = 9  # categories after the button's own: 500 channels at 50 a category


def validate_button(button: Button, where: str) -> None:
    _text(f"{where}: the label", button.label, BUTTON_LABEL_MAX)
    if button.emoji is not None and not looks_like_emoji(button.emoji):
        raise AdminError(
            f"{where}: {button.emoji!r} is not an emoji (use a Unicode emoji or <:name:id>)"
        )
    if button.style not in BUTTON_STYLES:
        raise AdminError(f"{where}: style must be one of {', '.join(BUTTON_STYLES)}")
    _text(f"{where}: the channel name pattern", button.name_pattern, NAME_PATTERN_MAX)
    if not 1 <= button.max_open <= MAX_OPEN_MAX:
        raise AdminError(f"{where}: max_open must be between 1 and {MAX_OPEN_MAX}")
    _text(f"{where}: the welcome text", button.welcome_text, WELCOME_TEXT_MAX, required=False)
    if len(button.questions) > QUESTIONS_MAX:
        raise AdminError(
            f"{where}: a button can ask at most {QUESTIONS_MAX} questions (Discord's form limit)"
        )
    if button.overflow_category_ids and button.category_id is None:
        raise AdminError(f"{where}: overflow categories need the button's own category first")
    if button.category_id in button.overflow_category_ids:
        raise AdminError(f"{where}: the button's own category can't also be an overflow one")
    if len(button.overflow_category_ids) > OVERFLOW_MAX:
        raise AdminError(f"{where}: at most {OVERFLOW_MAX} overflow categories")
    if button.thread_channel_id is not None and (
        button.category_id is not None or button.overflow_category_ids
    ):
        raise AdminError(
            f"{where}: a button opens tickets either as private threads of a channel or as "
            "channels in categories, not both: clear its categories or its thread channel"
        )
    for hours in (button.inactivity_warn_hours, button.inactivity_close_hours):
        if hours is not None and not 0 <= hours <= 24 * 365:
            raise AdminError(f"{where}: inactivity hours must be between 0 and a year")
    labels = [q.label.strip().casefold() for q in button.questions]
    if len(set(labels)) != len(labels):
        raise AdminError(f"{where}: two questions have the same label")
    for i, question in enumerate(button.questions):
        validate_question(question, f"{where}, question {i + 1}")


def validate_panel(panel: Panel) -> None:
    where = f"panel {panel.panel_id}"
    _text(f"{where}: the title", panel.title, PANEL_TITLE_MAX)
    _text(f"{where}: the description", panel.description, PANEL_DESCRIPTION_MAX, required=False)
    if panel.colour is not None and not 0 <= panel.colour <= COLOUR_MAX:
        raise AdminError(f"{where}: the colour must be between 000000 and FFFFFF")
    if len(panel.buttons) > BUTTONS_MAX:
        raise AdminError(f"{where}: a panel holds at most {BUTTONS_MAX} buttons")
    for i, button in enumerate(panel.buttons):
        validate_button(button, f"{where}, button {i + 1} ({button.button_id})")


def parse_colour(text: str) -> int:
    """`#5865F2`, `5865f2` or `0x5865F2`."""
    cleaned = text.strip().lower().removeprefix("#").removeprefix("0x")
    if not re.fullmatch(r"[0-9a-f]{6}", cleaned):
        raise AdminError(f"{text!r} is not a colour; use six hex digits like #5865F2")
    return int(cleaned, 16)


class PanelStore(Protocol):
    async def get_panel(self, guild_id: int, panel_id: str) -> Panel | None: ...

    async def list_panels(self, guild_id: int) -> list[Panel]: ...

    async def panel_for_button(self, guild_id: int, button_id: str) -> Panel | None: ...

    async def panel_for_question(self, guild_id: int, question_id: str) -> Panel | None: ...

    async def save(self, panel: Panel, now: float) -> None: ...

    async def delete(self, guild_id: int, panel_id: str) -> bool: ...


class PanelMessages(Protocol):
    """Where posted panels live in Discord."""

    async def post_panel(self, channel_id: int, panel: Panel) -> int: ...

    async def edit_panel(self, panel: Panel) -> bool:
        """Refresh the posted message in place; False if it no longer exists."""
        ...

    async def delete_panel_message(self, panel: Panel) -> None: ...


class PanelService:
    def __init__(
        self, store: PanelStore, messages: PanelMessages, clock: Clock = time.time
    ) -> None:
        self._store = store
        self._messages = messages
        self._clock = clock

    # -- reads ----------------------------------------------------------------------------------

    async def panels(self, guild_id: int) -> list[Panel]:
        return await self._store.list_panels(guild_id)

    async def panel(self, guild_id: int, panel_id: str) -> Panel:
        panel = await self._store.get_panel(guild_id, panel_id)
        if panel is None:
            raise AdminError(f"there is no panel {panel_id!r} on this server")
        return panel

    async def button(self, guild_id: int, button_id: str) -> tuple[Panel, Button]:
        panel = await self._store.panel_for_button(guild_id, button_id)
        button = panel.button(button_id) if panel else None
        if panel is None or button is None:
            raise AdminError(f"there is no button {button_id!r} on this server")
        return panel, button

    # -- panels ---------------------------------------------------------------------------------

    async def create_panel(
        self, guild_id: int, title: str, description: str | None, colour: int | None
    ) -> Panel:
        panel = Panel(
            panel_id=new_id("pnl_"),
            guild_id=guild_id,
            title=title,
            description=description,
            colour=colour,
        )
        return await self._save(panel)

    async def edit_panel(self, guild_id: int, panel_id: str, **changes: Any) -> Panel:
        panel = await self.panel(guild_id, panel_id)
        return await self._save(dataclasses.replace(panel, **changes))

    async def delete_panel(self, guild_id: int, panel_id: str) -> Panel:
        panel = await self.panel(guild_id, panel_id)
        await self._store.delete(guild_id, panel_id)
        if panel.message_id is not None:
            await self._messages.delete_panel_message(panel)
        return panel

    async def post_panel(self, guild_id: int, panel_id: str, channel_id: int) -> Panel:
        """Post the panel to a channel; a copy posted elsewhere before is removed."""
        panel = await self.panel(guild_id, panel_id)
        if not panel.buttons:
            raise AdminError(f"panel {panel_id} has no buttons yet; add one before posting it")
        message_id = await self._messages.post_panel(channel_id, panel)
        if panel.message_id is not None:
            await self._messages.delete_panel_message(panel)
        posted = dataclasses.replace(panel, channel_id=channel_id, message_id=message_id)
        await self._store.save(posted, self._clock())
        return posted

    # -- buttons --------------------------------------------------------------------------------

    async def add_button(self, guild_id: int, panel_id: str, **fields: Any) -> Button:
        panel = await self.panel(guild_id, panel_id)
        button = Button(
            button_id=new_id("btn_"), panel_id=panel_id, position=len(panel.buttons), **fields
        )
        await self._save(dataclasses.replace(panel, buttons=(*panel.buttons, button)))
        return button

    async def edit_button(self, guild_id: int, button_id: str, **changes: Any) -> Button:
        panel, button = await self.button(guild_id, button_id)
        edited = dataclasses.replace(button, **changes)
        await self._save(_with_button(panel, edited))
        return edited

    async def remove_button(self, guild_id: int, button_id: str) -> Panel:
        panel, _ = await self.button(guild_id, button_id)
        kept = [b for b in panel.buttons if b.button_id != button_id]
        return await self._save(dataclasses.replace(panel, buttons=_renumber(kept)))

    async def move_button(self, guild_id: int, button_id: str, position: int) -> Panel:
        """Move a button to `position` (1-based, clamped to the panel)."""
        panel, button = await self.button(guild_id, button_id)
        others = [b for b in panel.buttons if b.button_id != button_id]
        index = max(0, min(position - 1, len(others)))
        others.insert(index, button)
        return await self._save(dataclasses.replace(panel, buttons=_renumber(others)))

    # -- questions ------------------------------------------------------------------------------

    async def add_question(self, guild_id: int, button_id: str, **fields: Any) -> Question:
        panel, button = await self.button(guild_id, button_id)
        question = Question(question_id=new_id("qst_"), **fields)
        edited = dataclasses.replace(button, questions=(*button.questions, question))
        await self._save(_with_button(panel, edited))
        return question

    async def edit_question(self, guild_id: int, question_id: str, **changes: Any) -> Question:
        panel, button, question = await self._question(guild_id, question_id)
        edited = dataclasses.replace(question, **changes)
        questions = tuple(edited if q is question else q for q in button.questions)
        await self._save(_with_button(panel, dataclasses.replace(button, questions=questions)))
        return edited

    async def remove_question(self, guild_id: int, question_id: str) -> Button:
        panel, button, _ = await self._question(guild_id, question_id)
        questions = tuple(q for q in button.questions if q.question_id != question_id)
        edited = dataclasses.replace(button, questions=questions)
        await self._save(_with_button(panel, edited))
        return edited

    async def move_question(self, guild_id: int, question_id: str, position: int) -> Button:
        """Move a question to `position` in its button's form (1-based, clamped to the form)."""
        panel, button, question = await self._question(guild_id, question_id)
        others = [q for q in button.questions if q.question_id != question_id]
        others.insert(max(0, min(position - 1, len(others))), question)
        edited = dataclasses.replace(button, questions=tuple(others))
        await self._save(_with_button(panel, edited))
        return edited

    async def _question(self, guild_id: int, question_id: str) -> tuple[Panel, Button, Question]:
        panel = await self._store.panel_for_question(guild_id, question_id)
        for button in panel.buttons if panel else ():
            for question in button.questions:
                if question.question_id == question_id:
                    assert panel is not None
                    return panel, button, question
        raise AdminError(f"there is no question {question_id!r} on this server")

    async def _save(self, panel: Panel) -> Panel:
        """Validate the whole panel, save it, and refresh its posted message if any."""
        validate_panel(panel)
        await self._store.save(panel, self._clock())
        if panel.message_id is not None and not await self._messages.edit_panel(panel):
            panel = dataclasses.replace(panel, channel_id=None, message_id=None)
            await self._store.save(panel, self._clock())
        return panel


def _with_button(panel: Panel, button: Button) -> Panel:
    buttons = tuple(button if b.button_id == button.button_id else b for b in panel.buttons)
    return dataclasses.replace(panel, buttons=buttons)


def _renumber(buttons: list[Button]) -> tuple[Button, ...]:
    return tuple(dataclasses.replace(b, position=i) for i, b in enumerate(buttons))
