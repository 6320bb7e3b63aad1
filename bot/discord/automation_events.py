"""The Discord side of tickets that look after themselves: the close request's buttons (routed by
custom_id prefix, so they work after a restart), messages that count as the opener's activity,
and members leaving."""

from __future__ import annotations

import logging

import hikari

from bot.core.automation import CLOSE_REQUEST_PREFIX, Automation, parse_close_request_id
from bot.core.errors import TicketError
from bot.core.feedback import (
    COMMENT_MAX,
    RATE_FORM_PREFIX,
    RATE_PREFIX,
    Feedback,
    parse_rate_id,
    rate_id,
)
from bot.core.numbers import ticket_tag
from bot.discord.errors import GONE, member_message, not_done
from bot.discord.router import ComponentHandler, FormHandler

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
            await interaction.edit_initial_response(not_done("closed", exc))

    return {CLOSE_REQUEST_PREFIX: answer}


def rating_buttons(
    feedback: Feedback,
) -> tuple[dict[str, ComponentHandler], dict[str, FormHandler]]:
    """`rmp:rate:<ticket>:<stars>` (a button of the DM) → the comment form → the rating."""

    async def clicked(interaction: hikari.ComponentInteraction) -> None:
        parsed = parse_rate_id(RATE_PREFIX, interaction.custom_id)
        if parsed is None:
            await _reply(interaction, GONE)
            return
        ticket_id, stars = parsed
        try:
            ticket = await feedback.check(ticket_id, int(interaction.user.id))
        except TicketError as refusal:
            await _reply(interaction, member_message(refusal))
            return
        comment = interaction.app.rest.build_modal_action_row().add_text_input(
            "comment",
            "Anything to add? (optional)",
            style=hikari.TextInputStyle.PARAGRAPH,
            required=False,
            max_length=COMMENT_MAX,
        )
        await interaction.create_modal_response(
            f"Ticket {ticket_tag(ticket.number)}: {'★' * stars}",
            rate_id(RATE_FORM_PREFIX, ticket_id, stars),
            components=[comment],
        )

    async def submitted(interaction: hikari.ModalInteraction) -> None:
        parsed = parse_rate_id(RATE_FORM_PREFIX, interaction.custom_id)
        if parsed is None:
            await _reply(interaction, GONE)
            return
        ticket_id, stars = parsed
        comment = " ".join(
            item.value
            for row in interaction.components
            for item in getattr(row, "components", ())
            if isinstance(item, hikari.TextInputComponent)
        )
        try:
            ticket = await feedback.rate(ticket_id, int(interaction.user.id), stars, comment)
        except TicketError as refusal:
            await _reply(interaction, member_message(refusal))
            return
        await _reply(
            interaction, f"Thank you! You rated ticket {ticket_tag(ticket.number)} {stars}/5."
        )

    return {RATE_PREFIX: clicked}, {RATE_FORM_PREFIX: submitted}


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


async def _reply(
    interaction: hikari.ComponentInteraction | hikari.ModalInteraction, text: str
) -> None:
    await interaction.create_initial_response(
        hikari.ResponseType.MESSAGE_CREATE, text, flags=EPHEMERAL
    )
