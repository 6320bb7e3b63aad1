"""`/ticket …` (working a ticket, run in its channel) and `/settings …` (Manage Server only).

Every member sees `/ticket`: `LifecycleService` decides who may do what (the ticket button's support
roles, members with Manage Channels, the opener for closing) and its refusals (`AdminError`,
`PermissionError`) become an ephemeral line through the client-wide error handler in
`bot.discord.admin`. Answers are ephemeral, except the public line `/ticket claim` and `unclaim`
post so the opener knows who handles their ticket.

Role, channel and category options are Discord's own role and channel options (pickers); the
picked object is judged by its ID against the bot's cache with `bot.discord.panel_commands`'
helpers, so a channel of the wrong type or one the bot cannot use is refused even if sent.

(No `from __future__ import annotations` here: lightbulb reads the `invoke` annotations at runtime
to inject services.)
"""

import hikari
import lightbulb

from bot.core.admin import Settings
from bot.core.errors import AdminError, TicketError
from bot.core.lifecycle import REASON_MAX, Actor, LifecycleService, Target
from bot.core.models import ServerSettings, Ticket
from bot.core.tickets import CHANNEL_NAME_MAX
from bot.discord.admin import MANAGE_GUILD, _guild
from bot.discord.panel_commands import (
    CATEGORY_TYPES,
    NONE_MENTIONS,
    POSTABLE,
    POSTABLE_TYPES,
    _answer,
    _cached_channel,
    _in_time,
    _require,
    check_category,
    check_role,
)
from bot.discord.router import actor_of, close_and_report

loader = lightbulb.Loader()

# What the bot needs in the log channel: it posts events, and closed tickets' transcripts as files.
LOG_PERMS = (
    hikari.Permissions.VIEW_CHANNEL
    | hikari.Permissions.SEND_MESSAGES
    | hikari.Permissions.ATTACH_FILES
)
# Discord's upload limit for a bot's message on a server without boosts.
ATTACHMENT_MAX = 10 * 1024 * 1024
USER_MAX_OPEN_MAX = 25


# -- where a /ticket command runs ---------------------------------------------------------------


def _here(ctx: lightbulb.Context) -> tuple[int, int, Actor]:
    """The server, the channel the command runs in (the ticket, if it is one) and who runs it."""
    if ctx.guild_id is None or ctx.member is None:
        raise lightbulb.exceptions.ExecutionException("use this command in a ticket channel")
    return int(ctx.guild_id), int(ctx.channel_id), actor_of(ctx.interaction)


def _number(ticket: Ticket) -> str:
    return f"#{ticket.number:04d}"


def _target(
    bot: hikari.GatewayBot,
    guild_id: int,
    member: hikari.User | None,
    role: hikari.Role | None,
    *,
    removing: bool = False,
) -> tuple[int, Target, str]:
    """Who `/ticket add` or `remove` is about: a member or a role, and how to mention it."""
    if (member is None) == (role is None):
        raise AdminError("give either `member` or `role` (one of them)")
    if member is not None:
        me = bot.get_me()
        if me is not None and member.id == me.id:
            raise AdminError("the bot always keeps its access to its tickets")
        return int(member.id), "member", f"<@{int(member.id)}>"
    assert role is not None
    if int(role.id) == guild_id:  # Discord's role picker offers @everyone
        raise AdminError(
            "@everyone can't be added to or removed from a ticket: that would show it to the "
            "whole server"
        )
    # Taking access away needs no check (Discord drops a deleted role's overwrites itself).
    role_id = int(role.id) if removing else check_role(bot, guild_id, role)
    return role_id, "role", f"<@&{role_id}>"


def _member_option(what: str) -> hikari.User | None:
    return lightbulb.user("member", f"The member to {what}", default=None)


def _role_option(what: str) -> hikari.Role | None:
    return lightbulb.role("role", f"The role to {what}", default=None)


# -- /ticket …  ---------------------------------------------------------------------------------

ticket = lightbulb.Group("ticket", "Work on this ticket: claim it, add people, close it…")


@ticket.register
class TicketClose(
    lightbulb.SlashCommand, name="close", description="Close this ticket; its transcript is saved"
):
    reason = lightbulb.string(
        "reason", "Why (goes to the log and the transcript)", default=None, max_length=REASON_MAX
    )

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, lifecycle: LifecycleService) -> None:
        _, channel_id, actor = _here(ctx)
        # Refuse at once (ephemeral line) before answering "Closing…".
        await lifecycle.can_close(await lifecycle.ticket(channel_id), actor)
        await close_and_report(lifecycle, ctx.interaction, channel_id, self.reason)


@ticket.register
class TicketClaim(
    lightbulb.SlashCommand, name="claim", description="Take this ticket: you handle it"
):
    @lightbulb.invoke
    async def invoke(
        self, ctx: lightbulb.Context, lifecycle: LifecycleService, settings: Settings
    ) -> None:
        _, channel_id, actor = _here(ctx)
        claimed = await _in_time(ctx, lifecycle.claim(channel_id, actor))
        locked = (await settings.get(claimed.guild_id)).claim_locks
        extra = (
            " The rest of the support team can read it but not write until you `/ticket unclaim`."
            if locked
            else ""
        )
        await _answer(ctx, f"You now handle ticket {_number(claimed)}.{extra}")
        await ctx.respond(f"🙋 <@{actor.user_id}> is handling this ticket.", **NONE_MENTIONS)


@ticket.register
class TicketUnclaim(
    lightbulb.SlashCommand, name="unclaim", description="Hand this ticket back to the team"
):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, lifecycle: LifecycleService) -> None:
        _, channel_id, actor = _here(ctx)
        released = await _in_time(ctx, lifecycle.unclaim(channel_id, actor))
        claimer = released.claimed_by
        by = f" (unclaimed by <@{actor.user_id}>)" if claimer != actor.user_id else ""
        await _answer(ctx, f"Ticket {_number(released)} is unclaimed: the whole team handles it.")
        await ctx.respond(f"👋 <@{claimer}> no longer handles this ticket{by}.", **NONE_MENTIONS)


@ticket.register
class TicketAdd(
    lightbulb.SlashCommand, name="add", description="Let a member or a role see this ticket"
):
    member = _member_option("add")
    role = _role_option("add")

    @lightbulb.invoke
    async def invoke(
        self, ctx: lightbulb.Context, lifecycle: LifecycleService, bot: hikari.GatewayBot
    ) -> None:
        guild, channel_id, actor = _here(ctx)
        target_id, kind, mention = _target(bot, guild, self.member, self.role)
        await _in_time(ctx, lifecycle.add(channel_id, actor, target_id, kind))
        await _answer(ctx, f"{mention} can now see and write in this ticket.")


@ticket.register
class TicketRemove(
    lightbulb.SlashCommand, name="remove", description="Take a member or a role off this ticket"
):
    member = _member_option("remove")
    role = _role_option("remove")

    @lightbulb.invoke
    async def invoke(
        self, ctx: lightbulb.Context, lifecycle: LifecycleService, bot: hikari.GatewayBot
    ) -> None:
        guild, channel_id, actor = _here(ctx)
        target_id, _, mention = _target(bot, guild, self.member, self.role, removing=True)
        await _in_time(ctx, lifecycle.remove(channel_id, actor, target_id))
        await _answer(ctx, f"{mention} no longer has its own access to this ticket.")


@ticket.register
class TicketRename(lightbulb.SlashCommand, name="rename", description="Rename this ticket"):
    name = lightbulb.string("name", "The new channel name", max_length=CHANNEL_NAME_MAX)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, lifecycle: LifecycleService) -> None:
        _, channel_id, actor = _here(ctx)
        clean = await _in_time(ctx, lifecycle.rename(channel_id, actor, self.name))
        await _answer(ctx, f"Renamed this ticket to `{clean}`.")


@ticket.register
class TicketTranscript(
    lightbulb.SlashCommand,
    name="transcript",
    description="This ticket's conversation so far, as an HTML file",
):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, lifecycle: LifecycleService) -> None:
        _, channel_id, actor = _here(ctx)
        file = await _in_time(ctx, lifecycle.transcript(channel_id, actor))
        data = file.html.encode()
        if len(data) > ATTACHMENT_MAX:
            raise AdminError(
                f"the transcript is {len(data) / 1024 / 1024:.1f} MB, more than Discord takes as "
                "an attachment; it was saved with the bot's transcripts on its host"
            )
        await ctx.respond(
            f"Transcript of this ticket so far: `{file.filename}`",
            ephemeral=True,
            attachment=hikari.Bytes(data, file.filename, mimetype="text/html"),
            **NONE_MENTIONS,
        )


@ticket.register
class TicketReopen(
    lightbulb.SlashCommand, name="reopen", description="Reopen this archived ticket"
):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, lifecycle: LifecycleService) -> None:
        _, channel_id, actor = _here(ctx)
        reopened = await _in_time(ctx, lifecycle.reopen(channel_id, actor))
        await _answer(
            ctx, f"Ticket {_number(reopened)} is open again; <@{reopened.user_id}> sees it again."
        )


@ticket.register
class TicketDelete(
    lightbulb.SlashCommand, name="delete", description="Delete this closed, archived ticket"
):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, lifecycle: LifecycleService) -> None:
        _, channel_id, actor = _here(ctx)
        found = await lifecycle.ticket(channel_id, state=None)
        # Answer before the channel (where the interaction happened) is gone.
        answer = await ctx.respond(
            f"Deleting ticket {_number(found)}; its transcript stays saved.", ephemeral=True
        )
        try:
            await lifecycle.delete(channel_id, actor)
        except (TicketError, PermissionError) as refusal:
            await ctx.edit_response(answer, f"The ticket was not deleted: {refusal}")


# -- /settings …  -------------------------------------------------------------------------------


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


def check_log_channel(bot: hikari.GatewayBot, guild_id: int, picked: hikari.PartialChannel) -> int:
    """A text channel of this server where the bot can post events and transcript files."""
    channel = _cached_channel(bot, guild_id, picked, "channel")
    if not isinstance(channel, POSTABLE):
        raise AdminError(f"{channel.name!r} is not a text channel; the log is posted in one")
    _require(bot, channel, LOG_PERMS, "to post ticket events and transcripts")
    return int(channel.id)


settings = lightbulb.Group(
    "settings", "How tickets behave on this server", default_member_permissions=MANAGE_GUILD
)


@settings.register
class SettingsShow(
    lightbulb.SlashCommand, name="show", description="This server's ticket settings"
):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, service: Settings) -> None:
        await _answer(ctx, *describe_settings(await service.get(_guild(ctx))))


@settings.register
class SettingsLogChannel(
    lightbulb.SlashCommand,
    name="log-channel",
    description="Where ticket events and transcripts are posted; no channel: log off",
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
        guild = _guild(ctx)
        channel_id = (
            check_log_channel(bot, guild, self.channel) if self.channel is not None else None
        )
        await service.change(guild, log_channel_id=channel_id)
        if channel_id is None:
            await _answer(ctx, "Ticket log turned off.")
        else:
            await _answer(
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
        guild = _guild(ctx)
        if self.mode == "delete" and self.archive_category is not None:
            raise AdminError("archive_category only applies to the archive mode")
        category_id = (
            check_category(bot, guild, self.archive_category)
            if self.archive_category is not None
            else None
        )
        changed = await service.change(guild, close_mode=self.mode, archive_category_id=category_id)
        await _answer(ctx, f"Closing a ticket now {_closing(changed)}.")


def _switch(
    name: str, description: str, field: str, on: str, off: str
) -> type[lightbulb.SlashCommand]:
    """A `/settings <name> enabled:` command turning a boolean setting on or off."""

    class Switch(lightbulb.SlashCommand, name=name, description=description):
        enabled = lightbulb.boolean("enabled", "On (True) or off (False)")

        @lightbulb.invoke
        async def invoke(self, ctx: lightbulb.Context, service: Settings) -> None:
            guild = _guild(ctx)
            await service.change(guild, **{field: self.enabled})
            await _answer(ctx, on if self.enabled else off)

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
):
    count = lightbulb.integer(
        "count", "Most open tickets per member (1 to 25)", min_value=1, max_value=USER_MAX_OPEN_MAX
    )

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, service: Settings) -> None:
        guild = _guild(ctx)
        await service.change(guild, user_max_open=self.count)
        await _answer(
            ctx,
            f"A member may now have at most {self.count} open ticket(s) on this server "
            "(each button's own limit still applies).",
        )


loader.command(ticket)
loader.command(settings)
