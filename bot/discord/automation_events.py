"""The Discord side of tickets that look after themselves: the close request's buttons (routed by
custom_id prefix, so they work after a restart), messages that count as the opener's activity,
and members leaving."""

from __future__ import annotations

import logging

import hikari

from bot.core.automation import CLOSE_REQUEST_PREFIX, Automation, parse_close_request_id
from bot.core.errors import TicketError
from bot.discord.errors import GONE, member_message
from bot.discord.router import ComponentHandler

_LOG = logging.getLogger("rimpllee.automation")
EPHEMERAL = hikari.MessageFlag.EPHEMERAL


def close_request_buttons(automation: Automation) -> dict[str, ComponentHandler]:
    """`rmp:creq:yes|no:<ticket>` for the interaction router."""

    async def answer(interaction: hikari.ComponentInteraction) -> None:
        parsed = parse_close_request_id(interaction.custom_id)
        if parsed is None:
            await _reply(interaction, GONE)
            return
        accepted, ticket_id = parsed
        channel_id, user_id = int(interaction.channel_id), int(interaction.user.id)
        try:
            request = await automation.take_answer(ticket_id, channel_id, user_id)
        except TicketError as refusal:
            await _reply(interaction, member_message(refusal))
            return
        if not accepted:
            await automation.keep(request, channel_id, user_id)
            await _reply(interaction, "The ticket stays open; the staff were told.")
            return
        # Closing reads the whole history: answer within Discord's 3 s first.
        await _reply(interaction, "Closing the ticket and saving its transcript…")
        try:
            await automation.accept(request, channel_id, user_id)
        except TicketError as exc:
            await interaction.edit_initial_response(f"The ticket was not closed: {exc}")

    return {CLOSE_REQUEST_PREFIX: answer}


def watch_activity(bot: hikari.GatewayBot, automation: Automation) -> None:
    """Messages (the opener's count as activity) and members leaving (their tickets)."""

    async def message_created(event: hikari.GuildMessageCreateEvent) -> None:
        if event.is_human:
            await automation.message(int(event.channel_id), int(event.author_id))

    async def member_left(event: hikari.MemberDeleteEvent) -> None:
        await automation.member_left(int(event.guild_id), int(event.user_id))

    # Without an intent Discord never sends the event (hikari warns about listening for it):
    # without GUILD_MESSAGES nothing counts as the opener's activity, and without GUILD_MEMBERS
    # leavers are only found by the check at startup.
    if hikari.Intents.GUILD_MESSAGES in bot.intents:
        bot.subscribe(hikari.GuildMessageCreateEvent, message_created)
    else:
        _LOG.warning(
            "the GUILD_MESSAGES intent is off: inactivity auto-close can't see the opener's "
            "messages, and their messages don't cancel a close request's timer"
        )
    if hikari.Intents.GUILD_MEMBERS in bot.intents:
        bot.subscribe(hikari.MemberDeleteEvent, member_left)


async def _reply(interaction: hikari.ComponentInteraction, text: str) -> None:
    await interaction.create_initial_response(
        hikari.ResponseType.MESSAGE_CREATE, text, flags=EPHEMERAL
    )
