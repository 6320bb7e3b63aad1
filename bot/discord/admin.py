"""Admin slash commands: `/apikey …` and `/blacklist …`, Manage Server only, answered ephemerally.

(No `from __future__ import annotations` here: lightbulb reads the `invoke` annotations at runtime
to inject services.)
"""

import datetime

import hikari
import lightbulb

from bot.core.access import MemberView, Right, may
from bot.core.admin import ApiKeys, Blacklist
from bot.core.errors import TicketError

loader = lightbulb.Loader()

MANAGE_GUILD = hikari.Permissions.MANAGE_GUILD


def _guild(ctx: lightbulb.Context) -> int:
    """The server the command runs in; refuses DMs and members without Manage Server."""
    member = ctx.member
    if ctx.guild_id is None or member is None:
        raise lightbulb.exceptions.ExecutionException("use this command in a server")
    view = MemberView(
        guild_id=int(ctx.guild_id),
        user_id=int(member.id),
        is_owner=False,  # Discord's interaction permissions already count the owner's
        permissions=int(member.permissions),
        role_ids=frozenset(int(r) for r in member.role_ids),
    )
    if not may(view, Right.MANAGE_SERVER):  # the one rule every door asks
        raise PermissionError("you need the Manage Server permission for this command")
    return int(ctx.guild_id)


def _when(timestamp: float) -> str:
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    return f"<t:{int(moment.timestamp())}:f>"


apikey = lightbulb.Group(
    "apikey", "The server's key for the Rimpllee REST API", default_member_permissions=MANAGE_GUILD
)


@apikey.register
class ApiKeyGenerate(
    lightbulb.SlashCommand, name="generate", description="Create the API key (shown once)"
):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, keys: ApiKeys) -> None:
        key = await keys.generate(_guild(ctx), int(ctx.user.id))
        await ctx.respond(
            f"Your API key (shown only this once — store it now):\n`{key}`\n"
            "Send it as `Authorization: Bearer <key>` or `x-api-key: <key>`.",
            ephemeral=True,
        )


@apikey.register
class ApiKeyRegenerate(
    lightbulb.SlashCommand,
    name="regenerate",
    description="Replace the API key; the old one stops working at once",
):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, keys: ApiKeys) -> None:
        key = await keys.regenerate(_guild(ctx), int(ctx.user.id))
        await ctx.respond(
            f"New API key (shown only this once; the old key no longer works):\n`{key}`",
            ephemeral=True,
        )


@apikey.register
class ApiKeyRevoke(
    lightbulb.SlashCommand, name="revoke", description="Delete the API key: API access off"
):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, keys: ApiKeys) -> None:
        await keys.revoke(_guild(ctx), int(ctx.user.id))
        await ctx.respond("API key revoked: the API refuses it from now on.", ephemeral=True)


@apikey.register
class ApiKeyStatus(
    lightbulb.SlashCommand, name="status", description="Whether the server has an API key"
):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, keys: ApiKeys) -> None:
        info = await keys.status(_guild(ctx))
        if info is None:
            text = "No API key. Create one with `/apikey generate`."
        else:
            by = f" by <@{info.created_by}>" if info.created_by else ""
            text = (
                f"API key `{info.display_prefix}` is active (created {_when(info.created_at)}{by})."
            )
        await ctx.respond(text, ephemeral=True)


blacklist = lightbulb.Group(
    "blacklist", "Members who may not open tickets", default_member_permissions=MANAGE_GUILD
)


@blacklist.register
class BlacklistAdd(lightbulb.SlashCommand, name="add", description="Stop a member opening tickets"):
    user = lightbulb.user("user", "The member to blacklist")
    reason = lightbulb.string("reason", "Why (for the staff)", default=None, max_length=200)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, entries: Blacklist) -> None:
        await entries.add(_guild(ctx), int(self.user.id), int(ctx.user.id), self.reason)
        await ctx.respond(f"{self.user.mention} can no longer open tickets.", ephemeral=True)


@blacklist.register
class BlacklistRemove(
    lightbulb.SlashCommand, name="remove", description="Let a member open tickets again"
):
    user = lightbulb.user("user", "The member to take off the blacklist")

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, entries: Blacklist) -> None:
        await entries.remove(_guild(ctx), int(self.user.id))
        await ctx.respond(f"{self.user.mention} can open tickets again.", ephemeral=True)


@blacklist.register
class BlacklistList(lightbulb.SlashCommand, name="list", description="Who is blacklisted"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, entries: Blacklist) -> None:
        rows = await entries.entries(_guild(ctx))
        if not rows:
            await ctx.respond("Nobody is blacklisted.", ephemeral=True)
            return
        lines = [
            f"<@{e.user_id}> since {_when(e.added_at)}" + (f" — {e.reason}" if e.reason else "")
            for e in rows[:50]
        ]
        if len(rows) > 50:
            lines.append(f"…and {len(rows) - 50} more (see `rimpllee blacklist list`)")
        await ctx.respond("\n".join(lines), ephemeral=True)


loader.command(apikey)
loader.command(blacklist)


_EXPLAINED = (TicketError, PermissionError, lightbulb.exceptions.ExecutionException)


@loader.error_handler
async def explain_refusal(exc: lightbulb.exceptions.ExecutionPipelineFailedException) -> bool:
    """Domain refusals and permission problems become a short ephemeral line, not a failure."""
    for cause in exc.causes:
        if isinstance(
            cause, TicketError | PermissionError | lightbulb.exceptions.ExecutionException
        ):
            await exc.context.respond(str(cause), ephemeral=True)
            return True
    return False
