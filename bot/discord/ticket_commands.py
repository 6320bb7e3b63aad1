"""`/ticket …`: working a ticket, run in its channel.

Every member sees `/ticket`: `LifecycleService` decides who may do what (the ticket button's support
roles, members with Manage Channels, the opener for closing) and its refusals (`AdminError`,
`NotAllowed`) become an ephemeral line through the error table (`bot.discord.errors`). Answers
are ephemeral, except the public line `/ticket claim` and `unclaim` post so the opener knows who
handles their ticket.

Role options are Discord's own role pickers; the picked role is judged by its ID against the
bot's cache (`bot.discord.guild_checks`), so a role the bot does not know is refused even if sent.

(No `from __future__ import annotations` here: lightbulb reads the `invoke` annotations at runtime
to inject services.)
"""

import hikari
import lightbulb

from bot.core.admin import Settings
from bot.core.automation import Automation, parse_after
from bot.core.errors import AdminError, TicketError
from bot.core.lifecycle import REASON_MAX, Actor, LifecycleService, Target
from bot.core.models import Ticket
from bot.core.numbers import UPLOAD_MAX_BYTES, ticket_tag
from bot.core.tickets import CHANNEL_NAME_MAX
from bot.discord.errors import not_done
from bot.discord.guild_checks import check_role
from bot.discord.interaction import NONE_MENTIONS, answer, in_time
from bot.discord.router import actor_of, close_and_report

loader = lightbulb.Loader()


# -- where a /ticket command runs ---------------------------------------------------------------


def _here(ctx: lightbulb.Context) -> tuple[int, int, Actor]:
    """The server, the channel the command runs in (the ticket, if it is one) and who runs it."""
    if ctx.guild_id is None or ctx.member is None:
        raise lightbulb.exceptions.ExecutionException("use this command in a ticket channel")
    return int(ctx.guild_id), int(ctx.channel_id), actor_of(ctx.interaction)


def _number(ticket: Ticket) -> str:
    return ticket_tag(ticket.number)


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
        claimed = await in_time(ctx, lifecycle.claim(channel_id, actor))
        locked = (await settings.get(claimed.guild_id)).claim_locks
        extra = (
            " The rest of the support team can read it but not write until you `/ticket unclaim`."
            if locked
            else ""
        )
        await answer(ctx, f"You now handle ticket {_number(claimed)}.{extra}")
        await ctx.respond(f"🙋 <@{actor.user_id}> is handling this ticket.", **NONE_MENTIONS)


@ticket.register
class TicketUnclaim(
    lightbulb.SlashCommand, name="unclaim", description="Hand this ticket back to the team"
):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, lifecycle: LifecycleService) -> None:
        _, channel_id, actor = _here(ctx)
        released = await in_time(ctx, lifecycle.unclaim(channel_id, actor))
        claimer = released.claimed_by
        by = f" (unclaimed by <@{actor.user_id}>)" if claimer != actor.user_id else ""
        await answer(ctx, f"Ticket {_number(released)} is unclaimed: the whole team handles it.")
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
        await in_time(ctx, lifecycle.add(channel_id, actor, target_id, kind))
        await answer(ctx, f"{mention} can now see and write in this ticket.")


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
        await in_time(ctx, lifecycle.remove(channel_id, actor, target_id))
        await answer(ctx, f"{mention} no longer has its own access to this ticket.")


@ticket.register
class TicketRename(lightbulb.SlashCommand, name="rename", description="Rename this ticket"):
    name = lightbulb.string("name", "The new channel name", max_length=CHANNEL_NAME_MAX)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, lifecycle: LifecycleService) -> None:
        _, channel_id, actor = _here(ctx)
        clean = await in_time(ctx, lifecycle.rename(channel_id, actor, self.name))
        await answer(ctx, f"Renamed this ticket to `{clean}`.")


@ticket.register
class TicketTranscript(
    lightbulb.SlashCommand,
    name="transcript",
    description="This ticket's conversation so far, as an HTML file",
):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, lifecycle: LifecycleService) -> None:
        _, channel_id, actor = _here(ctx)
        file = await in_time(ctx, lifecycle.transcript(channel_id, actor))
        if file.size > UPLOAD_MAX_BYTES:
            raise AdminError(
                f"the transcript is {file.size / 1024 / 1024:.1f} MB, more than Discord takes as "
                "an attachment; it was saved with the bot's transcripts on its host"
            )
        await ctx.respond(
            f"Transcript of this ticket so far: `{file.filename}`",
            ephemeral=True,
            attachment=hikari.File(file.path, file.filename),
            **NONE_MENTIONS,
        )


@ticket.register
class TicketReopen(
    lightbulb.SlashCommand, name="reopen", description="Reopen this archived ticket"
):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, lifecycle: LifecycleService) -> None:
        _, channel_id, actor = _here(ctx)
        reopened = await in_time(ctx, lifecycle.reopen(channel_id, actor))
        await answer(
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
        answered = await ctx.respond(
            f"Deleting ticket {_number(found)}; its transcript stays saved.", ephemeral=True
        )
        try:
            await lifecycle.delete(channel_id, actor)
        except TicketError as refusal:
            await ctx.edit_response(answered, not_done("deleted", refusal))


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
        asked = await in_time(
            ctx, automation.request_close(channel_id, actor, self.reason, after_s)
        )
        extra = f" It closes by itself after {self.after} without an answer." if after_s else ""
        await answer(ctx, f"Asked <@{asked.user_id}> whether the ticket can be closed.{extra}")


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
        await answer(
            ctx,
            "This ticket won't close for inactivity."
            if self.exempt
            else "This ticket closes for inactivity like the others again.",
        )


loader.command(ticket)
