"""The one table mapping domain errors to what a member sees (an ephemeral line) in Discord.

Each line means the same as the API's error for the same case (see `bot/api/errors.py`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bot.core.errors import (
    AdminError,
    Blacklisted,
    ButtonNotFound,
    DiscordFailure,
    InvalidRequest,
    NotMember,
    PanelNotFound,
    RateLimited,
    TooManyOpen,
)

GONE = "This button no longer opens tickets — the panel was changed. Ask the staff to refresh it."


def _relative(seconds: float) -> str:
    """A Discord timestamp that each member's client shows as 'in 12 seconds' in their language."""
    return f"<t:{int(time.time() + seconds + 0.999)}:R>"


def _too_many(e: TooManyOpen) -> str:
    where = f": <#{e.channel_id}>" if e.channel_id else ""
    if e.limit == "button" and e.maximum == 1:
        return f"You already have an open ticket for this{where}"
    scope = "for this button" if e.limit == "button" else "on this server"
    return f"You already have {e.maximum} open tickets {scope} (the most allowed){where}"


def _rate_limited(e: RateLimited) -> str:
    if e.scope == "user":
        return f"You opened a ticket moments ago — you can open another {_relative(e.retry_after)}."
    return (
        f"Lots of tickets are being opened right now — please try again {_relative(e.retry_after)}."
    )


_TABLE: dict[type[Exception], Callable[[Any], str]] = {
    PanelNotFound: lambda e: GONE,
    ButtonNotFound: lambda e: GONE,
    NotMember: lambda e: "Only members of this server can open tickets here.",
    Blacklisted: lambda e: "You can't open tickets on this server.",
    TooManyOpen: _too_many,
    RateLimited: _rate_limited,
    InvalidRequest: lambda e: f"Your answers couldn't be used: {e.message}.",
    DiscordFailure: lambda e: (
        f"Your ticket couldn't be created: {e.reason}. "
        + (
            "Nothing was left behind"
            if e.left_behind is None
            else f"The channel it started (<#{e.left_behind}>) will be deleted as soon as Discord "
            "allows"
        )
        + " — please tell the staff."
    ),
    AdminError: str,
}

UNEXPECTED = "Something went wrong on the bot's side; the staff can find the details in its log."


def member_message(exc: Exception) -> str:
    """The ephemeral line for a refusal or failure; a generic one for anything unexpected."""
    explain = _TABLE.get(type(exc))
    return explain(exc) if explain is not None else UNEXPECTED
