"""`/ticket …` and `/settings …` as members and admins run them in Discord, through the emulator.

Tickets are opened through the API; every `/ticket` command runs in the ticket's own channel. The
sandbox admin holds the Support role (staff of the demo buttons) and Manage Server; plain members
are neither. Channel and role options are sent as Discord's pickers send them (type 7 or 8 with the
ID); the emulator resolves them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import Rimpllee
from bot.core.models import ServerSettings, Ticket
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import HELP_BUTTON_ID, REPORT_BUTTON_ID, SandboxWorld
from bot.sandbox.state import (
    ATTACH_FILES,
    GUILD_CATEGORY,
    OVERWRITE_MEMBER,
    OVERWRITE_ROLE,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    Channel,
    Message,
    Overwrite,
)
from bot.store.settings import SqliteSettingsStore
from bot.store.tickets import SqliteLifecycleStore
from tests.conftest import FakeClock
from tests.helpers import (
    EPHEMERAL,
    HELP_ANSWER,
    answer,
    channel_named,
    command,
    error,
    open_ticket,
    post,
    role_named,
    row,
    run,
    settings,
    ticket,
    wait_for,
)

pytestmark = pytest.mark.asyncio


# -- helpers ------------------------------------------------------------------------------------


async def stored_settings(app: Rimpllee, world: SandboxWorld) -> ServerSettings:
    assert app.db is not None
    return await SqliteSettingsStore(app.db).get(world.guild.id)


async def closed(app: Rimpllee, ticket_id: int) -> Ticket:
    assert app.db is not None
    store = SqliteLifecycleStore(app.db)

    async def is_closed() -> bool:
        found = await store.by_id(ticket_id)
        return found is not None and found.state == "closed"

    await wait_for(is_closed)
    found = await store.by_id(ticket_id)
    assert found is not None
    return found


async def new_channel(
    app: Rimpllee,
    emulator: DiscordEmulator,
    world: SandboxWorld,
    name: str,
    *,
    type: int = 0,
    overwrites: list[Overwrite] | None = None,
) -> Channel:
    """A channel made by hand in Discord, once the bot's cache has it."""
    channel = emulator.state.add_channel(world.guild, name, type=type, overwrites=overwrites)
    await emulator.publish("CHANNEL_CREATE", channel.payload())
    cache = app.discord.bot.cache
    await wait_for(lambda: cache.get_guild_channel(channel.id) is not None)
    return channel


def cached_name(app: Rimpllee, channel_id: int) -> str | None:
    channel = app.discord.bot.cache.get_guild_channel(channel_id)
    return channel.name if channel else None


def can(world: SandboxWorld, user_id: int, channel: Channel, perm: int) -> bool:
    return bool(world.guild.permissions(user_id, channel) & perm)


def public_lines(emulator: DiscordEmulator, channel_id: int) -> list[Message]:
    """What the bot posted in the channel through interactions (visible to everyone there)."""
    return [
        m
        for m in emulator.state.messages[channel_id].values()
        if m.application_id is not None and m.webhook_id is not None
    ]


# -- registration and where commands run ---------------------------------------------------------


async def test_ticket_is_for_everyone_and_settings_for_managers(
    app: Rimpllee, emulator: DiscordEmulator
) -> None:
    commands = {c["name"]: c for c in emulator.state.commands[None]}
    assert commands["ticket"]["default_member_permissions"] is None
    assert commands["settings"]["default_member_permissions"] == str(1 << 5)
    subs = {o["name"] for o in commands["ticket"]["options"]}
    assert subs == {
        "close",
        "claim",
        "unclaim",
        "add",
        "remove",
        "rename",
        "transcript",
        "reopen",
        "delete",
        "close-request",
        "exempt",
    }
    settings_subs = {o["name"]: o for o in commands["settings"]["options"]}
    assert set(settings_subs) == {
        "show",
        "log-channel",
        "close-mode",
        "opener-can-close",
        "dm-transcript",
        "claim-locks",
        "max-open",
        "inactivity",
        "opener-left",
        "feedback",
    }
    mode, archive = settings_subs["close-mode"]["options"]
    assert [c["value"] for c in mode["choices"]] == ["delete", "archive"]
    # Discord's own pickers: categories only, text and announcement channels only, roles.
    assert (archive["name"], archive["type"], archive["channel_types"]) == (
        "archive_category",
        7,
        [4],
    )
    (log,) = settings_subs["log-channel"]["options"]
    assert (log["type"], log["channel_types"], bool(log.get("required"))) == (7, [0, 5], False)
    ticket_subs = {o["name"]: o for o in commands["ticket"]["options"]}
    for name in ("add", "remove"):
        kinds = {o["name"]: o["type"] for o in ticket_subs[name]["options"]}
        assert kinds == {"member": 6, "role": 8}, name
    count = settings_subs["max-open"]["options"][0]
    assert (count["min_value"], count["max_value"]) == (1, 25)


async def test_ticket_commands_outside_a_ticket_say_so(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    for name in ("close", "claim", "unclaim", "rename", "transcript", "reopen", "delete"):
        values = {"name": "x"} if name == "rename" else {}
        text = await run(emulator, world, world.panel_channel_id, "ticket " + name, **values)
        assert text == "this channel is not a ticket", name
    added = await run(
        emulator, world, world.panel_channel_id, "ticket add", member=world.members[1]
    )
    assert added == "this channel is not a ticket"


# -- claim ----------------------------------------------------------------------------------------


async def test_staff_claim_and_unclaim_with_a_public_line(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    opener = world.members[0].id
    channel_id = await open_ticket(app, opener)

    refused = await run(emulator, world, channel_id, "ticket claim", opener)
    assert "support team" in refused
    assert "support team" in await run(
        emulator, world, channel_id, "ticket claim", world.members[1].id
    )
    assert public_lines(emulator, channel_id) == []

    claim = await command(emulator, world, channel_id, "ticket claim")
    assert "You now handle ticket #0001" in await answer(claim)
    await claim.wait_followup()
    (line,) = public_lines(emulator, channel_id)
    assert line.content == f"🙋 <@{world.admin.id}> is handling this ticket."
    assert not line.flags & EPHEMERAL
    assert line.allowed_mentions is not None
    assert not line.allowed_mentions.get("parse")  # nobody is pinged
    assert (await row(app, channel_id)).claimed_by == world.admin.id

    twice = await run(emulator, world, channel_id, "ticket claim")
    assert twice == "you already handle this ticket"
    other = await run(emulator, world, channel_id, "ticket claim", world.owner.id)
    assert other == f"<@{world.admin.id}> already handles this ticket"
    not_theirs = await run(emulator, world, channel_id, "ticket unclaim", opener)
    assert f"only <@{world.admin.id}> or a manager" in not_theirs

    unclaim = await command(emulator, world, channel_id, "ticket unclaim")
    assert "unclaimed" in await answer(unclaim)
    await unclaim.wait_followup()
    assert public_lines(emulator, channel_id)[-1].content == (
        f"👋 <@{world.admin.id}> no longer handles this ticket."
    )
    assert (await row(app, channel_id)).claimed_by is None
    again = await run(emulator, world, channel_id, "ticket unclaim")
    assert again == "nobody handles this ticket yet"


async def test_claim_locks_leave_the_rest_of_the_team_read_only(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    assert "read-only" in await settings(emulator, world, "claim-locks", enabled=True)
    assert (await stored_settings(app, world)).claim_locks is True
    helper = world.members[5].id  # another support member (only for Discord's permission math)
    world.guild.members[helper].role_ids.append(world.support_role_id)
    channel_id = await open_ticket(app, world.members[0].id)
    channel = emulator.state.channels[channel_id]
    assert can(world, helper, channel, SEND_MESSAGES)

    assert "can read it but not write" in await run(emulator, world, channel_id, "ticket claim")
    support = channel.overwrites[world.support_role_id]
    assert support.type == OVERWRITE_ROLE
    assert support.deny & SEND_MESSAGES
    assert support.allow & VIEW_CHANNEL
    claimer = channel.overwrites[world.admin.id]
    assert claimer.type == OVERWRITE_MEMBER
    assert claimer.allow & SEND_MESSAGES
    assert can(world, world.admin.id, channel, SEND_MESSAGES)
    assert can(world, helper, channel, VIEW_CHANNEL)
    assert not can(world, helper, channel, SEND_MESSAGES)
    assert can(world, world.members[0].id, channel, SEND_MESSAGES)  # the opener still talks

    await run(emulator, world, channel_id, "ticket unclaim")
    support = channel.overwrites[world.support_role_id]
    assert support.deny == 0
    assert support.allow & SEND_MESSAGES
    assert can(world, helper, channel, SEND_MESSAGES)
    # The claimer keeps their own access: they may have been added before they claimed.
    assert can(world, world.admin.id, channel, SEND_MESSAGES)


async def test_unclaim_unlocks_a_ticket_claimed_under_locks_after_the_setting_is_off(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    helper = world.members[5].id  # another support member (only for Discord's permission math)
    world.guild.members[helper].role_ids.append(world.support_role_id)
    channel_id = await open_ticket(app, world.members[0].id)
    channel = emulator.state.channels[channel_id]
    await settings(emulator, world, "claim-locks", enabled=True)
    await run(emulator, world, channel_id, "ticket claim")
    assert not can(world, helper, channel, SEND_MESSAGES)
    await settings(emulator, world, "claim-locks", enabled=False)
    await run(emulator, world, channel_id, "ticket unclaim")
    assert can(world, helper, channel, SEND_MESSAGES)


# -- who sees the ticket --------------------------------------------------------------------------


async def test_add_and_remove_a_member(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    opener = world.members[0]
    guest = world.members[1]
    channel_id = await open_ticket(app, opener.id)
    channel = emulator.state.channels[channel_id]
    assert not can(world, guest.id, channel, VIEW_CHANNEL)

    refused = await run(emulator, world, channel_id, "ticket add", opener.id, member=guest)
    assert "support team" in refused
    assert guest.id not in channel.overwrites

    added = await run(emulator, world, channel_id, "ticket add", member=guest)
    assert f"<@{guest.id}>" in added
    assert channel.overwrites[guest.id].type == OVERWRITE_MEMBER
    assert can(world, guest.id, channel, VIEW_CHANNEL | SEND_MESSAGES)

    removed = await run(emulator, world, channel_id, "ticket remove", member=guest)
    assert f"<@{guest.id}>" in removed
    assert guest.id not in channel.overwrites
    assert not can(world, guest.id, channel, VIEW_CHANNEL)

    kept = await run(emulator, world, channel_id, "ticket remove", member=opener)
    assert "can't be removed from their own ticket" in kept
    assert can(world, opener.id, channel, VIEW_CHANNEL)


async def test_add_and_remove_a_role_and_refuse_what_would_break_the_ticket(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    channel_id = await open_ticket(app, world.members[0].id)
    channel = emulator.state.channels[channel_id]
    admins = role_named(world, "Admins")

    added = await run(emulator, world, channel_id, "ticket add", role=admins)
    assert f"<@&{admins.id}>" in added
    assert channel.overwrites[admins.id].type == OVERWRITE_ROLE
    assert channel.overwrites[admins.id].allow & VIEW_CHANNEL
    removed = await run(emulator, world, channel_id, "ticket remove", role=admins)
    assert f"<@&{admins.id}>" in removed
    assert admins.id not in channel.overwrites

    both = await run(
        emulator, world, channel_id, "ticket add", member=world.members[1], role=admins
    )
    assert "either `member` or `role`" in both
    assert "either `member` or `role`" in await run(emulator, world, channel_id, "ticket add")
    for name in ("ticket add", "ticket remove"):  # Discord's role picker offers @everyone
        text = await run(emulator, world, channel_id, name, role=world.guild.everyone)
        assert "whole server" in text, name
    assert channel.overwrites[world.guild.id].deny & VIEW_CHANNEL  # still private
    bot = emulator.state.bot
    assert "keeps its access" in await run(emulator, world, channel_id, "ticket remove", member=bot)
    assert bot.id in channel.overwrites
    # A role made while the bot was not looking: Discord resolves it, the bot's cache has not.
    unseen = emulator.state.add_role(world.guild, "Nope")
    unknown = await run(emulator, world, channel_id, "ticket add", role=unseen)
    assert f"does not know a role 'Nope' ({unseen.id})" in unknown
    assert unseen.id not in channel.overwrites


async def test_rename_sanitizes_the_name(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    opener = world.members[0].id
    channel_id = await open_ticket(app, opener)
    refused = await run(emulator, world, channel_id, "ticket rename", opener, name="mine")
    assert "support team" in refused
    text = await run(emulator, world, channel_id, "ticket rename", name="Refund  Issue!! #42")
    assert "`refund-issue-42`" in text
    assert emulator.state.channels[channel_id].name == "refund-issue-42"
    # The bot's own view follows (transcripts are named from it).
    await wait_for(lambda: cached_name(app, channel_id) == "refund-issue-42")


# -- transcript and close -------------------------------------------------------------------------


async def test_transcript_is_an_ephemeral_html_attachment_for_staff(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    opener = world.members[0].id
    channel_id = await open_ticket(app, opener)
    await emulator.send_user_message(channel_id, opener, "My order never arrived")
    refused = await run(emulator, world, channel_id, "ticket transcript", opener)
    assert "support team" in refused

    record = await command(emulator, world, channel_id, "ticket transcript")
    text = await answer(record)
    assert "transcript-0001-ticket-0001.html" in text
    assert record.original_message_id is not None
    message = emulator.ephemeral[record.original_message_id]
    (file,) = message.attachments
    assert file.filename == "transcript-0001-ticket-0001.html"
    html = file.data.decode()
    assert html.startswith("<!DOCTYPE html>")
    assert HELP_ANSWER[0]["value"] in html  # the welcome embed's answer
    assert "My order never arrived" in html
    assert record.original_message_id not in emulator.state.messages[channel_id]
    assert (await row(app, channel_id)).state == "open"


async def test_close_with_a_reason_deletes_the_channel_and_frees_the_opener(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld, clock: FakeClock
) -> None:
    opener = world.members[0].id
    channel_id = await open_ticket(app, opener)
    await emulator.send_user_message(channel_id, opener, "please close it")
    ticket_id = (await row(app, channel_id)).ticket_id
    record = await command(emulator, world, channel_id, "ticket close", reason="Solved by a refund")
    assert "Closing the ticket" in await answer(record)
    done = await closed(app, ticket_id)
    assert (done.closed_by, done.close_reason, done.archived) == (
        world.admin.id,
        "Solved by a refund",
        False,
    )
    # The row says closed first; the channel goes right after it.
    await wait_for(lambda: channel_id not in emulator.state.channels)
    assert done.transcript_path is not None
    html = Path(done.transcript_path).read_text("utf-8")
    assert "please close it" in html
    assert "Solved by a refund" in html
    clock.advance(21)  # past the per-member cooldown
    assert (await post(app, ticket(opener, HELP_BUTTON_ID)))[0] == 200


async def test_the_opener_closes_unless_the_server_turned_it_off(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    opener = world.members[0].id
    channel_id = await open_ticket(app, opener)
    bystander = await run(emulator, world, channel_id, "ticket close", world.members[1].id)
    assert "support team" in bystander
    off = await settings(emulator, world, "opener-can-close", enabled=False)
    assert "Only the staff" in off
    refused = await run(emulator, world, channel_id, "ticket close", opener)
    assert refused == "on this server only the staff can close tickets"
    assert (await row(app, channel_id)).state == "open"

    await settings(emulator, world, "opener-can-close", enabled=True)
    ticket_id = (await row(app, channel_id)).ticket_id
    await answer(await command(emulator, world, channel_id, "ticket close", opener))
    assert (await closed(app, ticket_id)).closed_by == opener


# -- archive mode ---------------------------------------------------------------------------------


async def test_archive_reopen_and_delete(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    archive = await new_channel(app, emulator, world, "Archive", type=GUILD_CATEGORY)
    set_mode = await settings(
        emulator, world, "close-mode", mode="archive", archive_category=archive
    )
    assert f"<#{archive.id}>" in set_mode
    stored = await stored_settings(app, world)
    assert (stored.close_mode, stored.archive_category_id) == ("archive", archive.id)

    opener = world.members[0].id
    channel_id = await open_ticket(app, opener)
    channel = emulator.state.channels[channel_id]
    ticket_id = (await row(app, channel_id)).ticket_id
    early = await command(emulator, world, channel_id, "ticket delete")
    assert "Deleting ticket #0001" in await answer(early)
    (edit,) = await early.wait_followup()  # the answer, edited
    assert edit["content"] == "The ticket was not deleted: ticket #0001 is open: close it first"
    assert "is already open" in await run(emulator, world, channel_id, "ticket reopen")

    await answer(await command(emulator, world, channel_id, "ticket close", reason="done"))
    done = await closed(app, ticket_id)
    assert done.archived
    assert channel_id in emulator.state.channels
    assert channel.parent_id == archive.id
    assert not can(world, opener, channel, VIEW_CHANNEL)
    assert can(world, world.admin.id, channel, VIEW_CHANNEL)
    assert await run(emulator, world, channel_id, "ticket claim") == "ticket #0001 is closed"
    refused = await run(emulator, world, channel_id, "ticket reopen", world.members[1].id)
    assert "support team" in refused

    reopened = await run(emulator, world, channel_id, "ticket reopen")
    assert "open again" in reopened
    assert (await row(app, channel_id)).state == "open"
    assert can(world, opener, channel, VIEW_CHANNEL | SEND_MESSAGES)
    assert channel.parent_id == world.category_id

    await answer(await command(emulator, world, channel_id, "ticket close"))
    await closed(app, ticket_id)
    assert "Deleting ticket #0001" in await run(emulator, world, channel_id, "ticket delete")
    await wait_for(lambda: channel_id not in emulator.state.channels)
    assert app.db is not None
    store = SqliteLifecycleStore(app.db)

    async def forgotten() -> bool:  # recorded after Discord answered the delete
        found = await store.by_id(ticket_id)
        return found is not None and not found.archived

    await wait_for(forgotten)
    gone = await store.by_id(ticket_id)
    assert gone is not None
    assert gone.state == "closed"


async def test_close_mode_is_checked(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    tickets = world.guild.channels[world.category_id]
    mixed = await settings(emulator, world, "close-mode", mode="delete", archive_category=tickets)
    assert "only applies to the archive mode" in mixed
    # Discord's client offers only categories here; a text channel sent anyway is still refused.
    general = channel_named(world, "general")
    not_category = await settings(
        emulator, world, "close-mode", mode="archive", archive_category=general
    )
    assert "#general is not a category" in not_category
    hidden = await new_channel(
        app,
        emulator,
        world,
        "Hidden archive",
        type=GUILD_CATEGORY,
        overwrites=[Overwrite(world.guild.id, OVERWRITE_ROLE, allow=0, deny=VIEW_CHANNEL)],
    )
    unusable = await settings(
        emulator, world, "close-mode", mode="archive", archive_category=hidden
    )
    assert "the bot cannot see 'Hidden archive'" in unusable
    assert (await stored_settings(app, world)).close_mode == "delete"
    in_place = await settings(emulator, world, "close-mode", mode="archive")
    assert "where it is" in in_place
    stored = await stored_settings(app, world)
    assert (stored.close_mode, stored.archive_category_id) == ("archive", None)


# -- settings -------------------------------------------------------------------------------------


async def test_the_log_channel_gets_opened_and_closed_with_the_transcript(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    log = await new_channel(app, emulator, world, "ticket-log")
    assert f"<#{log.id}>" in await settings(emulator, world, "log-channel", channel=log)
    assert (await stored_settings(app, world)).log_channel_id == log.id

    channel_id = await open_ticket(app, world.members[0].id, REPORT_BUTTON_ID)
    ticket_id = (await row(app, channel_id)).ticket_id
    await answer(await command(emulator, world, channel_id, "ticket close", reason="spam"))
    await closed(app, ticket_id)
    await wait_for(lambda: len(emulator.state.messages[log.id]) == 2)
    opened, closing = emulator.state.messages[log.id].values()
    assert opened.content.startswith("📥 Ticket #0001 opened")
    assert closing.content.startswith("🔒 Ticket #0001")
    assert "closed" in closing.content
    assert "spam" in closing.content
    (file,) = closing.attachments
    assert file.filename.endswith(".html")
    assert file.data.startswith(b"<!DOCTYPE html>")

    assert "turned off" in await settings(emulator, world, "log-channel")
    assert (await stored_settings(app, world)).log_channel_id is None
    await open_ticket(app, world.members[1].id, REPORT_BUTTON_ID)
    assert len(emulator.state.messages[log.id]) == 2


async def test_a_log_channel_without_attach_files_is_refused(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    bot = emulator.state.bot.id
    no_files = [Overwrite(bot, OVERWRITE_MEMBER, 0, ATTACH_FILES)]
    mute = await new_channel(app, emulator, world, "mute-log", overwrites=no_files)
    refused = await settings(emulator, world, "log-channel", channel=mute)
    assert "the bot lacks" in refused
    assert "Attach Files" in refused
    # Discord's client offers only text channels here; a category sent anyway is still refused.
    tickets = world.guild.channels[world.category_id]
    category = await settings(emulator, world, "log-channel", channel=tickets)
    assert "not a text channel" in category
    unseen = emulator.state.add_channel(world.guild, "unseen-log")  # no event: the bot never saw it
    unknown = await settings(emulator, world, "log-channel", channel=unseen)
    assert f"does not know a channel 'unseen-log' ({unseen.id})" in unknown
    assert (await stored_settings(app, world)).log_channel_id is None


async def test_max_open_limits_a_members_tickets_across_buttons(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld, clock: FakeClock
) -> None:
    assert "at most 1 open ticket" in await settings(emulator, world, "max-open", count=1)
    member = world.members[0].id
    await open_ticket(app, member, REPORT_BUTTON_ID)
    clock.advance(21)
    refused = await post(app, ticket(member, HELP_BUTTON_ID))
    assert refused[0] == 409
    assert error(refused)["code"] == "max_open_reached"
    too_many = await settings(emulator, world, "max-open", count=30)
    assert "between 1 and 25" in too_many
    assert (await stored_settings(app, world)).user_max_open == 1


async def test_show_lists_every_setting_and_members_are_refused(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    defaults = await settings(emulator, world, "show")
    assert "Log channel: off" in defaults
    assert "deletes the channel" in defaults
    assert "Openers can close their ticket: on" in defaults
    assert "DM: off" in defaults
    assert "claimer: off" in defaults

    await settings(emulator, world, "dm-transcript", enabled=True)
    await settings(emulator, world, "max-open", count=4)
    changed = await settings(emulator, world, "show")
    assert "DM: on" in changed
    assert "Open tickets per member: 4" in changed
    assert (await stored_settings(app, world)).dm_transcript is True

    member = world.members[0].id
    for name, values in (
        ("show", {}),
        ("claim-locks", {"enabled": True}),
        ("log-channel", {"channel": channel_named(world, "general")}),
    ):
        refused = await settings(emulator, world, name, member, **values)
        assert "Manage Server" in refused
    current = await stored_settings(app, world)
    assert (current.claim_locks, current.log_channel_id) == (False, None)
