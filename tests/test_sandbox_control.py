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
    posted = await control(
        emulator,
        "command",
        {
            "command": "panel post",
            "options": {"panel": "pnl_demo", "channel": str(world.panel_channel_id)},
        },
    )
    text = posted["response"]["data"]["content"]
    assert "Posted panel" in text
    message_id = next(iter(emulator.state.messages[world.panel_channel_id]))
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
