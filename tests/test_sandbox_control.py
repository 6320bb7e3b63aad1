"""The sandbox's control endpoints: a person drives the emulated server with curl."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from bot.app import Rimpllee
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import SandboxWorld

pytestmark = pytest.mark.asyncio


async def control(emulator: DiscordEmulator, action: str, body: dict[str, Any]) -> dict[str, Any]:
    url = emulator.rest_url.removesuffix("/api/v10") + f"/_sandbox/{action}"
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as resp:
        assert resp.status == 200
        answer: dict[str, Any] = await resp.json()
        return answer


async def test_build_post_click_and_submit_through_the_control_endpoints(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    # Options as a JSON object: strings, integers and booleans (their types are inferred).
    created = await control(
        emulator, "command", {"command": "panel create", "options": {"title": "Support"}}
    )
    assert "Created panel **Support**" in created["response"]["data"]["content"]
    # Channel (7) and role (8) options need the explicit list form, with the ID as the value.
    added = await control(
        emulator,
        "command",
        {
            "command": "panel button add",
            "options": [
                {"name": "panel", "type": 3, "value": "pnl_demo"},
                {"name": "label", "type": 3, "value": "Billing"},
                {"name": "category", "type": 7, "value": str(world.category_id)},
                {"name": "support_role", "type": 8, "value": str(world.support_role_id)},
            ],
        },
    )
    assert "Added button **Billing**" in added["response"]["data"]["content"]
    posted = await control(
        emulator,
        "command",
        {
            "command": "panel post",
            "options": [
                {"name": "panel", "type": 3, "value": "pnl_demo"},
                {"name": "channel", "type": 7, "value": str(world.panel_channel_id)},
            ],
        },
    )
    text = posted["response"]["data"]["content"]
    assert "Posted panel" in text
    assert f"<#{world.panel_channel_id}>" in text
    message_id, message = next(iter(emulator.state.messages[world.panel_channel_id].items()))
    labels = [c["label"] for row in message.components for c in row["components"]]
    assert labels == ["Get help", "Report a player", "Billing"]
    member = str(world.members[0].id)
    form = await control(
        emulator,
        "click",
        {"user_id": member, "message_id": str(message_id), "custom_id": "rmp:open:btn_help"},
    )
    assert form["response"]["type"] == 9
    opened = await control(
        emulator,
        "submit",
        {
            "user_id": member,
            "custom_id": "rmp:form:btn_help",
            "values": {"qst_help_topic": "It broke"},
        },
    )
    assert opened["response"]["data"]["content"].startswith("Your ticket is open")
    said = await control(emulator, "say", {"user_id": member, "content": "hello"})
    channel = world.panel_channel_id
    assert emulator.state.messages[channel][int(said["message_id"])].content == "hello"


async def post(emulator: DiscordEmulator, action: str, body: Any) -> tuple[int, dict[str, Any]]:
    url = emulator.rest_url.removesuffix("/api/v10") + f"/_sandbox/{action}"
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with aiohttp.ClientSession() as http, http.post(url, data=data) as resp:
        return resp.status, await resp.json()


async def test_object_form_options_are_typed_from_the_commands_declared_options(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    """A channel option in the object form is a channel (7), as the command declares it."""
    status, answer = await post(
        emulator,
        "command",
        {"command": "settings log-channel", "options": {"channel": str(world.panel_channel_id)}},
    )
    assert status == 200, answer
    assert f"<#{world.panel_channel_id}>" in answer["response"]["data"]["content"]
    status, answer = await post(
        emulator,
        "command",
        {
            "command": "panel post",
            "options": {"panel": "pnl_demo", "channel": world.panel_channel_id},
        },
    )
    assert status == 200, answer
    assert "Posted panel" in answer["response"]["data"]["content"]


async def test_a_close_button_is_clicked_where_its_message_is(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    """No channel_id needed: the click happens in the channel holding the message."""
    opener = world.members[0]
    status, answer = await post(
        emulator,
        "command",
        {
            "command": "panel post",
            "options": {"panel": "pnl_demo", "channel": world.panel_channel_id},
        },
    )
    assert status == 200, answer
    panel_message = max(emulator.state.messages[world.panel_channel_id])
    status, answer = await post(
        emulator,
        "click",
        {
            "user_id": str(opener.id),
            "message_id": str(panel_message),
            "custom_id": "rmp:open:btn_report",
        },
    )
    assert status == 200, answer
    (channel_id,) = (c.id for c in world.guild.channels.values() if c.name.startswith("report-"))
    welcome = min(emulator.state.messages[channel_id])
    close = next(
        c["custom_id"]
        for row in emulator.state.messages[channel_id][welcome].components
        for c in row["components"]
        if c["custom_id"].startswith("rmp:close:")
    )
    status, answer = await post(
        emulator,
        "click",
        {"user_id": str(opener.id), "message_id": str(welcome), "custom_id": close},
    )
    assert status == 200, answer
    assert answer["response"]["type"] == 9  # the close form


CONTROL_REFUSALS: list[tuple[str, Any, int, str]] = [
    ("command", b"{not json", 400, "not JSON"),
    ("command", ["panel create"], 400, "JSON object"),
    ("command", {}, 400, "command is required"),
    ("command", {"command": "frobnicate"}, 404, "no command named 'frobnicate'"),
    ("command", {"command": "panel frob"}, 404, "no sub-command 'frob'"),
    ("command", {"command": "panel"}, 400, "needs a sub-command"),
    ("command", {"command": "panel create", "options": {"titel": "x"}}, 400, "no option 'titel'"),
    ("command", {"command": "panel create", "options": {"title": 5}}, 400, "takes text"),
    ("command", {"command": "panel create", "options": "title=x"}, 400, "options must be"),
    (
        "command",
        {"command": "settings log-channel", "options": {"channel": "general"}},
        400,
        "a channel ID",
    ),
    (
        "command",
        {"command": "settings log-channel", "options": {"channel": "1"}},
        404,
        "no channel of the server",
    ),
    (
        "command",
        {"command": "panel create", "options": {"title": "x"}, "user_id": "1"},
        404,
        "not a member",
    ),
    (
        "command",
        {"command": "panel create", "options": {"title": "x"}, "user_id": "me"},
        400,
        "user_id must be",
    ),
    (
        "command",
        {"command": "panel create", "options": {"title": "x"}, "channel_id": "1"},
        404,
        "channel_id 1",
    ),
    ("click", {"custom_id": "rmp:open:btn_help"}, 400, "message_id is required"),
    ("click", {"message_id": "1", "custom_id": "x"}, 404, "message_id 1 is in no channel"),
    ("click", {"message_id": "abc", "custom_id": "x"}, 400, "message_id must be"),
    ("submit", {"values": {"q": "a"}}, 400, "custom_id is required"),
    ("submit", {"custom_id": "rmp:form:btn_help", "values": ["a"]}, 400, "values must be"),
    ("say", {}, 400, "content is required"),
    ("say", {"content": 5}, 400, "content must be text"),
    ("faults", {"status": "many"}, 400, "must be integers"),
    ("faults", {"status": 200}, 400, "400-599"),
    ("rate-limits", {"per_route": "lots"}, 400, "must be numbers"),
    ("rate-limits", {"per_route": 0}, 400, "at least 1"),
]


@pytest.mark.parametrize(("action", "body", "status", "error"), CONTROL_REFUSALS)
async def test_control_endpoints_answer_4xx_naming_the_problem(
    app: Rimpllee,
    emulator: DiscordEmulator,
    world: SandboxWorld,
    action: str,
    body: Any,
    status: int,
    error: str,
) -> None:
    got, answer = await post(emulator, action, body)
    assert (got, answer["ok"]) == (status, False), answer
    assert error in answer["error"]
    assert emulator.internal_errors == []


async def test_a_click_on_a_component_the_message_lacks_is_refused(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    message = emulator.state.add_message(
        emulator.state.channels[world.panel_channel_id], emulator.state.bot, "no buttons"
    )
    got, answer = await post(
        emulator, "click", {"message_id": str(message.id), "custom_id": "rmp:open:btn_help"}
    )
    assert got == 404
    assert "has no component 'rmp:open:btn_help'" in answer["error"]


async def test_rate_limits_are_tightened_and_restored_over_http(
    emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    status, answer = await post(emulator, "rate-limits", {"per_route": 1, "window_s": 5})
    assert (status, answer["limits"]["per_route"]) == (200, 1)
    url = f"{emulator.rest_url}/channels/{world.panel_channel_id}/messages"
    headers = {"Authorization": f"Bot {emulator.token}"}
    async with aiohttp.ClientSession() as http:
        statuses = [(await http.get(url, headers=headers)).status for _ in range(2)]
        assert statuses == [200, 429]
        status, answer = await post(emulator, "rate-limits", {})
        assert answer["limits"] == {"per_route": 50, "window_s": 1.0, "global_per_s": None}
        assert (await http.get(url, headers=headers)).status == 200
