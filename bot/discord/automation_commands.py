"""Commands for tickets that look after themselves: `/ticket close-request`, `/ticket exempt`,
`/settings inactivity`, `/settings opener-left`, `/panel button overflow` and
`/panel button inactivity`. They join the existing groups; this module's own Loader is empty
because the groups are loaded with their home modules (imported first, so they carry these).

(No `from __future__ import annotations` here: lightbulb reads the `invoke` annotations at runtime
to inject services.)
"""

import hikari
import lightbulb

from bot.core.admin import Settings
from bot.core.automation import Automation, parse_after
from bot.core.errors import AdminError
from bot.core.lifecycle import REASON_MAX
from bot.core.panels import PanelService
from bot.discord.admin import _guild
from bot.discord.panel_commands import (
    CATEGORY_TYPES,
    _answer,
    _button_option,
    _in_time,
    button,
    check_category,
)
from bot.discord.ticket_commands import _here, settings, ticket

loader = lightbulb.Loader()

HOURS_MAX = 24 * 365.0


def _hours(value: float) -> str:
    return f"{value:g} hour" + ("" if value == 1 else "s")


@ticket.register
class TicketCloseRequest(
    lightbulb.SlashCommand,
    name="close-request",
    description="Ask the opener whether this ticket can be closed",
):
    reason = lightbulb.string(
        "reason",
        "Why (shown to the opener, kept as the close reason)",
        default=None,
        max_length=REASON_MAX,
    )
    after = lightbulb.string(
        "after",
        "Close by itself if the opener doesn't answer in time: 30m, 12h, 2d",
        default=None,
        max_length=20,
    )

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, automation: Automation) -> None:
        _, channel_id, actor = _here(ctx)
        after_s = parse_after(self.after)
        asked = await _in_time(
            ctx, automation.request_close(channel_id, actor, self.reason, after_s)
        )
        extra = f" It closes by itself after {self.after} without an answer." if after_s else ""
        await _answer(ctx, f"Asked <@{asked.user_id}> whether the ticket can be closed.{extra}")


@ticket.register
class TicketExempt(
    lightbulb.SlashCommand,
    name="exempt",
    description="Keep this ticket from closing for inactivity (or undo that)",
):
    exempt = lightbulb.boolean("exempt", "True: never auto-close it; False: as usual", default=True)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, automation: Automation) -> None:
        _, channel_id, actor = _here(ctx)
        await automation.exempt(channel_id, actor, self.exempt)
        await _answer(
            ctx,
            "This ticket won't close for inactivity."
            if self.exempt
            else "This ticket closes for inactivity like the others again.",
        )


@settings.register
class SettingsInactivity(
    lightbulb.SlashCommand,
    name="inactivity",
    description="Warn, then close tickets whose opener stays silent (0 hours: off)",
):
    warn_hours = lightbulb.number(
        "warn_hours",
        "Hours without a message from the opener before a warning; 0: off",
        min_value=0,
        max_value=HOURS_MAX,
    )
    close_hours = lightbulb.number(
        "close_hours",
        "Hours after the warning before the ticket closes (default 24)",
        default=None,
        min_value=0.01,
        max_value=HOURS_MAX,
    )

    @lightbulb.invoke
    async def invoke(
        self, ctx: lightbulb.Context, service: Settings, automation: Automation
    ) -> None:
        guild = _guild(ctx)
        changes: dict[str, float | None] = {"inactivity_warn_hours": self.warn_hours or None}
        if self.close_hours is not None:
            changes["inactivity_close_hours"] = self.close_hours
        changed = await service.change(guild, **changes)
        await automation.settings_changed(guild)
        if changed.inactivity_warn_hours is None:
            await _answer(
                ctx, "Inactivity auto-close is off (buttons with their own hours keep them)."
            )
            return
        await _answer(
            ctx,
            f"Tickets get a warning after {_hours(changed.inactivity_warn_hours)} without a "
            f"message from their opener, and close {_hours(changed.inactivity_close_hours)} "
            "later (reason “inactive”). Open tickets count from now; staff can "
            "`/ticket exempt` one.",
        )


_LEFT_CHOICES: list[lightbulb.Choice[str]] = [
    lightbulb.Choice("keep the ticket and say so in it", "keep"),
    lightbulb.Choice("close the ticket (reason “opener left”)", "close"),
]


@settings.register
class SettingsOpenerLeft(
    lightbulb.SlashCommand,
    name="opener-left",
    description="What happens to a ticket when its opener leaves the server",
):
    mode = lightbulb.string("mode", "keep or close", choices=_LEFT_CHOICES)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, service: Settings) -> None:
        guild = _guild(ctx)
        await service.change(guild, opener_left=self.mode)
        await _answer(
            ctx,
            "When an opener leaves, their tickets close (reason “opener left”)."
            if self.mode == "close"
            else "When an opener leaves, their tickets stay open and the bot says so in them.",
        )


@button.register
class ButtonOverflow(
    lightbulb.SlashCommand,
    name="overflow",
    description="Categories to use, in order, when the button's category is full",
):
    button_id = _button_option()
    first = lightbulb.channel(
        "first", "First overflow category", default=None, channel_types=CATEGORY_TYPES
    )
    second = lightbulb.channel(
        "second", "Second overflow category", default=None, channel_types=CATEGORY_TYPES
    )
    third = lightbulb.channel(
        "third", "Third overflow category", default=None, channel_types=CATEGORY_TYPES
    )

    @lightbulb.invoke
    async def invoke(
        self, ctx: lightbulb.Context, panels: PanelService, bot: hikari.GatewayBot
    ) -> None:
        guild = _guild(ctx)
        picked = [c for c in (self.first, self.second, self.third) if c is not None]
        ids = tuple(dict.fromkeys(check_category(bot, guild, c) for c in picked))
        edited = await _in_time(
            ctx, panels.edit_button(guild, self.button_id, overflow_category_ids=ids)
        )
        if not ids:
            await _answer(
                ctx,
                f"**{edited.label}** has no overflow categories: when its category is full the "
                "bot creates the next one itself.",
            )
            return
        order = ", ".join(f"<#{c}>" for c in ids)
        await _answer(ctx, f"When its category is full, **{edited.label}** uses {order}, in order.")


@button.register
class ButtonInactivity(
    lightbulb.SlashCommand,
    name="inactivity",
    description="This button's own inactivity auto-close (overrides the server's)",
):
    button_id = _button_option()
    warn_hours = lightbulb.number(
        "warn_hours",
        "Hours before the warning; 0: never for this button",
        default=None,
        min_value=0,
        max_value=HOURS_MAX,
    )
    close_hours = lightbulb.number(
        "close_hours",
        "Hours after the warning before it closes",
        default=None,
        min_value=0.01,
        max_value=HOURS_MAX,
    )
    server = lightbulb.boolean(
        "use_server", "True: forget this button's hours, use the server's", default=False
    )

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, panels: PanelService) -> None:
        guild = _guild(ctx)
        changes: dict[str, float | None]
        if self.server:
            changes = {"inactivity_warn_hours": None, "inactivity_close_hours": None}
        elif self.warn_hours is None and self.close_hours is None:
            raise AdminError("give warn_hours, close_hours, or use_server:True")
        else:
            changes = {}
            if self.warn_hours is not None:
                changes["inactivity_warn_hours"] = self.warn_hours
            if self.close_hours is not None:
                changes["inactivity_close_hours"] = self.close_hours
        edited = await _in_time(ctx, panels.edit_button(guild, self.button_id, **changes))
        if edited.inactivity_warn_hours is None:
            what = "uses the server's inactivity setting"
        elif edited.inactivity_warn_hours == 0:
            what = "never closes for inactivity"
        else:
            close = edited.inactivity_close_hours
            later = f", closes {_hours(close)} later" if close else ""
            what = f"warns after {_hours(edited.inactivity_warn_hours)} of silence{later}"
        await _answer(ctx, f"Tickets from **{edited.label}** {what} (for tickets opened from now).")


@settings.register
class SettingsFeedback(
    lightbulb.SlashCommand,
    name="feedback",
    description="Whether openers are asked by DM to rate the support when their ticket closes",
):
    enabled = lightbulb.boolean("enabled", "On (True) or off (False)")

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, service: Settings) -> None:
        await service.change(_guild(ctx), feedback=self.enabled)
        await _answer(
            ctx,
            "When a ticket closes, its opener is asked by DM to rate the support (1 to 5 stars and "
            "an optional comment); ratings go to the log channel and the transcript."
            if self.enabled
            else "Openers are no longer asked for feedback.",
        )
