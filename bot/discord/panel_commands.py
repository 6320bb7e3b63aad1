"""`/panel …` slash commands: build, post and edit ticket panels from Discord, Manage Server only.

Every change goes through `PanelService`, which validates the whole panel against Discord's limits
and refreshes a posted panel in place; `bot.discord.guild_checks` adds what only Discord can check
(is that emoji usable, is that a category the bot can work in), and the commands answer
ephemerally with the IDs the REST API takes. Refusals are `AdminError`s, worded by the error table
(`bot.discord.errors`).

Category, channel and role options are Discord's own channel and role options: the admin picks from
Discord's lists (channel options restricted to categories, or to text and announcement channels).

(No `from __future__ import annotations` here: lightbulb reads the `invoke` annotations at runtime
to inject services.)
"""

import re
from collections.abc import Iterable, Sequence
from typing import Any

import hikari
import lightbulb

from bot.core.automation import HOURS_MAX
from bot.core.errors import AdminError
from bot.core.models import Button, Panel, Question
from bot.core.panels import (
    ANSWER_MAX,
    BUTTONS_MAX,
    PANEL_DESCRIPTION_MAX,
    PANEL_TITLE_MAX,
    QUESTIONS_MAX,
    PanelService,
    parse_colour,
)
from bot.discord.guild_checks import (
    CATEGORY_TYPES,
    MANAGE_GUILD,
    MANAGE_SERVER_ONLY,
    POSTABLE_TYPES,
    check_category,
    check_emoji,
    check_post_channel,
    check_role,
    check_thread_channel,
    role_id_text,
)
from bot.discord.interaction import answer, cut, guild_of, in_time
from bot.discord.panel_options import (
    BUTTON_CLEARABLE,
    PANEL_CLEARABLE,
    QUESTION_CLEARABLE,
    ButtonOptions,
    QuestionOptions,
    button_option,
    button_options,
    clear_completer,
    panel_option,
    question_option,
    question_options,
)

loader = lightbulb.Loader()
ADMIN = [MANAGE_SERVER_ONLY]


# -- what the admin typed -----------------------------------------------------------------------


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


def _posted(panel: Panel) -> str:
    if panel.channel_id is None:
        return "not posted yet (`/panel post`)"
    return f"posted in <#{panel.channel_id}>"


def _refreshed(panel: Panel) -> str:
    if panel.channel_id is None:
        return f" Not posted: show it with `/panel post panel:{panel.panel_id}`."
    return f" The posted panel in <#{panel.channel_id}> is up to date."


def _in_order(labels: Iterable[str]) -> str:
    """A button's or a question's new order after a move: "1. First, 2. Second"."""
    return ", ".join(f"{place}. {label}" for place, label in enumerate(labels, 1))


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
        parts.append(f"placeholder “{cut(question.placeholder, 60)}”")
    return f"    • **{question.label}** (`{question.question_id}`) · " + " · ".join(parts)


def describe_panel(panel: Panel) -> list[str]:
    """The whole panel, every ID included: what `/panel show` prints."""
    lines = [f"**{panel.title}** (`{panel.panel_id}`) · {_colour(panel.colour)} · {_posted(panel)}"]
    if panel.description:
        lines.append("> " + cut(panel.description, 200).replace("\n", " "))
    if not panel.buttons:
        lines.append(f"No buttons yet: `/panel button add panel:{panel.panel_id}`.")
    else:
        lines.append(f"Buttons ({len(panel.buttons)}/{BUTTONS_MAX}):")
    for i, button in enumerate(panel.buttons, 1):
        lines.append(_button_line(i, button))
        if button.welcome_text:
            lines.append("    welcome: " + cut(button.welcome_text, 100).replace("\n", " "))
        if button.questions:
            lines.append(f"    questions ({len(button.questions)}/{QUESTIONS_MAX}):")
            lines += [_question_line(q) for q in button.questions]
        else:
            lines.append("    no questions")
    return lines


def _find_question(panels: Iterable[Panel], question_id: str) -> tuple[Panel, Button, Question]:
    for panel in panels:
        for button in panel.buttons:
            for question in button.questions:
                if question.question_id == question_id:
                    return panel, button, question
    raise AdminError(f"there is no question {question_id!r} on this server")


# -- /panel …  ----------------------------------------------------------------------------------

panel = lightbulb.Group(
    "panel", "Ticket panels: build, post and edit them", default_member_permissions=MANAGE_GUILD
)
button = panel.subgroup("button", "The buttons of a panel: each opens one kind of ticket")
question = panel.subgroup("question", "Intake questions a button asks before opening a ticket")


@panel.register
class PanelCreate(
    lightbulb.SlashCommand, name="create", description="Create a panel (not posted)", hooks=ADMIN
):
    title = lightbulb.string("title", "Embed title", max_length=PANEL_TITLE_MAX)
    description = lightbulb.string(
        "description", "Embed text", default=None, max_length=PANEL_DESCRIPTION_MAX
    )
    colour = lightbulb.string("colour", "Embed colour as hex, e.g. #5865F2", default=None)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, panels: PanelService) -> None:
        guild = guild_of(ctx)
        colour = parse_colour(self.colour) if self.colour else None
        created = await panels.create_panel(guild, self.title, self.description, colour)
        await answer(
            ctx,
            f"Created panel **{created.title}** (`{created.panel_id}`). Add a button with "
            f"`/panel button add panel:{created.panel_id}`, then post it with `/panel post`.",
        )


@panel.register
class PanelEdit(
    lightbulb.SlashCommand,
    name="edit",
    description="Change a panel's embed; clear: description, colour (comma-separated)",
    hooks=ADMIN,
):
    panel_id = panel_option()
    title = lightbulb.string("title", "New embed title", default=None, max_length=PANEL_TITLE_MAX)
    description = lightbulb.string(
        "description", "New embed text", default=None, max_length=PANEL_DESCRIPTION_MAX
    )
    colour = lightbulb.string("colour", "New colour as hex, e.g. #5865F2", default=None)
    clear = lightbulb.string(
        "clear",
        "Reset: description, colour (comma-separated)",
        default=None,
        autocomplete=clear_completer(PANEL_CLEARABLE),
    )

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, panels: PanelService) -> None:
        guild = guild_of(ctx)
        given = {
            "title": self.title,
            "description": self.description,
            "colour": parse_colour(self.colour) if self.colour else None,
        }
        cleared = parse_clear(self.clear, PANEL_CLEARABLE)
        changes = _changes(
            given, cleared, {"description": ("description", None), "colour": ("colour", None)}
        )
        edited = await in_time(ctx, panels.edit_panel(guild, self.panel_id, **changes))
        await answer(
            ctx, f"Updated panel **{edited.title}** (`{edited.panel_id}`)." + _refreshed(edited)
        )


@panel.register
class PanelDelete(
    lightbulb.SlashCommand,
    name="delete",
    description="Delete a panel, its buttons and its posted message",
    hooks=ADMIN,
):
    panel_id = panel_option()

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, panels: PanelService) -> None:
        deleted = await in_time(ctx, panels.delete_panel(guild_of(ctx), self.panel_id))
        where = (
            f" Its message in <#{deleted.channel_id}> was removed." if deleted.channel_id else ""
        )
        await answer(
            ctx,
            f"Deleted panel **{deleted.title}** (`{deleted.panel_id}`) and its "
            f"{len(deleted.buttons)} button(s).{where}",
        )


@panel.register
class PanelList(
    lightbulb.SlashCommand, name="list", description="This server's panels", hooks=ADMIN
):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, panels: PanelService) -> None:
        found = await panels.panels(guild_of(ctx))
        if not found:
            await answer(ctx, "No panels yet. Create one with `/panel create`.")
            return
        await answer(
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
    hooks=ADMIN,
):
    panel_id = panel_option()

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, panels: PanelService) -> None:
        shown = await panels.panel(guild_of(ctx), self.panel_id)
        await answer(ctx, *describe_panel(shown))


@panel.register
class PanelPost(
    lightbulb.SlashCommand,
    name="post",
    description="Post a panel in a channel; posting again moves it there",
    hooks=ADMIN,
):
    panel_id = panel_option()
    channel = lightbulb.channel(
        "channel", "Text or announcement channel", channel_types=POSTABLE_TYPES
    )

    @lightbulb.invoke
    async def invoke(
        self, ctx: lightbulb.Context, panels: PanelService, bot: hikari.GatewayBot
    ) -> None:
        guild = guild_of(ctx)
        channel_id = check_post_channel(bot, guild, self.channel)
        before = await panels.panel(guild, self.panel_id)
        posted = await in_time(ctx, panels.post_panel(guild, self.panel_id, channel_id))
        moved = (
            f" The copy in <#{before.channel_id}> was removed."
            if before.message_id is not None
            else ""
        )
        await answer(
            ctx,
            f"Posted panel **{posted.title}** (`{posted.panel_id}`) in <#{channel_id}> "
            f"(message `{posted.message_id}`).{moved}",
        )


# -- /panel button …  ---------------------------------------------------------------------------


def _button_fields(bot: hikari.GatewayBot, guild: int, given: ButtonOptions) -> dict[str, Any]:
    """The options given (`ButtonOptions` of a command), emoji and category checked against
    Discord."""
    fields = {
        k: v for k, v in given._asdict().items() if v is not None and k not in ("emoji", "category")
    }
    if given.emoji is not None:
        fields["emoji"] = check_emoji(bot, guild, given.emoji)
    if given.category is not None:
        fields["category_id"] = check_category(bot, guild, given.category)
    return fields


def _given_button(command: Any) -> ButtonOptions:
    return ButtonOptions(*(getattr(command, name) for name in ButtonOptions._fields))


@button.register
class ButtonAdd(
    lightbulb.SlashCommand,
    name="add",
    description="Add a button to a panel (more support roles: /panel button roles)",
    hooks=ADMIN,
):
    panel_id = panel_option()
    label, emoji, style, category, name_pattern, max_open, welcome_text = button_options(
        adding=True
    )
    support_role = lightbulb.role("support_role", "Role that sees the tickets", default=None)

    @lightbulb.invoke
    async def invoke(
        self, ctx: lightbulb.Context, panels: PanelService, bot: hikari.GatewayBot
    ) -> None:
        guild = guild_of(ctx)
        fields = _button_fields(bot, guild, _given_button(self))
        if self.support_role is not None:
            fields["support_role_ids"] = (check_role(bot, guild, self.support_role),)
        added = await in_time(ctx, panels.add_button(guild, self.panel_id, **fields))
        after = await panels.panel(guild, self.panel_id)
        await answer(
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
    hooks=ADMIN,
):
    button_id = button_option()
    label, emoji, style, category, name_pattern, max_open, welcome_text = button_options(
        adding=False
    )
    clear = lightbulb.string(
        "clear",
        "Reset: emoji, category, welcome_text, support_roles (comma-separated)",
        default=None,
        autocomplete=clear_completer(BUTTON_CLEARABLE),
    )

    @lightbulb.invoke
    async def invoke(
        self, ctx: lightbulb.Context, panels: PanelService, bot: hikari.GatewayBot
    ) -> None:
        guild = guild_of(ctx)
        cleared = parse_clear(self.clear, BUTTON_CLEARABLE)
        given = _button_fields(bot, guild, _given_button(self))
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
        edited = await in_time(ctx, panels.edit_button(guild, self.button_id, **changes))
        after = await panels.panel(guild, edited.panel_id)
        await answer(
            ctx,
            f"Updated button **{edited.label}** (`{edited.button_id}`) on panel "
            f"**{after.title}** (`{after.panel_id}`)." + _refreshed(after),
        )


@button.register
class ButtonRemove(
    lightbulb.SlashCommand, name="remove", description="Remove a button", hooks=ADMIN
):
    button_id = button_option()

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, panels: PanelService) -> None:
        guild = guild_of(ctx)
        _, removed = await panels.button(guild, self.button_id)
        after = await in_time(ctx, panels.remove_button(guild, self.button_id))
        await answer(
            ctx,
            f"Removed button **{removed.label}** (`{removed.button_id}`) from panel "
            f"**{after.title}** (`{after.panel_id}`); {len(after.buttons)} button(s) left."
            + _refreshed(after),
        )


@button.register
class ButtonMove(
    lightbulb.SlashCommand,
    name="move",
    description="Move a button to another position",
    hooks=ADMIN,
):
    button_id = button_option()
    position = lightbulb.integer(
        "position", "New position, 1 = first", min_value=1, max_value=BUTTONS_MAX
    )

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, panels: PanelService) -> None:
        guild = guild_of(ctx)
        after = await in_time(ctx, panels.move_button(guild, self.button_id, self.position))
        moved = after.button(self.button_id)
        assert moved is not None
        order = _in_order(b.label for b in after.buttons)
        await answer(
            ctx,
            f"Moved **{moved.label}** (`{moved.button_id}`) to position {moved.position + 1} "
            f"on panel **{after.title}** (`{after.panel_id}`): {order}." + _refreshed(after),
        )


@button.register
class ButtonRoles(
    lightbulb.SlashCommand,
    name="roles",
    description="Add a support role to a button, or remove one with remove:True",
    hooks=ADMIN,
):
    button_id = button_option()
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
        guild = guild_of(ctx)
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
        edited = await in_time(
            ctx, panels.edit_button(guild, self.button_id, support_role_ids=roles)
        )
        listed = " ".join(f"<@&{r}>" for r in edited.support_role_ids) or "none"
        await answer(
            ctx,
            f"Support roles of **{edited.label}** (`{edited.button_id}`): {listed}. "
            "They see and answer its tickets.",
        )


def _hours(value: float) -> str:
    return f"{value:g} hour" + ("" if value == 1 else "s")


@button.register
class ButtonOverflow(
    lightbulb.SlashCommand,
    name="overflow",
    description="Categories to use, in order, when the button's category is full",
    hooks=ADMIN,
):
    button_id = button_option()
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
        guild = guild_of(ctx)
        picked = [c for c in (self.first, self.second, self.third) if c is not None]
        ids = tuple(dict.fromkeys(check_category(bot, guild, c) for c in picked))
        edited = await in_time(
            ctx, panels.edit_button(guild, self.button_id, overflow_category_ids=ids)
        )
        if not ids:
            await answer(
                ctx,
                f"**{edited.label}** has no overflow categories: when its category is full the "
                "bot creates the next one itself.",
            )
            return
        order = ", ".join(f"<#{c}>" for c in ids)
        await answer(ctx, f"When its category is full, **{edited.label}** uses {order}, in order.")


@button.register
class ButtonThreads(
    lightbulb.SlashCommand,
    name="threads",
    description="Open this button's tickets as private threads of a channel (none: as channels)",
    hooks=ADMIN,
):
    button_id = button_option()
    channel = lightbulb.channel(
        "channel",
        "The channel whose private threads are the tickets; leave out for channels",
        default=None,
        channel_types=(hikari.ChannelType.GUILD_TEXT,),
    )

    @lightbulb.invoke
    async def invoke(
        self, ctx: lightbulb.Context, panels: PanelService, bot: hikari.GatewayBot
    ) -> None:
        guild = guild_of(ctx)
        if self.channel is None:
            edited = await in_time(
                ctx, panels.edit_button(guild, self.button_id, thread_channel_id=None)
            )
            await answer(ctx, f"**{edited.label}** opens its tickets as channels again.")
            return
        channel_id = check_thread_channel(bot, guild, self.channel)
        edited = await in_time(
            ctx,
            panels.edit_button(
                guild,
                self.button_id,
                thread_channel_id=channel_id,
                category_id=None,
                overflow_category_ids=(),
            ),
        )
        await answer(
            ctx,
            f"**{edited.label}** now opens its tickets as private threads of <#{channel_id}>: "
            "the opener is added, and up to 10 members of its support roles (members who may "
            "Manage Threads there see every ticket anyway).",
        )


@button.register
class ButtonInactivity(
    lightbulb.SlashCommand,
    name="inactivity",
    description="This button's own inactivity auto-close (overrides the server's)",
    hooks=ADMIN,
):
    button_id = button_option()
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
        guild = guild_of(ctx)
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
        edited = await in_time(ctx, panels.edit_button(guild, self.button_id, **changes))
        if edited.inactivity_warn_hours is None:
            what = "uses the server's inactivity setting"
        elif edited.inactivity_warn_hours == 0:
            what = "never closes for inactivity"
        else:
            close = edited.inactivity_close_hours
            later = f", closes {_hours(close)} later" if close else ""
            what = f"warns after {_hours(edited.inactivity_warn_hours)} of silence{later}"
        await answer(ctx, f"Tickets from **{edited.label}** {what} (for tickets opened from now).")


# -- /panel question …  -------------------------------------------------------------------------


def _given_question(command: Any) -> dict[str, Any]:
    """The `QuestionOptions` a command was given, by name."""
    return {name: getattr(command, name) for name in QuestionOptions._fields}


@question.register
class QuestionAdd(
    lightbulb.SlashCommand,
    name="add",
    description=f"Add a question to a button's form (at most {QUESTIONS_MAX})",
    hooks=ADMIN,
):
    button_id = button_option()
    label, placeholder, style, required, min_length, max_length = question_options(adding=True)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, panels: PanelService) -> None:
        guild = guild_of(ctx)
        given = {k: v for k, v in _given_question(self).items() if v is not None}
        added = await in_time(ctx, panels.add_question(guild, self.button_id, **given))
        panel_, owner = await panels.button(guild, self.button_id)
        await answer(
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
    hooks=ADMIN,
):
    question_id = question_option()
    label, placeholder, style, required, min_length, max_length = question_options(adding=False)
    clear = lightbulb.string(
        "clear",
        "Reset: placeholder, min_length, max_length (comma-separated)",
        default=None,
        autocomplete=clear_completer(QUESTION_CLEARABLE),
    )

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, panels: PanelService) -> None:
        guild = guild_of(ctx)
        cleared = parse_clear(self.clear, QUESTION_CLEARABLE)
        changes = _changes(
            _given_question(self), cleared, {n: (n, None) for n in QUESTION_CLEARABLE}
        )
        edited = await in_time(ctx, panels.edit_question(guild, self.question_id, **changes))
        panel_, owner, _ = _find_question(await panels.panels(guild), edited.question_id)
        await answer(
            ctx,
            f"Updated question **{edited.label}** (`{edited.question_id}`) of button "
            f"**{owner.label}** (`{owner.button_id}`)." + _refreshed(panel_),
        )


@question.register
class QuestionRemove(
    lightbulb.SlashCommand, name="remove", description="Remove a question", hooks=ADMIN
):
    question_id = question_option()

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, panels: PanelService) -> None:
        guild = guild_of(ctx)
        _, _, removed = _find_question(await panels.panels(guild), self.question_id)
        owner = await in_time(ctx, panels.remove_question(guild, self.question_id))
        panel_ = await panels.panel(guild, owner.panel_id)
        await answer(
            ctx,
            f"Removed question **{removed.label}** (`{removed.question_id}`) from button "
            f"**{owner.label}** (`{owner.button_id}`); {len(owner.questions)} left."
            + _refreshed(panel_),
        )


@question.register
class QuestionMove(
    lightbulb.SlashCommand,
    name="move",
    description="Move a question to another place in its button's form",
    hooks=ADMIN,
):
    question_id = question_option()
    position = lightbulb.integer(
        "position", "New place in the form, 1 = first", min_value=1, max_value=QUESTIONS_MAX
    )

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, panels: PanelService) -> None:
        guild = guild_of(ctx)
        owner = await in_time(ctx, panels.move_question(guild, self.question_id, self.position))
        panel_ = await panels.panel(guild, owner.panel_id)
        place = [q.question_id for q in owner.questions].index(self.question_id)
        order = _in_order(q.label for q in owner.questions)
        await answer(
            ctx,
            f"Moved question **{owner.questions[place].label}** (`{self.question_id}`) to "
            f"place {place + 1} in the form of button **{owner.label}** (`{owner.button_id}`): "
            f"{order}." + _refreshed(panel_),
        )


loader.command(panel)
