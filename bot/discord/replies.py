"""Messages in ticket channels, for the staff stats: the first staff reply is recorded when it is
written. The author is read from the member index (no REST call per message); the message itself
carries the author's member, so the index learns them first when it did not know them yet (a
server whose members are still arriving in chunks)."""

from __future__ import annotations

import hikari

from bot.core.access import MemberDirectory
from bot.core.stats import FirstReplies
from bot.discord.members import MemberIndex


def watch_replies(
    bot: hikari.GatewayBot, replies: FirstReplies, members: MemberDirectory, index: MemberIndex
) -> None:
    async def message_created(event: hikari.GuildMessageCreateEvent) -> None:
        if event.is_bot or event.is_webhook:
            return
        guild_id, author_id = int(event.guild_id), int(event.author_id)
        if event.member is not None and index.get(guild_id, author_id) is None:
            index.remember(guild_id, event.member)
        await replies.message(int(event.channel_id), members.member(guild_id, author_id))

    bot.subscribe(hikari.GuildMessageCreateEvent, message_created)
