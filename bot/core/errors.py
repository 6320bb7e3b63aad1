"""The domain's errors: one base, subclasses that carry what a caller needs to explain them.

Nothing here knows HTTP or Discord: `bot/api/errors.py` maps these to statuses and JSON, and
`bot/discord/errors.py` maps them to the ephemeral text a member sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeVar

if TYPE_CHECKING:
    from bot.core.ports import LimitFacts

T = TypeVar("T")


class TicketError(Exception):
    """Base of every refusal or failure an open (or an admin action) can end in."""

    # True on a refusal an open started by another request ended in, handed to this one too.
    shared: bool = False


def lookup(table: Mapping[type[BaseException], T], exc: BaseException) -> T | None:
    """The entry for the exception's class or its nearest mapped base (the way `except` picks
    a clause), so a subclass of a mapped error is mapped as its base is."""
    for cls in type(exc).__mro__:
        if cls in table:
            return table[cls]
    return None


@dataclass
class PanelNotFound(TicketError):
    panel_id: str

    def __str__(self) -> str:
        return f"panel {self.panel_id!r} does not exist on this server"


@dataclass
class ButtonNotFound(TicketError):
    """`panel_id` is None when the button was looked up by its ID alone (a click)."""

    panel_id: str | None
    button_id: str

    def __str__(self) -> str:
        if self.panel_id is None:
            return f"button {self.button_id!r} does not exist on this server"
        return f"button {self.button_id!r} is not on panel {self.panel_id!r}"


@dataclass
class InvalidRequest(TicketError):
    """The request names something that cannot be opened as asked (a 400 on the API)."""

    code: str
    field: str
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass
class NotMember(TicketError):
    user_id: int

    def __str__(self) -> str:
        return f"user {self.user_id} is not a member of this server"


@dataclass
class Blacklisted(TicketError):
    user_id: int

    def __str__(self) -> str:
        return f"user {self.user_id} is blacklisted from opening tickets on this server"


@dataclass
class TooManyOpen(TicketError):
    """`limit` says which limit was hit: the button's `max_open` or the server's per-user total."""

    limit: Literal["button", "server"]
    maximum: int
    channel_id: int | None

    def __str__(self) -> str:
        which = "from this button" if self.limit == "button" else "on this server"
        where = f"; the open ticket is <#{self.channel_id}>" if self.channel_id else ""
        return f"the user already has {self.maximum} open ticket(s) {which}{where}"


@dataclass
class RateLimited(TicketError):
    """`facts` and `at`: what the check read, and when (the API's RateLimit fields are computed
    from them rather than read again, so they describe the same instant as `retry_after`)."""

    scope: Literal["server", "user"]
    retry_after: float
    facts: LimitFacts | None = field(default=None, compare=False, repr=False)
    at: float = field(default=0.0, compare=False, repr=False)

    def __str__(self) -> str:
        if self.scope == "server":
            return f"this server is opening tickets too fast; retry in {self.retry_after:.0f} s"
        return f"this user opened a ticket moments ago; retry in {self.retry_after:.0f} s"


@dataclass
class DiscordFailure(TicketError):
    """Discord refused or failed a call; `reason` says what to fix, in an admin's words.

    `may_have_happened`: no answer came (a timeout), so Discord may still have done it.
    """

    reason: str
    may_have_happened: bool = False
    # A channel the failed open made and Discord hasn't confirmed deleting yet: it stays in the
    # cleanup outbox, retried until Discord does.
    left_behind: int | None = None

    def __str__(self) -> str:
        if self.left_behind is None:
            return self.reason
        return (
            f"{self.reason}; the channel it created ({self.left_behind}) could not be deleted "
            "yet: the bot keeps trying until Discord confirms"
        )


class InvalidApiKey(TicketError):
    def __str__(self) -> str:
        return "the API key is not valid (unknown, regenerated or revoked)"


@dataclass
class NotAllowed(TicketError):
    """The actor may not do this (not staff of the ticket, not its opener, …): a refusal, never
    Python's `PermissionError`, which is the disk's (an `OSError`)."""

    message: str

    def __str__(self) -> str:
        return self.message


class TranscriptNotSaved(TicketError):
    """The transcript could not be written to the disk; the cause (with its path) is logged, and
    is chained as `__cause__`, never shown to a member."""

    def __str__(self) -> str:
        return "the bot could not save the transcript; an admin has been told"


@dataclass
class AdminError(TicketError):
    """An admin action that cannot be done as asked (e.g. generating a second key)."""

    message: str

    def __str__(self) -> str:
        return self.message
