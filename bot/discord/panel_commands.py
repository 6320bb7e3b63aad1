"""`/panel …` slash commands: build, post and edit ticket panels from Discord, Manage Server only.

Every change goes through `PanelService`, which validates the whole panel against Discord's limits
and refreshes a posted panel in place; this module adds what only Discord can check (is that emoji
usable, is that a category the bot can work in) and answers ephemerally with the IDs the REST API
takes. Refusals are `AdminError`s, turned into an ephemeral line by the error handler in
`bot.discord.admin` (lightbulb error handlers are client-wide).

Category, channel and role options are Discord's own channel and role options: the admin picks from
Discord's lists (channel options restricted to categories, or to text and announcement channels).
Discord sends the picked object in the interaction's `resolved` data, but the bot still judges it by
its own cache (its ID is what counts): a picked channel of the wrong type, or one the bot cannot
use, is refused all the same (a client need not honour `channel_types`).

(No `from __future__ import annotations` here: lightbulb reads the `invoke` annotations at runtime
to inject services.)
"""

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

import hikari
import lightbulb

from bot.core.errors import AdminError
from bot.core.models import Button, Panel, Question
from bot.core.panels import (
    ANSWER_MAX,
    BUTTON_LABEL_MAX,
    BUTTON_STYLES,
    BUTTONS_MAX,
    MAX_OPEN_MAX,
    NAME_PATTERN_MAX,
    PANEL_DESCRIPTION_MAX,
    PANEL_TITLE_MAX,
    PLACEHOLDER_MAX,
    QUESTION_LABEL_MAX,
    QUESTION_STYLES,
    QUESTIONS_MAX,
    WELCOME_TEXT_MAX,
    PanelService,
    is_unicode_emoji,
    parse_colour,
)
from bot.core.tickets import BOT_PERMS
from bot.discord.admin import MANAGE_GUILD, _guild
from bot.discord.members import member_roles

loader = lightbulb.Loader()

T = TypeVar("T")

CHOICES_MAX = 25  # Discord shows at most 25 autocomplete choices
CHOICE_NAME_MAX = 100
CONTENT_MAX = 2000
# Discord drops an interaction not answered within 3 s.
ANSWER_WITHIN_S = 2.0
NONE_MENTIONS: dict[str, Any] = {
    "mentions_everyone": False,
    "user_mentions": False,
    "role_mentions": False,
}
# What the bot must hold in a ticket category: it grants these to itself in every ticket channel.
CATEGORY_PERMS = hikari.Permissions(int(BOT_PERMS))
POST_PERMS = (
    hikari.Permissions.VIEW_CHANNEL
    | hikari.Permissions.SEND_MESSAGES
    | hikari.Permissions.EMBED_LINKS
)
POSTABLE = (hikari.GuildTextChannel, hikari.GuildNewsChannel)
# What Discord's channel pickers offer (the bot checks its own view of the channel all the same).
POSTABLE_TYPES = (hikari.ChannelType.GUILD_TEXT, hikari.ChannelType.GUILD_NEWS)
CATEGORY_TYPES = (hikari.ChannelType.GUILD_CATEGORY,)
PANEL_CLEARABLE = ("description", "colour")
BUTTON_CLEARABLE = ("emoji", "category", "welcome_text", "support_roles")
QUESTION_CLEARABLE = ("placeholder", "min_length", "max_length")

_CUSTOM_EMOJI = re.compile(r"<a?:[A-Za-z0-9_]{2,32}:(\d{15,21})>")


# -- what the admin typed -----------------------------------------------------------------------


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


def _cached_channel(
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


def _names(perms: hikari.Permissions) -> str:
    return ", ".join(
        (p.name or "").replace("_", " ").title() for p in hikari.Permissions if p and p in perms
    )


def _require(
    bot: hikari.GatewayBot,
    channel: hikari.PermissibleGuildChannel,
    needed: hikari.Permissions,
    why: str,
) -> None:
    perms = bot_permissions(bot, channel)
    if perms is None:
        return  # nothing cached to judge by; Discord will say when the bot acts
    label = f"{channel.name!r} ({channel.id})"
    if hikari.Permissions.VIEW_CHANNEL not in perms:
        raise AdminError(f"the bot cannot see {label}: give it View Channel there")
    if missing := needed & ~perms:
        raise AdminError(f"the bot lacks {_names(missing)} in {label}, which it needs {why}")


def check_category(bot: hikari.GatewayBot, guild_id: int, picked: hikari.PartialChannel) -> int:
    """A category of this server in which the bot can create ticket channels."""
    channel = _cached_channel(bot, guild_id, picked, "category")
    if not isinstance(channel, hikari.GuildCategory):
        raise AdminError(
            f"#{channel.name} is not a category; ticket channels are created in a category"
        )
    _require(bot, channel, CATEGORY_PERMS, "to create ticket channels there")
    return int(channel.id)


def check_post_channel(bot: hikari.GatewayBot, guild_id: int, picked: hikari.PartialChannel) -> int:
    """A text or announcement channel of this server the bot can post an embed in."""
    channel = _cached_channel(bot, guild_id, picked, "channel")
    if not isinstance(channel, POSTABLE):
        raise AdminError(f"{channel.name!r} is not a text channel; panels are posted in one")
    _require(bot, channel, POST_PERMS, "to post the panel")
    return int(channel.id)


def check_role(bot: hikari.GatewayBot, guild_id: int, picked: hikari.PartialRole) -> int:
    """A role of this server (not @everyone) that the bot knows."""
    role_id = int(picked.id)
    if role_id not in bot.cache.get_roles_view_for_guild(guild_id):
        raise AdminError(f"the bot does not know a role {_label(picked)} on this server")
    if role_id == guild_id:
        raise AdminError("@everyone cannot be a support role: every member would see tickets")
    return role_id


def parse_clear(text: str | None, allowed: Sequence[str]) -> set[str]:
    """`clear: emoji, category` → {"emoji", "category"}; unknown names are refused."""
    names = {n for n in re.split(r"[\s,]+", (text or "").strip().lower()) if n}
    if unknown := names - set(allowed):
        raise AdminError(
            f"cannot clear {', '.join(sorted(unknown))}; clearable here: {', '.join(allowed)}"
        )
    return names


def _changes(given: dict[str, Any], cleared: set[str], clear_to: dict[str, Any]) -> dict[str, Any]:
    """The options given plus the cleared ones; refuses an edit that changes nothing."""
    changes = {k: v for k, v in given.items() if v is not None}
    for name in cleared:
        field, empty = clear_to[name]
        if field in changes:
            raise AdminError(f"{name} is both set and cleared; do one or the other")
        changes[field] = empty
    if not changes:
        raise AdminError("nothing to change: give at least one option (or `clear`)")
    return changes


# -- what the admin reads -----------------------------------------------------------------------


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _posted(panel: Panel) -> str:
    if panel.channel_id is None:
        return "not posted yet (`/panel post`)"
    return f"posted in <#{panel.channel_id}>"


def _refreshed(panel: Panel) -> str:
    if panel.channel_id is None:
        return f" Not posted: show it with `/panel post panel:{panel.panel_id}`."
    return f" The posted panel in <#{panel.channel_id}> is up to date."


def _colour(value: int | None) -> str:
    return "default colour" if value is None else f"colour #{value:06X}"


def _button_line(index: int, button: Button) -> str:
    parts: list[str] = [button.style]
    parts.append(f"category <#{button.category_id}>" if button.category_id else "no category")
    roles = " ".join(f"<@&{r}>" for r in button.support_role_ids)
    parts.append(f"support {roles}" if roles else "no support roles")
    parts.append(f"max {button.max_open} open")
    parts.append(f"channels `{button.name_pattern}`")
    emoji = f"{button.emoji} " if button.emoji else ""
    return f"{index}. {emoji}**{button.label}** (`{button.button_id}`) · " + " · ".join(parts)


def _question_line(question: Question) -> str:
    parts = [question.style, "required" if question.required else "optional"]
    if question.min_length is not None or question.max_length is not None:
        low = question.min_length or 0
        high = question.max_length if question.max_length is not None else ANSWER_MAX
        parts.append(f"{low} to {high} characters")
    if question.placeholder:
        parts.append(f"placeholder “{_cut(question.placeholder, 60)}”")
    return f"    • **{question.label}** (`{question.question_id}`) · " + " · ".join(parts)


def describe_panel(panel: Panel) -> list[str]:
    """The whole panel, every ID included: what `/panel show` prints."""
    lines = [f"**{panel.title}** (`{panel.panel_id}`) · {_colour(panel.colour)} · {_posted(panel)}"]
    if panel.description:
        lines.append("> " + _cut(panel.description, 200).replace("\n", " "))
    if not panel.buttons:
        lines.append(f"No buttons yet: `/panel button add panel:{panel.panel_id}`.")
    else:
        lines.append(f"Buttons ({len(panel.buttons)}/{BUTTONS_MAX}):")
    for i, button in enumerate(panel.buttons, 1):
        lines.append(_button_line(i, button))
        if button.welcome_text:
            lines.append("    welcome: " + _cut(button.welcome_text, 100).replace("\n", " "))
        if button.questions:
            lines.append(f"    questions ({len(button.questions)}/{QUESTIONS_MAX}):")
            lines += [_question_line(q) for q in button.questions]
        else:
            lines.append("    no questions")
    return lines


def chunk_lines(lines: Iterable[str], limit: int = CONTENT_MAX) -> list[str]:
    """Lines packed into messages of at most `limit` characters (a line too long is cut)."""
    chunks: list[str] = []
    current = ""
    for raw in lines:
        line = _cut(raw, limit)
        if current and len(current) + 1 + len(line) > limit:
            chunks.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        chunks.append(current)
    return chunks


async def _answer(ctx: lightbulb.Context, *lines: str) -> None:
    """Ephemeral, mentions never ping, and long answers are split over follow-ups."""
    for chunk in chunk_lines(lines):
        await ctx.respond(chunk, ephemeral=True, **NONE_MENTIONS)


async def _in_time(ctx: lightbulb.Context, work: Awaitable[T]) -> T:
    """Run `work`, deferring the (ephemeral) answer if it is not done within `ANSWER_WITHIN_S`.

    Changes refresh the posted panel through Discord, which a rate limit or a slow Discord can
    hold past the 3 s an interaction may go unanswered.
    """
    task = asyncio.ensure_future(work)
    try:
        await asyncio.wait_for(asyncio.shield(task), ANSWER_WITHIN_S)
    except TimeoutError:
        await ctx.defer(ephemeral=True)
    return await task


def _find_question(panels: Iterable[Panel], question_id: str) -> tuple[Panel, Button, Question]:
    for panel in panels:
        for button in panel.buttons:
            for question in button.questions:
                if question.question_id == question_id:
                    return panel, button, question
    raise AdminError(f"there is no question {question_id!r} on this server")


# -- autocomplete -------------------------------------------------------------------------------


def _autocomplete_guild(ctx: lightbulb.AutocompleteContext[str]) -> int | None:
    """The server, if the member may manage it: others get no choices (and no IDs)."""
    member = ctx.interaction.member
    if ctx.interaction.guild_id is None or member is None:
        return None
    perms = member.permissions
    if MANAGE_GUILD not in perms and hikari.Permissions.ADMINISTRATOR not in perms:
        return None
    return int(ctx.interaction.guild_id)


def _typed(ctx: lightbulb.AutocompleteContext[str]) -> str:
    return str(ctx.focused.value or "").strip().casefold()


def _choices(items: Iterable[tuple[str, str]], typed: str) -> list[tuple[str, str]]:
    """`(name, value)` pairs whose name or value contains what was typed, at most 25."""
    out: list[tuple[str, str]] = []
    for name, value in items:
        if typed in name.casefold() or typed in value.casefold():
            out.append((_cut(name, CHOICE_NAME_MAX), value))
            if len(out) == CHOICES_MAX:
                break
    return out


def _labelled(label: str, item_id: str) -> str:
    suffix = f" ({item_id})"
    return _cut(label, CHOICE_NAME_MAX - len(suffix)) + suffix


@lightbulb.di.with_di
async def complete_panel(
    ctx: lightbulb.AutocompleteContext[str], panels: PanelService = lightbulb.di.INJECTED
) -> None:
    guild = _autocomplete_guild(ctx)
    found = await panels.panels(guild) if guild else []
    items = ((_labelled(p.title, p.panel_id), p.panel_id) for p in found)
    await ctx.respond(_choices(items, _typed(ctx)))


@lightbulb.di.with_di
async def complete_button(
    ctx: lightbulb.AutocompleteContext[str], panels: PanelService = lightbulb.di.INJECTED
) -> None:
    guild = _autocomplete_guild(ctx)
    found = await panels.panels(guild) if guild else []
    items = (
        (_labelled(f"{p.title} > {b.label}", b.button_id), b.button_id)
        for p in found
        for b in p.buttons
    )
    await ctx.respond(_choices(items, _typed(ctx)))


@lightbulb.di.with_di
async def complete_question(
    ctx: lightbulb.AutocompleteContext[str], panels: PanelService = lightbulb.di.INJECTED
) -> None:
    guild = _autocomplete_guild(ctx)
    found = await panels.panels(guild) if guild else []
    items = (
        (_labelled(f"{b.label} > {q.label}", q.question_id), q.question_id)
        for p in found
        for b in p.buttons
        for q in b.questions
    )
    await ctx.respond(_choices(items, _typed(ctx)))


def _clear_completer(
    allowed: Sequence[str],
) -> Callable[[lightbulb.AutocompleteContext[str]], Awaitable[None]]:
    """Suggests the clearable names, completing the last item of a comma-separated list."""

    async def complete(ctx: lightbulb.AutocompleteContext[str]) -> None:
        typed = str(ctx.focused.value or "")
        head, _, last = typed.rpartition(",")
        done = {n.strip() for n in head.split(",") if n.strip()}
        prefix = f"{head}," if head else ""
        items = [(prefix + n, prefix + n) for n in allowed if n not in done]
        await ctx.respond(_choices(items, last.strip().casefold()))

    return complete


# -- option definitions shared by several commands ------------------------------------------------


def _panel_option() -> str:
    return lightbulb.string("panel", "The panel (ID like pnl_…)", autocomplete=complete_panel)


def _button_option() -> str:
    return lightbulb.string("button", "The button (ID like btn_…)", autocomplete=complete_button)


def _question_option() -> str:
    return lightbulb.string(
        "question", "The question (ID like qst_…)", autocomplete=complete_question
    )


_BUTTON_STYLE_CHOICES: list[lightbulb.Choice[str]] = [lightbulb.Choice(s, s) for s in BUTTON_STYLES]
_QUESTION_STYLE_CHOICES: list[lightbulb.Choice[str]] = [
    lightbulb.Choice(s, s) for s in QUESTION_STYLES
]


# -- /panel …  ----------------------------------------------------------------------------------

panel = lightbulb.Group(
    "panel", "Ticket panels: build, post and edit them", default_member_permissions=MANAGE_GUILD
)
button = panel.subgroup("button", "The buttons of a panel: each opens one kind of ticket")
question = panel.subgroup("question", "Intake questions a button asks before opening a ticket")


@panel.register
class PanelCreate(lightbulb.SlashCommand, name="create", description="Create a panel (not posted)"):
    title = lightbulb.string("title", "Embed title", max_length=PANEL_TITLE_MAX)
    description = lightbulb.string(
        "description", "Embed text", default=None, max_length=PANEL_DESCRIPTION_MAX
    )
    colour = lightbulb.string("colour", "Embed colour as hex, e.g. #5865F2", default=None)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, panels: PanelService) -> None:
        guild = _guild(ctx)
        colour = parse_colour(self.colour) if self.colour else None
        created = await panels.create_panel(guild, self.title, self.description, colour)
        await _answer(
            ctx,
            f"Created panel **{created.title}** (`{created.panel_id}`). Add a button with "
            f"`/panel button add panel:{created.panel_id}`, then post it with `/panel post`.",
        )


@panel.register
class PanelEdit(
    lightbulb.SlashCommand,
    name="edit",
    description="Change a panel's embed; clear: description, colour (comma-separated)",
):
    panel_id = _panel_option()
    title = lightbulb.string("title", "New embed title", default=None, max_length=PANEL_TITLE_MAX)
    description = lightbulb.string(
        "description", "New embed text", default=None, max_length=PANEL_DESCRIPTION_MAX
    )
    colour = lightbulb.string("colour", "New colour as hex, e.g. #5865F2", default=None)
    clear = lightbulb.string(
        "clear",
        "Reset: description, colour (comma-separated)",
        default=None,
        autocomplete=_clear_completer(PANEL_CLEARABLE),
    )

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, panels: PanelService) -> None:
        guild = _guild(ctx)
        given = {
            "title": self.title,
            "description": self.description,
            "colour": parse_colour(self.colour) if self.colour else None,
        }
        cleared = parse_clear(self.clear, PANEL_CLEARABLE)
        changes = _changes(
            given, cleared, {"description": ("description", None), "colour": ("colour", None)}
        )
        edited = await _in_time(ctx, panels.edit_panel(guild, self.panel_id, **changes))
        await _answer(
            ctx, f"Updated panel **{edited.title}** (`{edited.panel_id}`)." + _refreshed(edited)
        )


@panel.register
class PanelDelete(
    lightbulb.SlashCommand,
    name="delete",
    description="Delete a panel, its buttons and its posted message",
):
    panel_id = _panel_option()

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, panels: PanelService) -> None:
        deleted = await _in_time(ctx, panels.delete_panel(_guild(ctx), self.panel_id))
        where = (
            f" Its message in <#{deleted.channel_id}> was removed." if deleted.channel_id else ""
        )
        await _answer(
            ctx,
            f"Deleted panel **{deleted.title}** (`{deleted.panel_id}`) and its "
            f"{len(deleted.buttons)} button(s).{where}",
        )


@panel.register
class PanelList(lightbulb.SlashCommand, name="list", description="This server's panels"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, panels: PanelService) -> None:
        found = await panels.panels(_guild(ctx))
        if not found:
            await _answer(ctx, "No panels yet. Create one with `/panel create`.")
            return
        await _answer(
            ctx,
            *(
                f"**{p.title}** (`{p.panel_id}`) · {len(p.buttons)} button(s) · {_posted(p)}"
                for p in found
            ),
        )


@panel.register
class PanelShow(
    lightbulb.SlashCommand,
    name="show",
    description="A panel's buttons and questions, with their IDs",
):
    panel_id = _panel_option()

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, panels: PanelService) -> None:
        shown = await panels.panel(_guild(ctx), self.panel_id)
        await _answer(ctx, *describe_panel(shown))


@panel.register
class PanelPost(
    lightbulb.SlashCommand,
    name="post",
    description="Post a panel in a channel; posting again moves it there",
):
    panel_id = _panel_option()
    channel = lightbulb.channel(
        "channel", "Text or announcement channel", channel_types=POSTABLE_TYPES
    )

    @lightbulb.invoke
    async def invoke(
        self, ctx: lightbulb.Context, panels: PanelService, bot: hikari.GatewayBot
    ) -> None:
        guild = _guild(ctx)
        channel_id = check_post_channel(bot, guild, self.channel)
        before = await panels.panel(guild, self.panel_id)
        posted = await _in_time(ctx, panels.post_panel(guild, self.panel_id, channel_id))
        moved = (
            f" The copy in <#{before.channel_id}> was removed."
            if before.message_id is not None
            else ""
        )
        await _answer(
            ctx,
            f"Posted panel **{posted.title}** (`{posted.panel_id}`) in <#{channel_id}> "
            f"(message `{posted.message_id}`).{moved}",
        )


# -- /panel button …  ---------------------------------------------------------------------------


def _button_fields(
    bot: hikari.GatewayBot,
    guild: int,
    *,
    emoji: str | None,
    category: hikari.PartialChannel | None,
    **plain: Any,
) -> dict[str, Any]:
    """The options given, with emoji and category checked against Discord."""
    fields = {k: v for k, v in plain.items() if v is not None}
    if emoji is not None:
        fields["emoji"] = check_emoji(bot, guild, emoji)
    if category is not None:
        fields["category_id"] = check_category(bot, guild, category)
    return fields


@button.register
class ButtonAdd(
    lightbulb.SlashCommand,
    name="add",
    description="Add a button to a panel (more support roles: /panel button roles)",
):
    panel_id = _panel_option()
    label = lightbulb.string("label", "Button text", max_length=BUTTON_LABEL_MAX)
    emoji = lightbulb.string("emoji", "Unicode emoji or this server's custom emoji", default=None)
    style = lightbulb.string("style", "Colour", default=None, choices=_BUTTON_STYLE_CHOICES)
    category = lightbulb.channel(
        "category", "Category for ticket channels", default=None, channel_types=CATEGORY_TYPES
    )
    support_role = lightbulb.role("support_role", "Role that sees the tickets", default=None)
    name_pattern = lightbulb.string(
        "name_pattern",
        "Ticket channel name; {number} and {user} are filled in (default ticket-{number})",
        default=None,
        max_length=NAME_PATTERN_MAX,
    )
    max_open = lightbulb.integer(
        "max_open",
        "Open tickets a member may have from this button (default 1)",
        default=None,
        min_value=1,
        max_value=MAX_OPEN_MAX,
    )
    welcome_text = lightbulb.string(
        "welcome_text", "First message in the ticket", default=None, max_length=WELCOME_TEXT_MAX
    )

    @lightbulb.invoke
    async def invoke(
        self, ctx: lightbulb.Context, panels: PanelService, bot: hikari.GatewayBot
    ) -> None:
        guild = _guild(ctx)
        fields = _button_fields(
            bot,
            guild,
            emoji=self.emoji,
            category=self.category,
            label=self.label,
            style=self.style,
            name_pattern=self.name_pattern,
            max_open=self.max_open,
            welcome_text=self.welcome_text,
        )
        if self.support_role is not None:
            fields["support_role_ids"] = (check_role(bot, guild, self.support_role),)
        added = await _in_time(ctx, panels.add_button(guild, self.panel_id, **fields))
        after = await panels.panel(guild, self.panel_id)
        await _answer(
            ctx,
            f"Added button **{added.label}** (`{added.button_id}`) to panel **{after.title}** "
            f"(`{after.panel_id}`) at position {added.position + 1}. Ask questions first with "
            f"`/panel question add button:{added.button_id}`." + _refreshed(after),
        )


@button.register
class ButtonEdit(
    lightbulb.SlashCommand,
    name="edit",
    description="Change a button; clear: emoji, category, welcome_text, support_roles",
):
    button_id = _button_option()
    label = lightbulb.string("label", "Button text", default=None, max_length=BUTTON_LABEL_MAX)
    emoji = lightbulb.string("emoji", "Unicode emoji or this server's custom emoji", default=None)
    style = lightbulb.string("style", "Colour", default=None, choices=_BUTTON_STYLE_CHOICES)
    category = lightbulb.channel(
        "category", "Category for ticket channels", default=None, channel_types=CATEGORY_TYPES
    )
    name_pattern = lightbulb.string(
        "name_pattern",
        "Ticket channel name; {number} and {user} are filled in",
        default=None,
        max_length=NAME_PATTERN_MAX,
    )
    max_open = lightbulb.integer(
        "max_open",
        "Open tickets a member may have from this button",
        default=None,
        min_value=1,
        max_value=MAX_OPEN_MAX,
    )
    welcome_text = lightbulb.string(
        "welcome_text", "First message in the ticket", default=None, max_length=WELCOME_TEXT_MAX
    )
    clear = lightbulb.string(
        "clear",
        "Reset: emoji, category, welcome_text, support_roles (comma-separated)",
        default=None,
        autocomplete=_clear_completer(BUTTON_CLEARABLE),
    )

    @lightbulb.invoke
    async def invoke(
        self, ctx: lightbulb.Context, panels: PanelService, bot: hikari.GatewayBot
    ) -> None:
        guild = _guild(ctx)
        cleared = parse_clear(self.clear, BUTTON_CLEARABLE)
        given = _button_fields(
            bot,
            guild,
            emoji=self.emoji,
            category=self.category,
            label=self.label,
            style=self.style,
            name_pattern=self.name_pattern,
            max_open=self.max_open,
            welcome_text=self.welcome_text,
        )
        changes = _changes(
            given,
            cleared,
            {
                "emoji": ("emoji", None),
                "category": ("category_id", None),
                "welcome_text": ("welcome_text", None),
                "support_roles": ("support_role_ids", ()),
            },
        )
        edited = await _in_time(ctx, panels.edit_button(guild, self.button_id, **changes))
        after = await panels.panel(guild, edited.panel_id)
        await _answer(
            ctx,
            f"Updated button **{edited.label}** (`{edited.button_id}`) on panel "
            f"**{after.title}** (`{after.panel_id}`)." + _refreshed(after),
        )


@button.register
class ButtonRemove(lightbulb.SlashCommand, name="remove", description="Remove a button"):
    button_id = _button_option()

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, panels: PanelService) -> None:
        guild = _guild(ctx)
        _, removed = await panels.button(guild, self.button_id)
        after = await _in_time(ctx, panels.remove_button(guild, self.button_id))
        await _answer(
            ctx,
            f"Removed button **{removed.label}** (`{removed.button_id}`) from panel "
            f"**{after.title}** (`{after.panel_id}`); {len(after.buttons)} button(s) left."
            + _refreshed(after),
        )


@button.register
class ButtonMove(
    lightbulb.SlashCommand, name="move", description="Move a button to another position"
):
    button_id = _button_option()
    position = lightbulb.integer(
        "position", "New position, 1 = first", min_value=1, max_value=BUTTONS_MAX
    )

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, panels: PanelService) -> None:
        guild = _guild(ctx)
        after = await _in_time(ctx, panels.move_button(guild, self.button_id, self.position))
        moved = after.button(self.button_id)
        assert moved is not None
        order = ", ".join(f"{b.position + 1}. {b.label}" for b in after.buttons)
        await _answer(
            ctx,
            f"Moved **{moved.label}** (`{moved.button_id}`) to position {moved.position + 1} "
            f"on panel **{after.title}** (`{after.panel_id}`): {order}." + _refreshed(after),
        )


@button.register
class ButtonRoles(
    lightbulb.SlashCommand,
    name="roles",
    description="Add a support role to a button, or remove one with remove:True",
):
    button_id = _button_option()
    role = lightbulb.role("role", "The role", default=None)
    remove = lightbulb.boolean("remove", "Remove the role instead of adding it", default=False)
    role_id = lightbulb.string(
        "role_id",
        "Instead of role, with remove:True: the ID of a support role deleted since",
        default=None,
    )

    @lightbulb.invoke
    async def invoke(
        self, ctx: lightbulb.Context, panels: PanelService, bot: hikari.GatewayBot
    ) -> None:
        guild = _guild(ctx)
        if (self.role is None) == (self.role_id is None):
            raise AdminError(
                "give `role` (or, to remove a support role deleted since, its ID as `role_id` "
                "with remove:True)"
            )
        if self.role_id is not None and not self.remove:
            raise AdminError("`role_id` only removes a role deleted since; pick `role` to add one")
        _, current = await panels.button(guild, self.button_id)
        roles = current.support_role_ids
        if self.remove:
            # Removing needs no check: a role deleted since is still removable by its ID.
            if self.role is not None:
                role_id = int(self.role.id)
            else:
                assert self.role_id is not None
                role_id = role_id_text(self.role_id)
            if role_id not in roles:
                raise AdminError(f"<@&{role_id}> is not a support role of this button")
            roles = tuple(r for r in roles if r != role_id)
        else:
            assert self.role is not None
            role_id = check_role(bot, guild, self.role)
            if role_id in roles:
                raise AdminError(f"<@&{role_id}> is already a support role of this button")
            roles = (*roles, role_id)
        edited = await _in_time(
            ctx, panels.edit_button(guild, self.button_id, support_role_ids=roles)
        )
        listed = " ".join(f"<@&{r}>" for r in edited.support_role_ids) or "none"
        await _answer(
            ctx,
            f"Support roles of **{edited.label}** (`{edited.button_id}`): {listed}. "
            "They see and answer its tickets.",
        )


# -- /panel question …  -------------------------------------------------------------------------


def _length_options() -> tuple[int | None, int | None]:
    return (
        lightbulb.integer(
            "min_length", "Shortest answer allowed", default=None, min_value=0, max_value=ANSWER_MAX
        ),
        lightbulb.integer(
            "max_length", "Longest answer allowed", default=None, min_value=1, max_value=ANSWER_MAX
        ),
    )


@question.register
class QuestionAdd(
    lightbulb.SlashCommand,
    name="add",
    description=f"Add a question to a button's form (at most {QUESTIONS_MAX})",
):
    button_id = _button_option()
    label = lightbulb.string("label", "The question", max_length=QUESTION_LABEL_MAX)
    placeholder = lightbulb.string(
        "placeholder", "Hint shown in the empty field", default=None, max_length=PLACEHOLDER_MAX
    )
    style = lightbulb.string(
        "style",
        "short: one line, paragraph: several",
        default=None,
        choices=_QUESTION_STYLE_CHOICES,
    )
    required = lightbulb.boolean("required", "Must be answered (default True)", default=None)
    min_length, max_length = _length_options()

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, panels: PanelService) -> None:
        guild = _guild(ctx)
        given = {
            "label": self.label,
            "placeholder": self.placeholder,
            "style": self.style,
            "required": self.required,
            "min_length": self.min_length,
            "max_length": self.max_length,
        }
        added = await _in_time(
            ctx,
            panels.add_question(
                guild, self.button_id, **{k: v for k, v in given.items() if v is not None}
            ),
        )
        panel_, owner = await panels.button(guild, self.button_id)
        await _answer(
            ctx,
            f"Added question **{added.label}** (`{added.question_id}`) to button "
            f"**{owner.label}** (`{owner.button_id}`): {len(owner.questions)}/{QUESTIONS_MAX}."
            + _refreshed(panel_),
        )


@question.register
class QuestionEdit(
    lightbulb.SlashCommand,
    name="edit",
    description="Change a question; clear: placeholder, min_length, max_length",
):
    question_id = _question_option()
    label = lightbulb.string("label", "The question", default=None, max_length=QUESTION_LABEL_MAX)
    placeholder = lightbulb.string(
        "placeholder", "Hint shown in the empty field", default=None, max_length=PLACEHOLDER_MAX
    )
    style = lightbulb.string(
        "style",
        "short: one line, paragraph: several",
        default=None,
        choices=_QUESTION_STYLE_CHOICES,
    )
    required = lightbulb.boolean("required", "Must be answered", default=None)
    min_length, max_length = _length_options()
    clear = lightbulb.string(
        "clear",
        "Reset: placeholder, min_length, max_length (comma-separated)",
        default=None,
        autocomplete=_clear_completer(QUESTION_CLEARABLE),
    )

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, panels: PanelService) -> None:
        guild = _guild(ctx)
        cleared = parse_clear(self.clear, QUESTION_CLEARABLE)
        given = {
            "label": self.label,
            "placeholder": self.placeholder,
            "style": self.style,
            "required": self.required,
            "min_length": self.min_length,
            "max_length": self.max_length,
        }
        changes = _changes(given, cleared, {n: (n, None) for n in QUESTION_CLEARABLE})
        edited = await _in_time(ctx, panels.edit_question(guild, self.question_id, **changes))
        panel_, owner, _ = _find_question(await panels.panels(guild), edited.question_id)
        await _answer(
            ctx,
            f"Updated question **{edited.label}** (`{edited.question_id}`) of button "
            f"**{owner.label}** (`{owner.button_id}`)." + _refreshed(panel_),
        )


@question.register
class QuestionRemove(lightbulb.SlashCommand, name="remove", description="Remove a question"):
    question_id = _question_option()

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, panels: PanelService) -> None:
        guild = _guild(ctx)
        _, _, removed = _find_question(await panels.panels(guild), self.question_id)
        owner = await _in_time(ctx, panels.remove_question(guild, self.question_id))
        panel_ = await panels.panel(guild, owner.panel_id)
        await _answer(
            ctx,
            f"Removed question **{removed.label}** (`{removed.question_id}`) from button "
            f"**{owner.label}** (`{owner.button_id}`); {len(owner.questions)} left."
            + _refreshed(panel_),
        )


loader.command(panel)
