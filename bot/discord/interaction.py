"""Answering a slash command: ephemerally, in time, in messages Discord accepts.

Discord drops an interaction not answered within 3 s; every command answers through `in_time`
(defer if the work is slow) and `answer` (ephemeral, never pinging, split at 2000 characters).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

import lightbulb

T = TypeVar("T")

# Discord drops an interaction not answered within 3 s: the bot answers or defers by then.
ANSWER_WITHIN_S = 2.0
CONTENT_MAX = 2000
NONE_MENTIONS: dict[str, Any] = {
    "mentions_everyone": False,
    "user_mentions": False,
    "role_mentions": False,
}


def guild_of(ctx: lightbulb.Context) -> int:
    """The server the command runs in (admin commands' hook already refused DMs)."""
    if ctx.guild_id is None or ctx.member is None:
        raise lightbulb.exceptions.ExecutionException("use this command in a server")
    return int(ctx.guild_id)


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def chunk_lines(lines: Iterable[str], limit: int = CONTENT_MAX) -> list[str]:
    """Lines packed into messages of at most `limit` characters (a line too long is cut)."""
    chunks: list[str] = []
    current = ""
    for raw in lines:
        line = cut(raw, limit)
        if current and len(current) + 1 + len(line) > limit:
            chunks.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        chunks.append(current)
    return chunks


async def answer(ctx: lightbulb.Context, *lines: str) -> None:
    """Ephemeral, mentions never ping, and long answers are split over follow-ups."""
    for chunk in chunk_lines(lines):
        await ctx.respond(chunk, ephemeral=True, **NONE_MENTIONS)


async def in_time(ctx: lightbulb.Context, work: Awaitable[T]) -> T:
    """Run `work`, deferring the (ephemeral) answer if it is not done within `ANSWER_WITHIN_S`.

    Changes go through Discord (refreshing a posted panel, setting a channel's access), which a
    rate limit or a slow Discord can hold past the 3 s an interaction may go unanswered.
    """
    task = asyncio.ensure_future(work)
    try:
        await asyncio.wait_for(asyncio.shield(task), ANSWER_WITHIN_S)
    except TimeoutError:
        await ctx.defer(ephemeral=True)
    return await task
