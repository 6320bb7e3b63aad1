"""Routes panel buttons and intake forms by custom_id prefix, so they survive restarts.

Nothing waits in memory for a click: `rmp:open:<button>` and `rmp:form:<button>` carry all the
router needs, and `TicketService.find_button` reads the button (with its panel, once per step)
when the interaction arrives. Every interaction is answered within Discord's 3 s: the open runs
while the router waits up to `answer_within`; if it is not done by then the router defers
(ephemerally) and follows up. Refusals are worded by the error table (`bot.discord.errors`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

import hikari

from bot.core.errors import TicketError
from bot.core.lifecycle import REASON_MAX, Actor, LifecycleService
from bot.core.models import Answer, Button, OpenedTicket, Panel
from bot.core.numbers import ticket_tag
from bot.core.tickets import TicketService
from bot.discord.errors import GONE, UNEXPECTED, member_message, not_done, open_failed
from bot.discord.interaction import ANSWER_WITHIN_S
from bot.discord.render import (
    CLOSE_FORM_PREFIX,
    CLOSE_PREFIX,
    FORM_PREFIX,
    OPEN_PREFIX,
    question_modal,
)

_LOG = logging.getLogger("rimpllee.discord.router")

ComponentHandler = Callable[[hikari.ComponentInteraction], Awaitable[None]]
FormHandler = Callable[[hikari.ModalInteraction], Awaitable[None]]
PRECHECK_WITHIN_S = 1.0  # before a form: the modal must still go out within 3 s
MODAL_TITLE_MAX = 45
EPHEMERAL = hikari.MessageFlag.EPHEMERAL


class InteractionRouter:
    def __init__(
        self,
        tickets: TicketService,
        lifecycle: LifecycleService,
        *,
        answer_within: float = ANSWER_WITHIN_S,
        components: Mapping[str, ComponentHandler] | None = None,
        forms: Mapping[str, FormHandler] | None = None,
    ) -> None:
        self._components = dict(components or {})  # more custom_id prefixes → their handler
        self._forms = dict(forms or {})
        self._tickets = tickets
        self._lifecycle = lifecycle
        self._answer_within = answer_within

    async def on_interaction(self, event: hikari.InteractionCreateEvent) -> None:
        interaction = event.interaction
        try:
            if isinstance(interaction, hikari.ComponentInteraction):
                await self._on_component(interaction)
            elif isinstance(interaction, hikari.ModalInteraction):
                await self._on_form(interaction)
        except hikari.HTTPError as exc:
            # Discord refused our answer (e.g. the interaction expired): nothing more can be said
            # to the member, and a listener must not crash.
            _LOG.warning("could not answer interaction %s: %s", interaction.id, exc)
        except Exception:
            # A bug or a broken disk must still not leave the member with "interaction failed".
            _LOG.exception("interaction %s failed", interaction.id)
            await _tell_anyway(interaction, UNEXPECTED)

    async def _on_component(self, interaction: hikari.ComponentInteraction) -> None:
        custom_id = interaction.custom_id
        if custom_id.startswith(OPEN_PREFIX):
            await self._on_open(interaction, custom_id.removeprefix(OPEN_PREFIX))
        elif custom_id.startswith(CLOSE_PREFIX):
            await self._on_close(interaction)
        elif handler := next(
            (h for p, h in self._components.items() if custom_id.startswith(p)), None
        ):
            await handler(interaction)
        elif custom_id.startswith("rmp:"):
            await _reply(interaction, GONE)

    async def _on_open(self, interaction: hikari.ComponentInteraction, button_id: str) -> None:
        found = await self._find(interaction, button_id)
        if found is None:
            return
        panel, button = found
        if button.questions:
            # Tell a member who can't open a ticket now before they fill in the form.
            try:
                await asyncio.wait_for(
                    self._tickets.precheck(panel.guild_id, int(interaction.user.id), button),
                    PRECHECK_WITHIN_S,
                )
            except TicketError as refusal:
                await _reply(interaction, member_message(refusal))
                return
            except TimeoutError:
                pass  # show the form in time; the open after it checks everything again
            await interaction.create_modal_response(
                button.label[:MODAL_TITLE_MAX],
                FORM_PREFIX + button.button_id,
                components=question_modal(interaction.app.rest, button),
            )
            return
        await self._open(interaction, panel, button, ())

    async def _on_close(self, interaction: hikari.ComponentInteraction) -> None:
        """The Close button asks for confirmation: a short form with an optional reason."""
        try:
            ticket = await self._lifecycle.ticket(int(interaction.channel_id))
            await self._lifecycle.can_close(ticket, actor_of(interaction))
        except TicketError as refusal:
            await _reply(interaction, member_message(refusal))
            return
        reason = interaction.app.rest.build_modal_action_row().add_text_input(
            "reason",
            "Reason (optional)",
            style=hikari.TextInputStyle.PARAGRAPH,
            required=False,
            max_length=REASON_MAX,
        )
        await interaction.create_modal_response(
            f"Close ticket {ticket_tag(ticket.number)}?",
            CLOSE_FORM_PREFIX + str(ticket.ticket_id),
            components=[reason],
        )

    async def _on_close_form(self, interaction: hikari.ModalInteraction) -> None:
        ticket = await self._lifecycle.ticket(int(interaction.channel_id), state=None)
        if str(ticket.ticket_id) != interaction.custom_id.removeprefix(CLOSE_FORM_PREFIX):
            await _reply(interaction, "This form belongs to another ticket.")
            return
        reason = " ".join(
            item.value
            for row in interaction.components
            for item in getattr(row, "components", ())
            if isinstance(item, hikari.TextInputComponent)
        )
        await close_and_report(self._lifecycle, interaction, int(interaction.channel_id), reason)

    async def _on_form(self, interaction: hikari.ModalInteraction) -> None:
        if interaction.custom_id.startswith(CLOSE_FORM_PREFIX):
            await self._on_close_form(interaction)
            return
        for prefix, handler in self._forms.items():
            if interaction.custom_id.startswith(prefix):
                await handler(interaction)
                return
        if not interaction.custom_id.startswith(FORM_PREFIX):
            return
        found = await self._find(interaction, interaction.custom_id.removeprefix(FORM_PREFIX))
        if found is None:
            return
        panel, button = found
        labels = {q.question_id: q.label for q in button.questions}
        answers = [
            Answer(labels[item.custom_id], item.value)
            for row in interaction.components
            for item in getattr(row, "components", ())
            if isinstance(item, hikari.TextInputComponent) and item.custom_id in labels
        ]
        await self._open(interaction, panel, button, answers)

    async def _find(
        self, interaction: hikari.ComponentInteraction | hikari.ModalInteraction, button_id: str
    ) -> tuple[Panel, Button] | None:
        """The clicked button and its panel; None once the member has been told it is gone."""
        if interaction.guild_id is None:
            await _reply(interaction, GONE)
            return None
        try:
            return await self._tickets.find_button(int(interaction.guild_id), button_id)
        except TicketError as refusal:
            await _reply(interaction, member_message(refusal))
            return None

    async def _open(
        self,
        interaction: hikari.ComponentInteraction | hikari.ModalInteraction,
        panel: Panel,
        button: Button,
        answers: Sequence[Answer],
    ) -> None:
        opening = asyncio.create_task(
            self._tickets.open_from(panel, button, int(interaction.user.id), answers, "button")
        )
        done, _ = await asyncio.wait({opening}, timeout=self._answer_within)
        if opening in done:
            await _reply(interaction, _outcome(opening))
            return
        await interaction.create_initial_response(
            hikari.ResponseType.DEFERRED_MESSAGE_CREATE, flags=EPHEMERAL
        )
        await asyncio.wait({opening})
        await interaction.edit_initial_response(_outcome(opening))


def actor_of(interaction: hikari.PartialInteraction) -> Actor:
    """Who acts, from what Discord says in the interaction (roles and channel permissions)."""
    member = getattr(interaction, "member", None)
    if member is None:
        return Actor(int(interaction.user.id), frozenset(), manages_channels=False)
    perms = member.permissions
    manages = bool(perms & (hikari.Permissions.MANAGE_CHANNELS | hikari.Permissions.ADMINISTRATOR))
    return Actor(int(member.id), frozenset(int(r) for r in member.role_ids), manages)


async def close_and_report(
    lifecycle: LifecycleService,
    interaction: hikari.ModalInteraction | hikari.CommandInteraction,
    channel_id: int,
    reason: str | None,
) -> None:
    """Answer at once (closing reads the whole history), then close; failures follow up."""
    await interaction.create_initial_response(
        hikari.ResponseType.MESSAGE_CREATE,
        "Closing the ticket and saving its transcript…",
        flags=EPHEMERAL,
    )
    try:
        closed = await lifecycle.close(channel_id, actor_of(interaction), reason)
    except TicketError as refusal:
        await interaction.edit_initial_response(not_done("closed", refusal))
        return
    except Exception:
        _LOG.exception("closing the ticket in channel %d failed", channel_id)
        await interaction.edit_initial_response(UNEXPECTED)
        return
    if closed.archived:  # the channel (where this answer is) is still there
        await interaction.edit_initial_response(
            f"Ticket {ticket_tag(closed.number)} is closed and archived; "
            "staff can `/ticket reopen` it."
        )


async def _tell_anyway(interaction: hikari.PartialInteraction, text: str) -> None:
    """Answer if nobody has yet, else replace the answer; give up quietly if Discord won't."""
    if not isinstance(interaction, hikari.ComponentInteraction | hikari.ModalInteraction):
        return
    try:
        await _reply(interaction, text)
    except hikari.HTTPError:
        with contextlib.suppress(hikari.HTTPError):
            await interaction.edit_initial_response(text)


async def _reply(
    interaction: hikari.ComponentInteraction | hikari.ModalInteraction, text: str
) -> None:
    await interaction.create_initial_response(
        hikari.ResponseType.MESSAGE_CREATE, text, flags=EPHEMERAL
    )


def _outcome(opening: asyncio.Task[OpenedTicket]) -> str:
    exc = opening.exception()
    if exc is None:
        return f"Your ticket is open: <#{opening.result().channel_id}>"
    if isinstance(exc, TicketError):
        return open_failed(exc)
    _LOG.error("opening a ticket from a button failed", exc_info=exc)
    return UNEXPECTED
