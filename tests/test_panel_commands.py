"""`/panel …` as an admin runs it in Discord, through the emulator, checked on what Discord shows.

Category, channel and role options are Discord's channel (7) and role (8) options: tests send the
picked channel's or role's ID and the emulator adds the `resolved` data, like Discord.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.app import Rimpllee
from bot.core.models import Panel
from bot.discord import interaction, panel_commands
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import (
    DEMO_PANEL_ID,
    HELP_BUTTON_ID,
    HELP_QUESTION,
    REPORT_BUTTON_ID,
    SandboxWorld,
)
from bot.sandbox.state import (
    GUILD_CATEGORY,
    OVERWRITE_ROLE,
    VIEW_CHANNEL,
    Message,
    Overwrite,
)
from bot.store.panels import SqlitePanelStore
from tests.helpers import EPHEMERAL, answer, channel_named, options, role_named, wait_for
from tests.helpers import run as run_in

pytestmark = pytest.mark.asyncio

PANEL_ID = re.compile(r"pnl_[a-z0-9]{8}")
BUTTON_ID = re.compile(r"btn_[a-z0-9]{8}")
QUESTION_ID = re.compile(r"qst_[a-z0-9]{8}")


async def run(
    emulator: DiscordEmulator,
    world: SandboxWorld,
    name: str,
    *,
    user_id: int | None = None,
    **values: Any,
) -> str:
    """`/panel name` in the panel channel, as the admin unless `user_id`; the answer read."""
    return await run_in(emulator, world, world.panel_channel_id, "panel " + name, user_id, **values)


async def complete(
    emulator: DiscordEmulator,
    world: SandboxWorld,
    name: str,
    focused: str,
    typed: str,
    *,
    user_id: int | None = None,
) -> list[tuple[str, str]]:
    """The autocomplete choices offered while `typed` is in option `focused`."""
    opts = [{"name": focused, "type": 3, "value": typed, "focused": True}]
    record = await emulator.run_command(
        world.guild.id,
        user_id or world.admin.id,
        world.panel_channel_id,
        "panel " + name,
        opts,
        autocomplete=True,
    )
    response = await record.wait_response()
    assert response["type"] == 8
    return [(c["name"], c["value"]) for c in response["data"]["choices"]]


def found(pattern: re.Pattern[str], text: str) -> str:
    match = pattern.search(text)
    assert match is not None, text
    return match.group()


async def stored(app: Rimpllee, world: SandboxWorld, panel_id: str) -> Panel | None:
    assert app.db is not None
    return await SqlitePanelStore(app.db).get_panel(world.guild.id, panel_id)


async def stored_panels(app: Rimpllee, world: SandboxWorld) -> list[Panel]:
    assert app.db is not None
    return await SqlitePanelStore(app.db).list_panels(world.guild.id)


def only_message(emulator: DiscordEmulator, channel_id: int) -> Message:
    messages = list(emulator.state.messages[channel_id].values())
    assert len(messages) == 1, messages
    return messages[0]


def buttons_of(message: Message) -> list[dict[str, Any]]:
    return [c for row in message.components for c in row["components"]]


async def build_panel(emulator: DiscordEmulator, world: SandboxWorld) -> tuple[str, str, str, str]:
    """Panel, two buttons and a question, all by commands; returns their IDs."""
    created = await run(
        emulator,
        world,
        "create",
        title="Support",
        description="Pick a topic",
        colour="#00AA55",
    )
    panel_id = found(PANEL_ID, created)
    billing = await run(
        emulator,
        world,
        "button add",
        panel_=panel_id,
        label="Billing",
        emoji="💳",
        style="success",
        category=world.guild.channels[world.category_id],
        support_role=world.guild.roles[world.support_role_id],
        name_pattern="billing-{number}",
        max_open=2,
        welcome_text="Tell us your invoice number.",
    )
    billing_id = found(BUTTON_ID, billing)
    other = await run(emulator, world, "button add", panel_=panel_id, label="Other")
    other_id = found(BUTTON_ID, other)
    asked = await run(
        emulator,
        world,
        "question add",
        button=billing_id,
        label="Invoice number",
        placeholder="INV-0000",
        min_length=4,
        max_length=20,
    )
    return panel_id, billing_id, other_id, found(QUESTION_ID, asked)


async def test_panel_is_registered_for_manage_server_only(
    app: Rimpllee, emulator: DiscordEmulator
) -> None:
    command = next(c for c in emulator.state.commands[None] if c["name"] == "panel")
    assert command["default_member_permissions"] == str(1 << 5)
    subs = {o["name"]: o for o in command["options"]}
    assert set(subs) == {"create", "edit", "delete", "list", "show", "post", "button", "question"}
    nested = {o["name"] for o in subs["button"]["options"]}
    assert nested == {"add", "edit", "remove", "move", "roles", "overflow", "inactivity", "threads"}
    assert {o["name"] for o in subs["question"]["options"]} == {"add", "edit", "remove", "move"}

    leaves = [o for o in subs.values() if o["type"] == 1]
    leaves += [s for g in subs.values() if g["type"] == 2 for s in g["options"]]
    for leaf in leaves:
        required = [bool(o.get("required")) for o in leaf.get("options") or []]
        assert required == sorted(required, reverse=True), f"{leaf['name']}: required first"
    add = {o["name"]: o for o in next(s for s in leaves if s["name"] == "add")["options"]}
    assert add["label"]["max_length"] == 80  # Discord's client refuses longer labels
    assert add["panel"]["autocomplete"] is True

    # Categories, channels and roles are Discord's own pickers (7: channel, 8: role), not strings.
    def options_of(group: str, name: str) -> dict[str, Any]:
        (leaf,) = [s for s in subs[group]["options"] if s["name"] == name]
        return {o["name"]: o for o in leaf["options"]}

    for name in ("add", "edit"):
        category = options_of("button", name)["category"]
        assert (category["type"], category["channel_types"]) == (7, [4]), name  # categories only
        assert not category.get("autocomplete")
    assert options_of("button", "add")["support_role"]["type"] == 8
    channel = {o["name"]: o for o in subs["post"]["options"]}["channel"]
    assert (channel["type"], channel["channel_types"], channel["required"]) == (7, [0, 5], True)
    roles = options_of("button", "roles")
    assert [(n, o["type"], bool(o.get("required"))) for n, o in roles.items()] == [
        ("button", 3, True),
        ("role", 8, False),
        ("remove", 5, False),
        ("role_id", 3, False),  # only to remove a role deleted since: Discord no longer lists it
    ]
    assert "deleted" in roles["role_id"]["description"]


async def test_build_and_post_a_panel_entirely_by_commands(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    panel_id, billing_id, other_id, question_id = await build_panel(emulator, world)

    panel = await stored(app, world, panel_id)
    assert panel is not None
    assert (panel.title, panel.description, panel.colour) == ("Support", "Pick a topic", 0x00AA55)
    billing, other = panel.buttons
    assert billing.button_id == billing_id
    assert (billing.emoji, billing.style, billing.category_id) == (
        "💳",
        "success",
        world.category_id,
    )
    assert billing.support_role_ids == (world.support_role_id,)
    assert (billing.name_pattern, billing.max_open) == ("billing-{number}", 2)
    assert billing.welcome_text == "Tell us your invoice number."
    (question,) = billing.questions
    assert (question.question_id, question.label, question.placeholder) == (
        question_id,
        "Invoice number",
        "INV-0000",
    )
    assert (question.min_length, question.max_length, question.required) == (4, 20, True)
    assert (other.button_id, other.label, other.style, other.max_open) == (
        other_id,
        "Other",
        "primary",
        1,
    )

    panels_channel = world.guild.channels[world.panel_channel_id]
    posted = await run(emulator, world, "post", panel_=panel_id, channel=panels_channel)
    assert panel_id in posted
    assert f"<#{world.panel_channel_id}>" in posted
    demo_and_ours = emulator.state.messages[world.panel_channel_id]
    (message,) = demo_and_ours.values()
    assert str(message.id) in posted
    assert message.embeds[0]["title"] == "Support"
    assert message.embeds[0]["description"] == "Pick a topic"
    assert [(b["label"], b["custom_id"]) for b in buttons_of(message)] == [
        ("Billing", f"rmp:open:{billing_id}"),
        ("Other", f"rmp:open:{other_id}"),
    ]
    assert buttons_of(message)[0]["emoji"]["name"] == "💳"

    shown = await run(emulator, world, "show", panel_=panel_id)
    for item in (panel_id, billing_id, other_id, question_id, "Invoice number", "billing-{number}"):
        assert item in shown
    assert f"<@&{world.support_role_id}>" in shown

    listed = await run(emulator, world, "list")
    assert panel_id in listed
    assert DEMO_PANEL_ID in listed
    assert f"posted in <#{world.panel_channel_id}>" in listed


async def test_changes_refresh_the_posted_panel_in_place(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    panel_id, billing_id, other_id, question_id = await build_panel(emulator, world)
    panels_channel = world.guild.channels[world.panel_channel_id]
    await run(emulator, world, "post", panel_=panel_id, channel=panels_channel)
    message_id = only_message(emulator, world.panel_channel_id).id

    edited = await run(emulator, world, "edit", panel_=panel_id, title="Help desk", clear="colour")
    assert "Help desk" in edited
    assert panel_id in edited
    await run(emulator, world, "button edit", button=other_id, label="Something else")
    message = only_message(emulator, world.panel_channel_id)
    assert message.id == message_id
    assert message.edited_at is not None
    assert message.embeds[0]["title"] == "Help desk"
    assert [b["label"] for b in buttons_of(message)] == ["Billing", "Something else"]

    moved = await run(emulator, world, "button move", button=other_id, position=1)
    assert "1. Something else, 2. Billing" in moved
    message = only_message(emulator, world.panel_channel_id)
    assert message.id == message_id
    assert [b["custom_id"] for b in buttons_of(message)] == [
        f"rmp:open:{other_id}",
        f"rmp:open:{billing_id}",
    ]

    # Questions reorder like buttons; the posted panel is refreshed after the change too.
    second = found(
        QUESTION_ID,
        await run(emulator, world, "question add", button=billing_id, label="Order date"),
    )
    only_message(emulator, world.panel_channel_id).edited_at = None
    moved_q = await run(emulator, world, "question move", question=second, position=1)
    assert "1. Order date, 2. Invoice number" in moved_q
    assert second in moved_q
    assert only_message(emulator, world.panel_channel_id).edited_at is not None
    panel = await stored(app, world, panel_id)
    assert panel is not None
    assert [q.question_id for q in panel.buttons[1].questions] == [second, question_id]
    last = await run(emulator, world, "question move", question=second, position=5)
    assert "1. Invoice number, 2. Order date" in last  # clamped to the form's end
    unknown = await run(emulator, world, "question move", question="qst_nope", position=1)
    assert "there is no question 'qst_nope' on this server" in unknown
    await run(emulator, world, "question remove", question=second)

    removed = await run(emulator, world, "question remove", question=question_id)
    assert question_id in removed
    assert billing_id in removed
    cleared = await run(
        emulator, world, "button edit", button=billing_id, clear="emoji, category, support_roles"
    )
    assert billing_id in cleared
    panel = await stored(app, world, panel_id)
    assert panel is not None
    assert panel.colour is None
    assert [b.button_id for b in panel.buttons] == [other_id, billing_id]
    billing = panel.buttons[1]
    assert billing.questions == ()
    assert (billing.emoji, billing.category_id, billing.support_role_ids) == (None, None, ())
    assert billing.welcome_text == "Tell us your invoice number."  # not cleared, kept
    assert "emoji" not in buttons_of(only_message(emulator, world.panel_channel_id))[1]

    edited_q = await run(
        emulator, world, "question edit", question="qst_help_topic", required=False
    )
    assert "qst_help_topic" in edited_q
    demo = await stored(app, world, DEMO_PANEL_ID)
    assert demo is not None
    assert demo.buttons[0].questions[0].required is False


async def test_support_roles_are_added_and_removed_one_at_a_time(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    admins = role_named(world, "Admins")
    support = world.guild.roles[world.support_role_id]
    added = await run(emulator, world, "button roles", button=HELP_BUTTON_ID, role=admins)
    assert f"<@&{world.support_role_id}> <@&{admins.id}>" in added
    removed = await run(
        emulator, world, "button roles", button=HELP_BUTTON_ID, role=support, remove=True
    )
    assert f"<@&{admins.id}>" in removed
    assert f"<@&{world.support_role_id}>" not in removed
    demo = await stored(app, world, DEMO_PANEL_ID)
    assert demo is not None
    assert demo.buttons[0].support_role_ids == (admins.id,)

    twice = await run(emulator, world, "button roles", button=HELP_BUTTON_ID, role=admins)
    assert "already a support role" in twice
    absent = await run(
        emulator, world, "button roles", button=HELP_BUTTON_ID, role=support, remove=True
    )
    assert "is not a support role" in absent
    # Discord's role picker offers @everyone.
    everyone = await run(
        emulator, world, "button roles", button=HELP_BUTTON_ID, role=world.guild.everyone
    )
    assert "@everyone cannot be a support role" in everyone
    demo = await stored(app, world, DEMO_PANEL_ID)
    assert demo is not None
    assert demo.buttons[0].support_role_ids == (admins.id,)


async def test_a_support_role_deleted_since_is_removed_by_its_id(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    guild = str(world.guild.id)
    cache = app.discord.bot.cache
    helpers = emulator.state.add_role(world.guild, "Helpers")
    await emulator.publish("GUILD_ROLE_CREATE", {"guild_id": guild, "role": helpers.payload()})
    await wait_for(lambda: cache.get_role(helpers.id) is not None)
    added = await run(emulator, world, "button roles", button=REPORT_BUTTON_ID, role=helpers)
    assert f"<@&{helpers.id}>" in added

    del world.guild.roles[helpers.id]
    await emulator.publish("GUILD_ROLE_DELETE", {"guild_id": guild, "role_id": str(helpers.id)})
    await wait_for(lambda: cache.get_role(helpers.id) is None)
    # Discord's role picker no longer lists it: its ID, as text, is the way to remove it.
    gone = str(helpers.id)

    async def roles(**values: Any) -> str:
        return await run(emulator, world, "button roles", button=REPORT_BUTTON_ID, **values)

    assert "give `role`" in await roles(remove=True)
    assert "give `role`" in await roles(role=world.guild.roles[world.support_role_id], role_id=gone)
    assert "only removes a role deleted since" in await roles(role_id=gone)
    assert "is not a role ID" in await roles(role_id="Helpers", remove=True)
    assert "is not a support role" in await roles(role_id=str(world.guild.id), remove=True)
    demo = await stored(app, world, DEMO_PANEL_ID)
    assert demo is not None
    assert helpers.id in demo.buttons[1].support_role_ids

    removed = await roles(role_id=f"<@&{gone}>", remove=True)
    assert f"<@&{gone}>" not in removed
    demo = await stored(app, world, DEMO_PANEL_ID)
    assert demo is not None
    assert helpers.id not in demo.buttons[1].support_role_ids


async def test_reposting_moves_the_panel_and_deleting_removes_it(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    general = channel_named(world, "general")
    await run(emulator, world, "post", panel_=DEMO_PANEL_ID, channel=channel_named(world, "panels"))
    assert len(emulator.state.messages[world.panel_channel_id]) == 1

    moved = await run(emulator, world, "post", panel_=DEMO_PANEL_ID, channel=general)
    assert f"The copy in <#{world.panel_channel_id}> was removed" in moved
    assert emulator.state.messages[world.panel_channel_id] == {}
    message = only_message(emulator, general.id)
    assert [b["custom_id"] for b in buttons_of(message)] == [
        f"rmp:open:{HELP_BUTTON_ID}",
        f"rmp:open:{REPORT_BUTTON_ID}",
    ]

    deleted = await run(emulator, world, "delete", panel_=DEMO_PANEL_ID)
    assert DEMO_PANEL_ID in deleted
    assert f"Its message in <#{general.id}> was removed" in deleted
    assert emulator.state.messages[general.id] == {}
    assert await stored(app, world, DEMO_PANEL_ID) is None
    assert "No panels yet" in await run(emulator, world, "list")


async def test_autocomplete_offers_this_servers_items(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    assert await complete(emulator, world, "show", "panel", "need") == [
        ("Need a hand? (pnl_demo)", DEMO_PANEL_ID)
    ]
    assert await complete(emulator, world, "show", "panel", "PNL_DE") == [
        ("Need a hand? (pnl_demo)", DEMO_PANEL_ID)
    ]
    assert await complete(emulator, world, "show", "panel", "nothing like it") == []
    assert await complete(emulator, world, "button move", "button", "report") == [
        ("Need a hand? > Report a player (btn_report)", REPORT_BUTTON_ID)
    ]
    assert [v for _, v in await complete(emulator, world, "button remove", "button", "")] == [
        HELP_BUTTON_ID,
        REPORT_BUTTON_ID,
    ]
    assert await complete(emulator, world, "question edit", "question", "what do") == [
        (f"Get help > {HELP_QUESTION} (qst_help_topic)", "qst_help_topic")
    ]
    clear = await complete(emulator, world, "button edit", "clear", "emoji,")
    assert [v for _, v in clear] == ["emoji,category", "emoji,welcome_text", "emoji,support_roles"]

    # Members who cannot manage the server are not shown the server's panels.
    member = world.members[0].id
    assert await complete(emulator, world, "show", "panel", "", user_id=member) == []


async def test_autocomplete_offers_at_most_25_choices(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    for i in range(27):
        await run(emulator, world, "create", title=f"Panel {i:02d}")
    choices = await complete(emulator, world, "delete", "panel", "panel ")
    assert len(choices) == 25
    assert all(re.fullmatch(r"Panel \d\d \(pnl_[a-z0-9]{8}\)", name) for name, _ in choices)
    assert all(name.endswith(f"({value})") for name, value in choices)


async def test_members_without_manage_server_are_refused(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    member = world.members[0].id
    refused = await run(emulator, world, "create", user_id=member, title="Mine now")
    assert "Manage Server" in refused
    deleted = await run(emulator, world, "delete", user_id=member, panel_=DEMO_PANEL_ID)
    assert "Manage Server" in deleted
    assert [p.panel_id for p in await stored_panels(app, world)] == [DEMO_PANEL_ID]


async def test_refusals_save_nothing(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    before = await stored_panels(app, world)
    general = channel_named(world, "general")
    hidden = emulator.state.add_channel(
        world.guild,
        "Staff only",
        type=GUILD_CATEGORY,
        overwrites=[Overwrite(world.guild.id, OVERWRITE_ROLE, allow=0, deny=VIEW_CHANNEL)],
    )
    await emulator.publish("CHANNEL_CREATE", hidden.payload())
    # Made while the bot was not looking (no event): Discord resolves them, the bot's cache has not.
    unseen = emulator.state.add_channel(world.guild, "Unseen", type=GUILD_CATEGORY)
    moderators = emulator.state.add_role(world.guild, "Moderators")

    async def refused(name: str, **values: Any) -> str:
        return await run(emulator, world, name, **values)

    # Only the service can tell (Discord's client enforces max_length; the server checks again).
    assert "Discord allows at most 80" in await refused(
        "button add", panel_=DEMO_PANEL_ID, label="x" * 81
    )
    assert "min_length (30) is more than max_length (10)" in await refused(
        "question add", button=REPORT_BUTTON_ID, label="Who?", min_length=30, max_length=10
    )
    assert "two questions have the same label" in await refused(
        "question add", button=HELP_BUTTON_ID, label=HELP_QUESTION.upper()
    )
    assert await stored_panels(app, world) == before
    for i in range(4):
        await run(emulator, world, "question add", button=HELP_BUTTON_ID, label=f"Q{i}")
    before = await stored_panels(app, world)
    assert len(before[0].buttons[0].questions) == 5
    assert "at most 5 questions" in await refused(
        "question add", button=HELP_BUTTON_ID, label="One too many"
    )

    # Only Discord (the bot's view of the server) can tell.
    assert "is not an emoji" in await refused("button edit", button=REPORT_BUTTON_ID, emoji="smile")
    assert "is not an emoji" in await refused("button edit", button=REPORT_BUTTON_ID, emoji="é")
    foreign = "<:party:123456789012345678>"
    assert "not a custom emoji of this server" in await refused(
        "button add", panel_=DEMO_PANEL_ID, label="Party", emoji=foreign
    )
    # Discord's client only offers categories (text channels for `post`), but a crafted or stale
    # interaction can carry any channel: the bot checks its own view of it.
    assert "#general is not a category" in await refused(
        "button add", panel_=DEMO_PANEL_ID, label="Oops", category=general
    )
    assert "the bot cannot see 'Staff only'" in await refused(
        "button edit", button=REPORT_BUTTON_ID, category=hidden
    )
    assert f"does not know a category 'Unseen' ({unseen.id})" in await refused(
        "button edit", button=REPORT_BUTTON_ID, category=unseen
    )
    assert "not a text channel" in await refused(
        "post", panel_=DEMO_PANEL_ID, channel=world.guild.channels[world.category_id]
    )
    assert f"does not know a role 'Moderators' ({moderators.id})" in await refused(
        "button roles", button=REPORT_BUTTON_ID, role=moderators
    )
    assert "does not know a role 'Moderators'" in await refused(
        "button add", panel_=DEMO_PANEL_ID, label="Mods", support_role=moderators
    )
    assert "not a colour" in await refused("edit", panel_=DEMO_PANEL_ID, colour="blurple")

    # What the command itself refuses.
    assert "nothing to change" in await refused("edit", panel_=DEMO_PANEL_ID)
    assert "both set and cleared" in await refused(
        "button edit", button=REPORT_BUTTON_ID, emoji="🎫", clear="emoji"
    )
    assert "cannot clear label" in await refused(
        "button edit", button=REPORT_BUTTON_ID, clear="label"
    )
    assert "there is no panel 'pnl_nope'" in await refused("show", panel_="pnl_nope")
    assert "there is no button 'btn_nope'" in await refused("button remove", button="btn_nope")
    assert "there is no question 'qst_nope'" in await refused(
        "question remove", question="qst_nope"
    )

    assert await stored_panels(app, world) == before
    assert all(m == {} for m in emulator.state.messages.values())


async def test_a_full_panel_is_refused_at_the_26th_button(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    panel_id = found(PANEL_ID, await run(emulator, world, "create", title="Big"))
    for i in range(25):
        await run(emulator, world, "button add", panel_=panel_id, label=f"B{i}")
    refused = await run(emulator, world, "button add", panel_=panel_id, label="B25")
    assert "at most 25 buttons" in refused
    panel = await stored(app, world, panel_id)
    assert panel is not None
    assert len(panel.buttons) == 25


async def test_long_answers_are_split_and_a_slow_discord_is_deferred(
    app: Rimpllee,
    emulator: DiscordEmulator,
    world: SandboxWorld,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    panel_id = found(PANEL_ID, await run(emulator, world, "create", title="Big"))
    button_ids = []
    for i in range(12):
        added = await run(emulator, world, "button add", panel_=panel_id, label=f"Topic {i}")
        button_ids.append(found(BUTTON_ID, added))
        for j in range(3):
            await run(
                emulator,
                world,
                "question add",
                button=button_ids[-1],
                label=f"Question {j} about topic {i}, in some detail",
                placeholder="p" * 60,
            )
    record = await emulator.run_command(
        world.guild.id,
        world.admin.id,
        world.panel_channel_id,
        "panel show",
        options(panel_=panel_id),
    )
    panel = await stored(app, world, panel_id)
    assert panel is not None
    expected = interaction.chunk_lines(panel_commands.describe_panel(panel))
    assert len(expected) > 1
    first = await answer(record)
    followups = await record.wait_followup(len(expected) - 1)
    contents = [first, *(f["content"] for f in followups)]
    assert contents == expected
    assert all(len(c) <= 2000 for c in contents)
    assert all(f["flags"] & EPHEMERAL for f in followups)
    for button_id in button_ids:
        assert button_id in "\n".join(contents)

    await run(emulator, world, "post", panel_=panel_id, channel=channel_named(world, "panels"))
    monkeypatch.setattr(interaction, "ANSWER_WITHIN_S", 0.05)
    emulator.inject_fault("PATCH", "/channels/{channel_id}/messages/{message_id}", None, delay=0.5)
    record = await emulator.run_command(
        world.guild.id,
        world.admin.id,
        world.panel_channel_id,
        "panel edit",
        options(panel_=panel_id, title="Slow"),
    )
    text = await answer(record)
    assert record.response["type"] == 5
    assert "Updated panel **Slow**" in text
    assert only_message(emulator, world.panel_channel_id).embeds[0]["title"] == "Slow"
