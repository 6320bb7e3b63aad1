"""`/settings …`: how tickets behave on a server (Manage Server only), answered ephemerally.

Every change goes through `Settings` (core); the log channel and archive category an admin picks
are judged by the bot's cache with `bot.discord.guild_checks`.

(No `from __future__ import annotations` here: lightbulb reads the `invoke` annotations at runtime
to inject services.)
"""

import hikari
import lightbulb

from bot.core.admin import Settings
from bot.core.automation import HOURS_MAX, Automation
from bot.core.errors import AdminError
from bot.core.models import ServerSettings
from bot.core.numbers import OPEN_PER_MEMBER_MAX
from bot.discord.guild_checks import (
    CATEGORY_TYPES,
    MANAGE_GUILD,
    MANAGE_SERVER_ONLY,
    POSTABLE_TYPES,
    check_category,
    check_log_channel,
)
from bot.discord.interaction import answer, guild_of

loader = lightbulb.Loader()
ADMIN = [MANAGE_SERVER_ONLY]


def _on_off(value: bool) -> str:
    return "on" if value else "off"


def _closing(current: ServerSettings) -> str:
    if current.close_mode == "delete":
        return "deletes the channel (the transcript is kept)"
    if current.archive_category_id is not None:
        return (
            "archives: hides it from the opener and moves it to "
            f"<#{current.archive_category_id}>; staff can `/ticket reopen` or `/ticket delete` it"
        )
    return (
        "archives: hides it from the opener where it is; staff can `/ticket reopen` or "
        "`/ticket delete` it"
    )


def describe_settings(current: ServerSettings) -> list[str]:
    """What `/settings show` prints, one line a setting, with the command that changes it."""
    log = f"<#{current.log_channel_id}>" if current.log_channel_id else "off"
    most = (
        str(current.user_max_open)
        if current.user_max_open is not None
        else "the bot's default (limits.user_max_open)"
    )
    return [
        "**Ticket settings of this server**",
        f"• Log channel: {log} · `/settings log-channel`",
        f"• Open tickets per member: {most} · `/settings max-open`",
        f"• Closing: {_closing(current)} · `/settings close-mode`",
        f"• Openers can close their ticket: {_on_off(current.opener_can_close)} · "
        "`/settings opener-can-close`",
        f"• Transcript sent to the opener by DM: {_on_off(current.dm_transcript)} · "
        "`/settings dm-transcript`",
        f"• Claiming locks the ticket to the claimer: {_on_off(current.claim_locks)} · "
        "`/settings claim-locks`",
        f"• Inactivity auto-close: {_inactivity(current)} · `/settings inactivity`",
        f"• When the opener leaves: {current.opener_left} the ticket · `/settings opener-left`",
        f"• Openers asked to rate the support: {_on_off(current.feedback)} · `/settings feedback`",
    ]


def _inactivity(current: ServerSettings) -> str:
    if current.inactivity_warn_hours is None:
        return "off"
    return (
        f"warn after {current.inactivity_warn_hours:g} h without the opener, close "
        f"{current.inactivity_close_hours:g} h later"
    )


def _hours(value: float) -> str:
    return f"{value:g} hour" + ("" if value == 1 else "s")


settings = lightbulb.Group(
    "settings", "How tickets behave on this server", default_member_permissions=MANAGE_GUILD
)


@settings.register
class SettingsShow(
    lightbulb.SlashCommand, name="show", description="This server's ticket settings", hooks=ADMIN
):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, service: Settings) -> None:
        await answer(ctx, *describe_settings(await service.get(guild_of(ctx))))


@settings.register
class SettingsLogChannel(
    lightbulb.SlashCommand,
    name="log-channel",
    description="Where ticket events and transcripts are posted; no channel: log off",
    hooks=ADMIN,
):
    channel = lightbulb.channel(
        "channel",
        "Text or announcement channel; leave out to turn the log off",
        default=None,
        channel_types=POSTABLE_TYPES,
    )

    @lightbulb.invoke
    async def invoke(
        self, ctx: lightbulb.Context, service: Settings, bot: hikari.GatewayBot
    ) -> None:
        guild = guild_of(ctx)
        channel_id = (
            check_log_channel(bot, guild, self.channel) if self.channel is not None else None
        )
        await service.change(guild, log_channel_id=channel_id)
        if channel_id is None:
            await answer(ctx, "Ticket log turned off.")
        else:
            await answer(
                ctx,
                f"Ticket events (opened, claimed, closed with the transcript, …) go to "
                f"<#{channel_id}>.",
            )


_MODE_CHOICES: list[lightbulb.Choice[str]] = [
    lightbulb.Choice("delete the channel", "delete"),
    lightbulb.Choice("archive: hide it from the opener, staff can reopen", "archive"),
]


@settings.register
class SettingsCloseMode(
    lightbulb.SlashCommand,
    name="close-mode",
    description="What closing a ticket does to its channel",
    hooks=ADMIN,
):
    mode = lightbulb.string("mode", "delete or archive", choices=_MODE_CHOICES)
    archive_category = lightbulb.channel(
        "archive_category",
        "Archive only: move closed tickets to this category (leave out: they stay in place)",
        default=None,
        channel_types=CATEGORY_TYPES,
    )

    @lightbulb.invoke
    async def invoke(
        self, ctx: lightbulb.Context, service: Settings, bot: hikari.GatewayBot
    ) -> None:
        guild = guild_of(ctx)
        if self.mode == "delete" and self.archive_category is not None:
            raise AdminError("archive_category only applies to the archive mode")
        category_id = (
            check_category(bot, guild, self.archive_category)
            if self.archive_category is not None
            else None
        )
        changed = await service.change(guild, close_mode=self.mode, archive_category_id=category_id)
        await answer(ctx, f"Closing a ticket now {_closing(changed)}.")


def _switch(
    name: str, description: str, field: str, on: str, off: str
) -> type[lightbulb.SlashCommand]:
    """A `/settings <name> enabled:` command turning a boolean setting on or off."""

    class Switch(lightbulb.SlashCommand, name=name, description=description, hooks=ADMIN):
        enabled = lightbulb.boolean("enabled", "On (True) or off (False)")

        @lightbulb.invoke
        async def invoke(self, ctx: lightbulb.Context, service: Settings) -> None:
            guild = guild_of(ctx)
            await service.change(guild, **{field: self.enabled})
            await answer(ctx, on if self.enabled else off)

    return Switch


settings.register(
    _switch(
        "opener-can-close",
        "Whether openers may close their own ticket",
        "opener_can_close",
        "Openers can close their own tickets.",
        "Only the staff can close tickets now.",
    )
)
settings.register(
    _switch(
        "dm-transcript",
        "Whether the opener gets the transcript by DM when their ticket closes",
        "dm_transcript",
        "Openers get their ticket's transcript by DM when it closes (if they accept DMs).",
        "Openers no longer get transcripts by DM.",
    )
)
settings.register(
    _switch(
        "claim-locks",
        "Whether claiming a ticket leaves the rest of the team read-only",
        "claim_locks",
        "Claiming a ticket now leaves the rest of the support team read-only in it "
        "(for tickets claimed from now on).",
        "Claiming no longer locks tickets (for tickets claimed from now on).",
    )
)


@settings.register
class SettingsMaxOpen(
    lightbulb.SlashCommand,
    name="max-open",
    description="How many tickets a member may have open on this server",
    hooks=ADMIN,
):
    count = lightbulb.integer(
        "count",
        f"Most open tickets per member (1 to {OPEN_PER_MEMBER_MAX})",
        min_value=1,
        max_value=OPEN_PER_MEMBER_MAX,
    )

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, service: Settings) -> None:
        guild = guild_of(ctx)
        await service.change(guild, user_max_open=self.count)
        await answer(
            ctx,
            f"A member may now have at most {self.count} open ticket(s) on this server "
            "(each button's own limit still applies).",
        )


@settings.register
class SettingsInactivity(
    lightbulb.SlashCommand,
    name="inactivity",
    description="Warn, then close tickets whose opener stays silent (0 hours: off)",
    hooks=ADMIN,
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
        guild = guild_of(ctx)
        changes: dict[str, float | None] = {"inactivity_warn_hours": self.warn_hours or None}
        if self.close_hours is not None:
            changes["inactivity_close_hours"] = self.close_hours
        changed = await service.change(guild, **changes)
        await automation.settings_changed(guild)
        if changed.inactivity_warn_hours is None:
            await answer(
                ctx, "Inactivity auto-close is off (buttons with their own hours keep them)."
            )
            return
        await answer(
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
    hooks=ADMIN,
):
    mode = lightbulb.string("mode", "keep or close", choices=_LEFT_CHOICES)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, service: Settings) -> None:
        await service.change(guild_of(ctx), opener_left=self.mode)
        await answer(
            ctx,
            "When an opener leaves, their tickets close (reason “opener left”)."
            if self.mode == "close"
            else "When an opener leaves, their tickets stay open and the bot says so in them.",
        )


settings.register(
    _switch(
        "feedback",
        "Whether openers are asked by DM to rate the support when their ticket closes",
        "feedback",
        "When a ticket closes, its opener is asked by DM to rate the support (1 to 5 stars and "
        "an optional comment); ratings go to the log channel and the transcript.",
        "Openers are no longer asked for feedback.",
    )
)


loader.command(settings)
