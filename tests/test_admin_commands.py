"""`/apikey` and `/blacklist` as an admin runs them in Discord, through the emulator."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.app import Rimpllee
from bot.discord.errors import UNEXPECTED
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import DEMO_API_KEY, SandboxWorld
from tests.helpers import EPHEMERAL, error, post, ticket

pytestmark = pytest.mark.asyncio

KEY_RE = re.compile(r"rmp_[A-Za-z0-9_-]{43}")


async def run(
    emulator: DiscordEmulator,
    world: SandboxWorld,
    name: str,
    user_id: int | None = None,
    options: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Run a slash command and return the bot's (ephemeral) answer."""
    record = await emulator.run_command(
        world.guild.id,
        user_id or world.admin.id,
        world.panel_channel_id,
        name,
        options,
    )
    response = await record.wait_response()
    assert response["type"] == 4
    data: dict[str, Any] = response["data"]
    assert data["flags"] & EPHEMERAL, "admin answers are ephemeral"
    return data


def user_option(user_id: int) -> list[dict[str, Any]]:
    return [{"name": "user", "type": 6, "value": str(user_id)}]


async def test_commands_are_registered_for_manage_server_only(
    app: Rimpllee, emulator: DiscordEmulator
) -> None:
    commands = {c["name"]: c for c in emulator.state.commands[None]}
    assert set(commands) >= {"apikey", "blacklist"}
    for name in ("apikey", "blacklist"):
        assert commands[name]["default_member_permissions"] == str(1 << 5)


async def test_key_lifecycle_from_discord(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    status = await run(emulator, world, "apikey status")
    assert "rmp_sandbox-…" in status["content"]
    assert DEMO_API_KEY not in status["content"]

    refused = await run(emulator, world, "apikey generate")
    assert "already has an API key" in refused["content"]

    regenerated = await run(emulator, world, "apikey regenerate")
    match = KEY_RE.search(regenerated["content"])
    assert match is not None
    new_key = match.group()
    old = await post(app, ticket(world.members[0].id))
    assert old[0] == 401
    assert (await post(app, ticket(world.members[0].id), headers={"x-api-key": new_key}))[0] == 200

    shown = await run(emulator, world, "apikey status")
    assert new_key[:12] in shown["content"]
    assert new_key not in shown["content"]

    await run(emulator, world, "apikey revoke")
    revoked = await post(app, ticket(world.members[1].id), headers={"x-api-key": new_key})
    assert revoked[0] == 401
    assert "No API key" in (await run(emulator, world, "apikey status"))["content"]

    generated = await run(emulator, world, "apikey generate")
    assert KEY_RE.search(generated["content"]) is not None


async def test_members_without_manage_server_are_refused(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    answer = await run(emulator, world, "apikey regenerate", user_id=world.members[0].id)
    assert "Manage Server" in answer["content"]
    assert (await post(app, ticket(world.members[0].id)))[0] == 200  # the key still works


async def test_blacklist_from_discord_reaches_the_api(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    target = world.members[2]
    added = await run(
        emulator,
        world,
        "blacklist add",
        options=[*user_option(target.id), {"name": "reason", "type": 3, "value": "spam"}],
    )
    assert f"<@{target.id}>" in added["content"]
    refused = await post(app, ticket(target.id))
    assert refused[0] == 403
    assert error(refused)["code"] == "blacklisted"

    listed = await run(emulator, world, "blacklist list")
    assert f"<@{target.id}>" in listed["content"]
    assert "spam" in listed["content"]
    assert f"<@{world.blacklisted.id}>" in listed["content"]

    twice = await run(emulator, world, "blacklist add", options=user_option(target.id))
    assert "already blacklisted" in twice["content"]

    await run(emulator, world, "blacklist remove", options=user_option(target.id))
    assert (await post(app, ticket(target.id)))[0] == 200
    absent = await run(emulator, world, "blacklist remove", options=user_option(target.id))
    assert "not blacklisted" in absent["content"]


async def test_a_command_that_fails_unexpectedly_still_answers(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    """A bug (here: the database gone under a command) is not "interaction failed": the member
    is told it went wrong on the bot's side, and no path or exception text reaches Discord."""
    assert app.db is not None
    await app.db.close()
    answer = await run(emulator, world, "apikey status")
    assert answer["content"] == UNEXPECTED
