"""What only Discord can check: is the member allowed to run an admin command, and is the
emoji, category, channel or role an admin picked one the bot can use on this server.

Picked channels and roles are judged by the bot's own cache (their ID is what counts): a channel
of the wrong type, or one the bot cannot use, is refused even if a client sent it (a client need
not honour `channel_types`). Refusals are `AdminError`s.
"""

from __future__ import annotations

import re

import hikari
import lightbulb

from bot.core.access import MemberView, Right, may
from bot.core.errors import AdminError
from bot.core.panels import is_unicode_emoji
from bot.core.tickets import BOT_PERMS
from bot.discord.members import member_roles

MANAGE_GUILD = hikari.Permissions.MANAGE_GUILD

# What the bot must hold in a ticket category: it grants these to itself in every ticket channel.
CATEGORY_PERMS = hikari.Permissions(int(BOT_PERMS))
POST_PERMS = (
    hikari.Permissions.VIEW_CHANNEL
    | hikari.Permissions.SEND_MESSAGES
    | hikari.Permissions.EMBED_LINKS
)
# What the bot needs in the log channel: it posts events, and closed tickets' transcripts as files.
LOG_PERMS = (
    hikari.Permissions.VIEW_CHANNEL
    | hikari.Permissions.SEND_MESSAGES
    | hikari.Permissions.ATTACH_FILES
)
POSTABLE = (hikari.GuildTextChannel, hikari.GuildNewsChannel)
# What Discord's channel pickers offer (the bot checks its own view of the channel all the same).
POSTABLE_TYPES = (hikari.ChannelType.GUILD_TEXT, hikari.ChannelType.GUILD_NEWS)
CATEGORY_TYPES = (hikari.ChannelType.GUILD_CATEGORY,)

_CUSTOM_EMOJI = re.compile(r"<a?:[A-Za-z0-9_]{2,32}:(\d{15,21})>")


def manages_server(member: hikari.InteractionMember | None) -> bool:
    """`core.access.may(…, MANAGE_SERVER)`, the rule the dashboard asks too, for a member as the
    interaction shows them; also for what hooks don't cover (autocomplete)."""
    if member is None:
        return False
    view = MemberView(
        guild_id=int(member.guild_id),
        user_id=int(member.id),
        is_owner=False,  # an interaction's permissions already count the owner's
        permissions=int(member.permissions),
        role_ids=frozenset(int(r) for r in member.role_ids),
    )
    return may(view, Right.MANAGE_SERVER)


# The hook of every admin command (`/panel`, `/settings`, `/apikey`, `/blacklist`): Manage Server
# (or Administrator), in a server. Discord hides these commands from others already
# (`default_member_permissions`), but a server can override that; this check can't be.
@lightbulb.hook(lightbulb.ExecutionSteps.CHECKS, skip_when_failed=True, name="manage_server_only")
def MANAGE_SERVER_ONLY(_: lightbulb.ExecutionPipeline, ctx: lightbulb.Context) -> None:
    if not manages_server(ctx.member):
        held = ctx.member.permissions if ctx.member else hikari.Permissions.NONE
        raise lightbulb.prefab.MissingRequiredPermission(MANAGE_GUILD, held)


def permission_names(perms: hikari.Permissions) -> str:
    """`MANAGE_GUILD | EMBED_LINKS` → "Manage Guild, Embed Links" (Discord's names, not ours)."""
    names = {hikari.Permissions.MANAGE_GUILD: "Manage Server"}
    return ", ".join(
        names.get(p, (p.name or "").replace("_", " ").title())
        for p in hikari.Permissions
        if p and p in perms
    )


def check_emoji(bot: hikari.GatewayBot, guild_id: int, text: str) -> str:
    """A Unicode emoji, or a custom emoji of this server the bot has in its cache."""
    value = text.strip()
    if match := _CUSTOM_EMOJI.fullmatch(value):
        emoji = bot.cache.get_emoji(int(match[1]))
        if emoji is None or emoji.guild_id != guild_id:
            raise AdminError(
                f"{value} is not a custom emoji of this server (the bot only knows this "
                "server's emojis); use one of them or a Unicode emoji like 🎫"
            )
        return value
    if not is_unicode_emoji(value):
        raise AdminError(
            f"{value!r} is not an emoji; use a Unicode emoji like 🎫 or one of this server's "
            "custom emojis"
        )
    return value


def role_id_text(text: str) -> int:
    """A role ID as typed (`123…` or `<@&123…>`): a role deleted since is no longer pickable."""
    value = text.strip()
    match = re.fullmatch(r"<@&(\d{15,21})>|(\d{15,21})", value)
    if match is None:
        raise AdminError(f"{value!r} is not a role ID (a number like 123456789012345678)")
    return int(match[1] or match[2])


def _label(item: hikari.PartialChannel | hikari.PartialRole) -> str:
    return f"{item.name!r} ({item.id})"


def cached_channel(
    bot: hikari.GatewayBot, guild_id: int, channel: hikari.PartialChannel, what: str
) -> hikari.GuildChannel:
    """The bot's own view of the channel Discord resolved: the bot judges by what it knows."""
    cached = bot.cache.get_guild_channel(channel.id)
    if cached is None or int(cached.guild_id) != guild_id:
        raise AdminError(f"the bot does not know a {what} {_label(channel)} on this server")
    return cached


def bot_permissions(
    bot: hikari.GatewayBot, channel: hikari.PermissibleGuildChannel
) -> hikari.Permissions | None:
    """Discord's permission computation for the bot in `channel`; None if the cache cannot say."""
    me = bot.get_me()
    guild = bot.cache.get_guild(channel.guild_id)
    my_roles = member_roles(bot, channel.guild_id, me.id) if me else None
    if me is None or guild is None or my_roles is None:
        return None
    if guild.owner_id == me.id:
        return hikari.Permissions.all_permissions()
    everyone = bot.cache.get_role(guild.id)
    perms = everyone.permissions if everyone else hikari.Permissions.NONE
    for role_id in my_roles:
        if role := bot.cache.get_role(role_id):
            perms |= role.permissions
    if hikari.Permissions.ADMINISTRATOR in perms:
        return hikari.Permissions.all_permissions()
    overwrites = channel.permission_overwrites
    if ow := overwrites.get(guild.id):
        perms = (perms & ~ow.deny) | ow.allow
    allow = deny = hikari.Permissions.NONE
    for role_id in my_roles:
        ow = overwrites.get(hikari.Snowflake(role_id))
        if ow is not None and ow.type is hikari.PermissionOverwriteType.ROLE:
            allow |= ow.allow
            deny |= ow.deny
    perms = (perms & ~deny) | allow
    ow = overwrites.get(me.id)
    if ow is not None and ow.type is hikari.PermissionOverwriteType.MEMBER:
        perms = (perms & ~ow.deny) | ow.allow
    return perms


def require(
    bot: hikari.GatewayBot,
    channel: hikari.PermissibleGuildChannel,
    needed: hikari.Permissions,
    why: str,
) -> None:
    """Refuse if the bot (as its cache says) lacks `needed` in `channel`."""
    perms = bot_permissions(bot, channel)
    if perms is None:
        return  # nothing cached to judge by; Discord will say when the bot acts
    label = f"{channel.name!r} ({channel.id})"
    if hikari.Permissions.VIEW_CHANNEL not in perms:
        raise AdminError(f"the bot cannot see {label}: give it View Channel there")
    if missing := needed & ~perms:
        raise AdminError(
            f"the bot lacks {permission_names(missing)} in {label}, which it needs {why}"
        )


def check_category(bot: hikari.GatewayBot, guild_id: int, picked: hikari.PartialChannel) -> int:
    """A category of this server in which the bot can create ticket channels."""
    channel = cached_channel(bot, guild_id, picked, "category")
    if not isinstance(channel, hikari.GuildCategory):
        raise AdminError(
            f"#{channel.name} is not a category; ticket channels are created in a category"
        )
    require(bot, channel, CATEGORY_PERMS, "to create ticket channels there")
    return int(channel.id)


# What the bot needs in a threads-mode channel: it makes private threads there, writes in them,
# and archives, locks and deletes them.
THREAD_PERMS = (
    hikari.Permissions.VIEW_CHANNEL
    | hikari.Permissions.CREATE_PRIVATE_THREADS
    | hikari.Permissions.SEND_MESSAGES_IN_THREADS
    | hikari.Permissions.MANAGE_THREADS
    | hikari.Permissions.READ_MESSAGE_HISTORY
)


def check_thread_channel(
    bot: hikari.GatewayBot, guild_id: int, picked: hikari.PartialChannel
) -> int:
    """A text channel of this server whose private threads can be tickets."""
    channel = cached_channel(bot, guild_id, picked, "channel")
    if not isinstance(channel, hikari.GuildTextChannel):
        raise AdminError(f"{channel.name!r} is not a text channel; private threads live in one")
    require(bot, channel, THREAD_PERMS, "to open tickets as private threads there")
    return int(channel.id)


def check_post_channel(bot: hikari.GatewayBot, guild_id: int, picked: hikari.PartialChannel) -> int:
    """A text or announcement channel of this server the bot can post an embed in."""
    channel = cached_channel(bot, guild_id, picked, "channel")
    if not isinstance(channel, POSTABLE):
        raise AdminError(f"{channel.name!r} is not a text channel; panels are posted in one")
    require(bot, channel, POST_PERMS, "to post the panel")
    return int(channel.id)


def check_log_channel(bot: hikari.GatewayBot, guild_id: int, picked: hikari.PartialChannel) -> int:
    """A text channel of this server where the bot can post events and transcript files."""
    channel = cached_channel(bot, guild_id, picked, "channel")
    if not isinstance(channel, POSTABLE):
        raise AdminError(f"{channel.name!r} is not a text channel; the log is posted in one")
    require(bot, channel, LOG_PERMS, "to post ticket events and transcripts")
    return int(channel.id)


def check_role(bot: hikari.GatewayBot, guild_id: int, picked: hikari.PartialRole) -> int:
    """A role of this server (not @everyone) that the bot knows."""
    role_id = int(picked.id)
    if role_id not in bot.cache.get_roles_view_for_guild(guild_id):
        raise AdminError(f"the bot does not know a role {_label(picked)} on this server")
    if role_id == guild_id:
        raise AdminError("@everyone cannot be a support role: every member would see tickets")
    return role_id
