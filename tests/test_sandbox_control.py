"""The sandbox's control endpoints: a person drives the emulated server with curl."""

from __future__ import annotations

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
