"""The one table mapping errors to what a member sees in Discord (an ephemeral line), and every
other line that explains a refusal or a failure.

Each line means the same as the API's error for the same case (see `bot/api/errors.py`). An error
is looked up by its class and then its bases, so a subclass of a mapped error is explained as its
base is; anything unmapped is a bug, answered with `UNEXPECTED` (its details go to the log).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import hikari
import lightbulb

from bot.core.errors import (
    AdminError,
    Blacklisted,
    ButtonNotFound,
    DiscordFailure,
    InvalidRequest,
    NotAllowed,
    NotMember,
    PanelNotFound,
    RateLimited,
    TooManyOpen,
    TranscriptNotSaved,
    lookup,
)
from bot.discord.guild_checks import permission_names

GONE = "This button no longer opens tickets — the panel was changed. Ask the staff to refresh it."
UNEXPECTED = "Something went wrong on the bot's side; the staff can find the details in its log."


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


def _missing_permission(e: lightbulb.prefab.MissingRequiredPermission) -> str:
    return f"you need the {permission_names(e.missing)} permission for this command"


_TABLE: dict[type[BaseException], Callable[[Any], str]] = {
    PanelNotFound: lambda e: GONE,
    ButtonNotFound: lambda e: GONE,
    NotMember: lambda e: "Only members of this server can open tickets here.",
    Blacklisted: lambda e: "You can't open tickets on this server.",
    TooManyOpen: _too_many,
    RateLimited: _rate_limited,
    InvalidRequest: lambda e: f"Your answers couldn't be used: {e.message}.",
    DiscordFailure: str,
    NotAllowed: str,
    TranscriptNotSaved: str,
    AdminError: str,
    # The command ran where it can't (`/ticket …` outside a ticket, a command in a DM).
    lightbulb.exceptions.ExecutionException: str,
    lightbulb.prefab.MissingRequiredPermission: _missing_permission,
}


def explain(exc: BaseException) -> str | None:
    """The line for a mapped refusal or failure; None for anything else (a bug)."""
    line = lookup(_TABLE, exc)
    return None if line is None else line(exc)


def member_message(exc: BaseException) -> str:
    """The ephemeral line for a refusal or failure; a generic one for anything unexpected."""
    line = explain(exc)
    return UNEXPECTED if line is None else line


def open_failed(exc: BaseException) -> str:
    """Why a click or a form did not open a ticket."""
    if isinstance(exc, DiscordFailure):
        left = (
            "Nothing was left behind"
            if exc.left_behind is None
            else f"The channel it started (<#{exc.left_behind}>) will be deleted as soon as "
            "Discord allows"
        )
        return f"Your ticket couldn't be created: {exc.reason}. {left} — please tell the staff."
    return member_message(exc)


def not_done(done: str, exc: BaseException) -> str:
    """A ticket action refused or failed after "Closing…" or "Deleting…" was answered."""
    line = explain(exc)
    return UNEXPECTED if line is None else f"The ticket was not {done}: {line}"


async def explain_refusal(exc: lightbulb.exceptions.ExecutionPipelineFailedException) -> bool:
    """The client-wide error handler of the slash commands: a refusal becomes a short ephemeral
    line. Anything unmapped is a bug: the member reads `UNEXPECTED` rather than "interaction
    failed", and it is left unhandled so that lightbulb logs it with its traceback."""
    for cause in exc.causes:
        line = explain(cause)
        if line is not None:
            await exc.context.respond(line, ephemeral=True)
            return True
    with contextlib.suppress(hikari.HTTPError):
        await exc.context.respond(UNEXPECTED, ephemeral=True)
    return False
