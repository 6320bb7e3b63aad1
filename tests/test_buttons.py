"""Members opening tickets by clicking a posted panel, through the emulator's real interactions."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from bot.app import Rimpllee
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import (
    DEMO_PANEL_ID,
    HELP_BUTTON_ID,
    HELP_QUESTION,
    REPORT_BUTTON_ID,
    SandboxWorld,
)
from bot.sandbox.state import Channel, Message
from tests.conftest import FakeClock, LoopErrors, running
from tests.helpers import (
    EPHEMERAL,
    answer,
    click,
    opened_channel,
    panels,
    post,
    posted_panel,
    ticket,
)

pytestmark = pytest.mark.asyncio


async def test_the_posted_panel_has_a_button_per_panel_button(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld, clock: FakeClock
) -> None:
    message_id = await posted_panel(app, world, clock)
    message = emulator.state.messages[world.panel_channel_id][message_id]
    assert message.embeds[0]["title"] == "Need a hand?"
    (row,) = message.components
    assert [b["custom_id"] for b in row["components"]] == [
        f"rmp:open:{HELP_BUTTON_ID}",
        f"rmp:open:{REPORT_BUTTON_ID}",
    ]


async def test_click_without_questions_opens_in_three_rest_calls(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld, clock: FakeClock
) -> None:
    message_id = await posted_panel(app, world, clock)
    before = len(emulator.requests)
    record = await click(emulator, world, world.members[0].id, message_id, REPORT_BUTTON_ID)
    text = await answer(record)
    assert text.startswith("Your ticket is open: <#")
    channel = opened_channel(emulator, text)
    assert channel.name == "report-0001"
    routes = sorted((r.method, r.route) for r in emulator.requests[before:])
    assert routes == [
        ("POST", "/channels/{channel_id}/messages"),
        ("POST", "/guilds/{guild_id}/channels"),
        ("POST", "/interactions/{interaction_id}/{token}/callback"),
    ]


async def test_click_form_submit_puts_the_answers_in_the_welcome(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld, clock: FakeClock
) -> None:
    message_id = await posted_panel(app, world, clock)
    member = world.members[0].id
    before = len(emulator.requests)
    record = await click(emulator, world, member, message_id, HELP_BUTTON_ID)
    modal = await record.wait_response()
    assert modal["type"] == 9
    assert modal["data"]["custom_id"] == f"rmp:form:{HELP_BUTTON_ID}"
    (row,) = modal["data"]["components"]
    (text_input,) = row["components"]
    assert text_input["label"] == HELP_QUESTION
    assert text_input["style"] == 2  # paragraph
    assert text_input["required"] is True
    submit = await emulator.submit_modal(
        world.guild.id,
        member,
        world.panel_channel_id,
        modal["data"]["custom_id"],
        {text_input["custom_id"]: "My order never arrived"},
    )
    channel = opened_channel(emulator, await answer(submit))
    (welcome,) = emulator.state.messages[channel.id].values()
    assert welcome.embeds[0]["fields"] == [
        {"name": HELP_QUESTION, "value": "My order never arrived", "inline": False}
    ]
    assert len(emulator.requests) - before == 4  # modal, channel, welcome, answer


def _normalized(channel: Channel, welcome: Message, member: int, ticket: int) -> dict[str, Any]:
    """What must be equal between two tickets of the same button, bar who and which number."""

    def swap(text: str) -> str:
        # The number only where it stands alone (`#0001`, `ticket-0001`), never inside an ID.
        text = text.replace(str(member), "MEMBER")
        return re.sub(rf"(?<!\d){ticket:04d}(?!\d)", "NUMBER", text)

    return {
        "name": swap(channel.name),
        "parent": channel.parent_id,
        "topic": swap(channel.topic or ""),
        "overwrites": sorted(
            ("MEMBER" if o.id == member else str(o.id), o.type, o.allow, o.deny)
            for o in channel.overwrites.values()
        ),
        "content": swap(welcome.content),
        "mentions": swap(str(welcome.allowed_mentions)),
        "embeds": swap(str(welcome.embeds)),
        "components": [[c["label"] for c in row["components"]] for row in welcome.components],
    }


async def test_a_click_opens_exactly_what_the_api_opens(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld, clock: FakeClock
) -> None:
    message_id = await posted_panel(app, world, clock)
    clicker, caller = world.members[0].id, world.members[1].id
    record = await click(emulator, world, clicker, message_id, HELP_BUTTON_ID)
    modal = await record.wait_response()
    question = modal["data"]["components"][0]["components"][0]["custom_id"]
    submit = await emulator.submit_modal(
        world.guild.id,
        clicker,
        world.panel_channel_id,
        modal["data"]["custom_id"],
        {question: "Refund request"},
    )
    by_click = opened_channel(emulator, await answer(submit))
    clock.advance(60)
    status, body, _ = await post(app, ticket(caller, HELP_BUTTON_ID))
    assert status == 200
    by_api = emulator.state.channels[int(body["ticket"]["channelId"])]
    (click_welcome,) = emulator.state.messages[by_click.id].values()
    (api_welcome,) = emulator.state.messages[by_api.id].values()
    assert _normalized(by_click, click_welcome, clicker, 1) == _normalized(
        by_api, api_welcome, caller, 2
    )


@pytest.mark.parametrize(
    ("setup", "says"),
    [
        ("blacklisted", "can't open tickets"),
        ("at_limit", "already have an open ticket for this: <#"),
        ("cooldown", "moments ago — you can open another <t:"),
        ("server_busy", "Lots of tickets are being opened right now"),
        ("no_permission", "lacks permissions in category 'Tickets'"),
        ("deleted_button", "no longer opens tickets"),
    ],
)
async def test_each_refusal_is_a_short_ephemeral_line(
    app: Rimpllee,
    emulator: DiscordEmulator,
    world: SandboxWorld,
    clock: FakeClock,
    setup: str,
    says: str,
) -> None:
    message_id = await posted_panel(app, world, clock)
    member = world.members[0].id
    button = REPORT_BUTTON_ID
    if setup == "blacklisted":
        member = world.blacklisted.id
    elif setup == "at_limit":
        button = HELP_BUTTON_ID
        assert (await post(app, ticket(member, HELP_BUTTON_ID)))[0] == 200
        clock.advance(60)
    elif setup == "cooldown":
        assert (await post(app, ticket(member)))[0] == 200
    elif setup == "server_busy":
        await _fill_server_budget(app, emulator, world)
    elif setup == "no_permission":
        emulator.inject_fault("POST", "/guilds/{guild_id}/channels", 403, code=50013)
    elif setup == "deleted_button":
        await panels(app, clock).remove_button(world.guild.id, REPORT_BUTTON_ID)
    channels_before = len(world.guild.channels)
    text = await answer(await click(emulator, world, member, message_id, button))
    assert says in text
    assert len(world.guild.channels) == channels_before


async def _fill_server_budget(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    state = emulator.state
    for i in range(30):
        await emulator.member_join(world.guild.id, state.add_user(f"busy{i}"))
    index = app.discord.members
    async with asyncio.timeout(5):
        while len(index.servers[world.guild.id]) < len(world.guild.members):
            await asyncio.sleep(0.01)
    busy = [m for m in world.guild.members.values() if m.user.username.startswith("busy")]
    for member in busy:
        assert (await post(app, ticket(member.user.id)))[0] == 200


async def test_double_click_opens_one_ticket_and_tells_the_other(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld, clock: FakeClock
) -> None:
    """Two submits of the form at once: one ticket, and both clicks are told it is open."""
    message_id = await posted_panel(app, world, clock)
    member = world.members[0].id
    modal = await (await click(emulator, world, member, message_id, HELP_BUTTON_ID)).wait_response()
    question = modal["data"]["components"][0]["components"][0]["custom_id"]
    emulator.inject_fault("POST", "/guilds/{guild_id}/channels", None, delay=0.3)
    first, second = await asyncio.gather(
        *(
            emulator.submit_modal(
                world.guild.id,
                member,
                world.panel_channel_id,
                modal["data"]["custom_id"],
                {question: "help"},
            )
            for _ in range(2)
        )
    )
    texts = {await answer(first), await answer(second)}
    assert len(texts) == 1
    assert texts.pop().startswith("Your ticket is open: <#")
    assert len(emulator.calls("POST", "/guilds/{guild_id}/channels")) == 1


async def test_a_slow_discord_is_deferred_within_three_seconds_then_followed_up(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld, clock: FakeClock
) -> None:
    message_id = await posted_panel(app, world, clock)
    emulator.inject_fault("POST", "/guilds/{guild_id}/channels", None, delay=3.5)
    record = await click(emulator, world, world.members[0].id, message_id, REPORT_BUTTON_ID)
    response = await record.wait_response(timeout=3)
    assert response["type"] == 5  # deferred, ephemeral: "Rimpllee is thinking…"
    assert response["data"]["flags"] & EPHEMERAL
    followups = await record.wait_followup(timeout=10)
    assert followups[-1]["content"].startswith("Your ticket is open")


async def test_buttons_keep_working_after_a_restart(
    app: Rimpllee,
    emulator: DiscordEmulator,
    world: SandboxWorld,
    clock: FakeClock,
    loop_errors: LoopErrors,
    tmp_path: Path,
) -> None:
    message_id = await posted_panel(app, world, clock)
    await app.stop()
    async with running(emulator, tmp_path / "rimpllee.db", loop_errors, clock=clock):
        text = await answer(
            await click(emulator, world, world.members[0].id, message_id, REPORT_BUTTON_ID)
        )
        assert text.startswith("Your ticket is open")


async def test_a_form_takes_no_more_than_the_welcome_holds(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld, clock: FakeClock
) -> None:
    """Five paragraph questions and a long welcome: each text input is capped so that a form
    typed to the brim still opens; the API, given one character more, still answers 400."""
    service = panels(app, clock)
    button = await service.add_button(
        world.guild.id, DEMO_PANEL_ID, label="Long form", welcome_text="w" * 2000
    )
    await service.add_question(
        world.guild.id, button.button_id, label="Order number", max_length=20
    )
    for i in range(4):
        await service.add_question(
            world.guild.id, button.button_id, label=f"Question {i}", style="paragraph"
        )
    message_id = await posted_panel(app, world, clock)
    member = world.members[0].id
    modal = await (
        await click(emulator, world, member, message_id, button.button_id)
    ).wait_response()
    assert modal["type"] == 9
    inputs = [row["components"][0] for row in modal["data"]["components"]]
    most = [i["max_length"] for i in inputs]
    assert most[0] == 20  # a question asking for little keeps its own maximum
    assert all(m < 1024 for m in most[1:])  # the others share what the welcome has room for
    brim = {i["custom_id"]: "x" * i["max_length"] for i in inputs}
    submit = await emulator.submit_modal(
        world.guild.id, member, world.panel_channel_id, modal["data"]["custom_id"], brim
    )
    text = await answer(submit)
    assert text.startswith("Your ticket is open: <#"), text
    (welcome,) = emulator.state.messages[opened_channel(emulator, text).id].values()
    assert [len(f["value"]) for f in welcome.embeds[0]["fields"]] == most

    labels = ["Order number", *(f"Question {i}" for i in range(4))]
    answers = [{"label": label, "value": "x" * m} for label, m in zip(labels, most, strict=True)]
    answers[-1]["value"] += "x"
    clock.advance(60)
    reply = await post(app, {**ticket(world.members[1].id, button.button_id), "answers": answers})
    assert reply[0] == 400
    assert reply[1]["error"]["code"] == "answers_too_long"
