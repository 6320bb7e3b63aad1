"""The domain's errors: one base, subclasses that carry what a caller needs to explain them.

Nothing here knows HTTP or Discord: `bot/api/errors.py` maps these to statuses and JSON, and
`bot/discord/errors.py` maps them to the ephemeral text a member sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


class TicketError(Exception):
    """Base of every refusal or failure an open (or an admin action) can end in."""


@dataclass
class PanelNotFound(TicketError):
    panel_id: str

    def __str__(self) -> str:
        return f"panel {self.panel_id!r} does not exist on this server"


@dataclass
class ButtonNotFound(TicketError):
    panel_id: str
    button_id: str

    def __str__(self) -> str:
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
    scope: Literal["server", "user"]
    retry_after: float

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
class AdminError(TicketError):
    """An admin action that cannot be done as asked (e.g. generating a second key)."""

    message: str

    def __str__(self) -> str:
        return self.message
