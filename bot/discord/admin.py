"""Admin slash commands: `/apikey …` and `/blacklist …`, Manage Server only, answered ephemerally.

(No `from __future__ import annotations` here: lightbulb reads the `invoke` annotations at runtime
to inject services.)
"""

import datetime

import lightbulb

from bot.core.admin import ApiKeys, Blacklist
from bot.core.numbers import BLACKLIST_REASON_MAX
from bot.discord.guild_checks import MANAGE_GUILD, MANAGE_SERVER_ONLY
from bot.discord.interaction import guild_of

loader = lightbulb.Loader()
ADMIN = [MANAGE_SERVER_ONLY]


def _when(timestamp: float) -> str:
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    return f"<t:{int(moment.timestamp())}:f>"


apikey = lightbulb.Group(
    "apikey", "The server's key for the Rimpllee REST API", default_member_permissions=MANAGE_GUILD
)


@apikey.register
class ApiKeyGenerate(
    lightbulb.SlashCommand,
    name="generate",
    description="Create the API key (shown once)",
    hooks=ADMIN,
):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, keys: ApiKeys) -> None:
        key = await keys.generate(guild_of(ctx), int(ctx.user.id))
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
    hooks=ADMIN,
):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, keys: ApiKeys) -> None:
        key = await keys.regenerate(guild_of(ctx), int(ctx.user.id))
        await ctx.respond(
            f"New API key (shown only this once; the old key no longer works):\n`{key}`",
            ephemeral=True,
        )


@apikey.register
class ApiKeyRevoke(
    lightbulb.SlashCommand,
    name="revoke",
    description="Delete the API key: API access off",
    hooks=ADMIN,
):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, keys: ApiKeys) -> None:
        await keys.revoke(guild_of(ctx), int(ctx.user.id))
        await ctx.respond("API key revoked: the API refuses it from now on.", ephemeral=True)


@apikey.register
class ApiKeyStatus(
    lightbulb.SlashCommand,
    name="status",
    description="Whether the server has an API key",
    hooks=ADMIN,
):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, keys: ApiKeys) -> None:
        info = await keys.status(guild_of(ctx))
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
class BlacklistAdd(
    lightbulb.SlashCommand, name="add", description="Stop a member opening tickets", hooks=ADMIN
):
    user = lightbulb.user("user", "The member to blacklist")
    reason = lightbulb.string(
        "reason", "Why (for the staff)", default=None, max_length=BLACKLIST_REASON_MAX
    )

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, entries: Blacklist) -> None:
        await entries.add(guild_of(ctx), int(self.user.id), int(ctx.user.id), self.reason)
        await ctx.respond(f"{self.user.mention} can no longer open tickets.", ephemeral=True)


@blacklist.register
class BlacklistRemove(
    lightbulb.SlashCommand,
    name="remove",
    description="Let a member open tickets again",
    hooks=ADMIN,
):
    user = lightbulb.user("user", "The member to take off the blacklist")

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, entries: Blacklist) -> None:
        await entries.remove(guild_of(ctx), int(self.user.id))
        await ctx.respond(f"{self.user.mention} can open tickets again.", ephemeral=True)


@blacklist.register
class BlacklistList(
    lightbulb.SlashCommand, name="list", description="Who is blacklisted", hooks=ADMIN
):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, entries: Blacklist) -> None:
        rows = await entries.entries(guild_of(ctx))
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
