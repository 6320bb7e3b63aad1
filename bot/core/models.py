"""Plain data the domain works with, keyed by IDs; no hikari or aiohttp objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ButtonStyle = Literal["primary", "secondary", "success", "danger"]
QuestionStyle = Literal["short", "paragraph"]
TicketState = Literal["opening", "open", "closed"]
Source = Literal["button", "api"]


@dataclass(frozen=True, slots=True)
class Question:
    question_id: str
    label: str
    placeholder: str | None = None
    style: QuestionStyle = "short"
    required: bool = True
    min_length: int | None = None
    max_length: int | None = None


@dataclass(frozen=True, slots=True)
class Button:
    button_id: str
    panel_id: str
    label: str
    position: int = 0
    emoji: str | None = None
    style: ButtonStyle = "primary"
    category_id: int | None = None
    name_pattern: str = "ticket-{number}"
    max_open: int = 1
    welcome_text: str | None = None
    support_role_ids: tuple[int, ...] = ()
    questions: tuple[Question, ...] = ()
    # Used in order when `category_id` is full (Discord allows 50 channels per category).
    overflow_category_ids: tuple[int, ...] = ()
    # Inactivity auto-close for this button: None takes the server's, 0 turns it off.
    inactivity_warn_hours: float | None = None
    inactivity_close_hours: float | None = None
    # Threads mode: tickets are private threads of this channel (no category limits at all).
    thread_channel_id: int | None = None


@dataclass(frozen=True, slots=True)
class Panel:
    panel_id: str
    guild_id: int
    title: str
    description: str | None = None
    colour: int | None = None
    channel_id: int | None = None
    message_id: int | None = None
    buttons: tuple[Button, ...] = field(default=())

    def button(self, button_id: str) -> Button | None:
        for b in self.buttons:  # a plain loop: every open asks this
            if b.button_id == button_id:
                return b
        return None


@dataclass(frozen=True, slots=True)
class Answer:
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class Ticket:
    ticket_id: int
    guild_id: int
    number: int
    user_id: int
    state: TicketState
    source: Source
    opened_at: float
    channel_id: int | None = None
    panel_id: str | None = None
    button_id: str | None = None
    category_id: int | None = None
    closed_at: float | None = None
    closed_by: int | None = None
    close_reason: str | None = None
    claimed_by: int | None = None
    transcript_path: str | None = None
    archived: bool = False
    claim_locked: bool = False  # claimed while claim locks were on: the team is read-only
    answers: tuple[Answer, ...] = ()
    support_role_ids: tuple[int, ...] = ()  # the button's, as they were when it opened
    welcome_message_id: int | None = None  # recorded with 'open'; None while opening
    claimed_at: float | None = None
    thread_parent_id: int | None = None  # threads mode: the channel whose private thread it is

    @property
    def is_thread(self) -> bool:
        return self.thread_parent_id is not None


CloseMode = Literal["delete", "archive"]
OpenerLeft = Literal["keep", "close"]


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """Per-server choices; every field has the default a new server gets."""

    guild_id: int
    log_channel_id: int | None = None
    user_max_open: int | None = None
    close_mode: CloseMode = "delete"
    archive_category_id: int | None = None
    opener_can_close: bool = True
    dm_transcript: bool = False
    claim_locks: bool = False
    # Inactivity auto-close: warn after this many hours without a message from the opener
    # (None: off), close `inactivity_close_hours` after the warning.
    inactivity_warn_hours: float | None = None
    inactivity_close_hours: float = 24.0
    opener_left: OpenerLeft = "keep"  # when the opener leaves the server: keep (and say) or close
    feedback: bool = False  # ask the opener by DM to rate the support when their ticket closes


@dataclass(frozen=True, slots=True)
class OpenedTicket:
    guild_id: int
    channel_id: int
    ticket_id: int
    number: int


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    guild_id: int
    display_prefix: str
    created_at: float
    created_by: int | None


@dataclass(frozen=True, slots=True)
class BlacklistEntry:
    guild_id: int
    user_id: int
    added_at: float
    added_by: int | None
    reason: str | None
