"""The dashboard's view of servers and members, read from the gateway cache and the member
index (no REST calls)."""

from __future__ import annotations

import hikari

from bot.core.access import MemberView, NamedId, ServerRef
from bot.discord.members import MemberEntry, MemberIndex


class HikariDirectory:
    def __init__(self, bot: hikari.GatewayBot, members: MemberIndex) -> None:
        self._bot = bot
        self._members = members

    def _view(self, guild: hikari.GatewayGuild, member: MemberEntry) -> MemberView:
        cache = self._bot.cache
        permissions = 0
        for role_id in (guild.id, *member.role_ids):  # @everyone's role has the server's ID
            role = cache.get_role(role_id)
            if role is not None:
                permissions |= int(role.permissions)
        return MemberView(
            guild_id=int(guild.id),
            user_id=member.user_id,
            is_owner=guild.owner_id == member.user_id,
            permissions=permissions,
            role_ids=frozenset(member.role_ids),
        )

    def member(self, guild_id: int, user_id: int) -> MemberView | None:
        guild = self._bot.cache.get_guild(guild_id)
        member = self._members.get(guild_id, user_id) if guild else None
        if guild is None or member is None:
            return None
        return self._view(guild, member)

    def servers_with(self, user_id: int) -> list[tuple[ServerRef, MemberView]]:
        found = []
        for guild in self._bot.cache.get_guilds_view().values():
            member = self._members.get(int(guild.id), user_id)
            if member is not None:
                found.append((ServerRef(int(guild.id), guild.name), self._view(guild, member)))
        return found

    def server(self, guild_id: int) -> ServerRef | None:
        guild = self._bot.cache.get_guild(guild_id)
        return None if guild is None else ServerRef(int(guild.id), guild.name)

    def member_name(self, guild_id: int, user_id: int) -> str | None:
        member = self._members.get(guild_id, user_id)
        return None if member is None else _member_name(member)

    def members(self, guild_id: int) -> list[NamedId]:
        server = self._members.servers.get(guild_id)
        if server is None:
            return []
        me = self._bot.get_me()
        named = [
            NamedId(entry.user_id, _member_name(entry))
            for user_id in server.ids()
            if (entry := server.get(user_id)) is not None and (me is None or user_id != me.id)
        ]
        return sorted(named, key=lambda n: n.name.casefold())

    def text_channels(self, guild_id: int) -> list[NamedId]:
        return self._channels(guild_id, (hikari.GuildTextChannel, hikari.GuildNewsChannel))

    def categories(self, guild_id: int) -> list[NamedId]:
        return self._channels(guild_id, (hikari.GuildCategory,))

    def roles(self, guild_id: int) -> list[NamedId]:
        roles = self._bot.cache.get_roles_view_for_guild(guild_id).values()
        chosen = [r for r in roles if r.id != guild_id and not r.is_managed]
        chosen.sort(key=lambda r: (-r.position, int(r.id)))
        return [NamedId(int(r.id), r.name) for r in chosen]

    def _channels(self, guild_id: int, kinds: tuple[type, ...]) -> list[NamedId]:
        channels = self._bot.cache.get_guild_channels_view_for_guild(guild_id).values()
        chosen = [c for c in channels if isinstance(c, kinds)]
        chosen.sort(key=lambda c: (c.position, int(c.id)))
        return [NamedId(int(c.id), c.name or str(c.id)) for c in chosen]


def _member_name(member: MemberEntry) -> str:
    shown = member.display_name
    return shown if shown == member.username else f"{shown} ({member.username})"
