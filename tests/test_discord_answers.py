"""The emulator answers as Discord does: the fields Discord's spec marks required, which the bot
then uses as it would against Discord."""

from __future__ import annotations

import pytest

from bot.app import Rimpllee
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.spec import DiscordSpec, response_problems
from bot.sandbox.state import User

pytestmark = pytest.mark.asyncio


async def test_the_bot_registers_its_commands_for_server_installs(
    app: Rimpllee, emulator: DiscordEmulator
) -> None:
    """The application's integration_types_config says server-installable, so lightbulb sends
    integration_types [0], as it would to Discord (the spec requires at least one)."""
    registered = [c for scope in emulator.state.commands.values() for c in scope]
    assert registered
    assert all(c["integration_types"] == [0] for c in registered)
    put = emulator.calls("PUT")
    assert put
    assert all(r.status == 200 for r in put)


async def test_an_answer_missing_a_required_field_is_caught() -> None:
    """What makes every test fail when the emulator answers unlike Discord (`check_responses`)."""
    spec = DiscordSpec.load()
    op = spec.operation("GET", "/users/1")
    assert op is not None
    user = User(id=1, username="someone").payload()
    assert response_problems(op, 200, user) == []
    del user["primary_guild"]
    (problem,) = response_problems(op, 200, user)
    assert "'primary_guild' is a required property" in problem
