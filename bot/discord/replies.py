"""Messages in ticket channels, for the staff stats: the first staff reply is recorded when it is
written. The member is read from the gateway cache (no REST call per message)."""

from __future__ import annotations

import hikari

from bot.core.access import MemberDirectory
from bot.core.stats import FirstReplies


def watch_replies(bot: hikari.GatewayBot, replies: FirstReplies, members: MemberDirectory) -> None:
    async def message_created(event: hikari.GuildMessageCreateEvent) -> None:
        if event.is_bot or event.is_webhook:
            return
        author = members.member(int(event.guild_id), int(event.author_id))
        await replies.message(int(event.channel_id), author)

    bot.subscribe(hikari.GuildMessageCreateEvent, message_created)
