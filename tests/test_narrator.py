"""The sandbox prints every change the bot makes in the emulated Discord (README, Try it)."""

from __future__ import annotations

import hikari
import pytest

from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import Narrator, SandboxWorld
from bot.sandbox.state import GUILD_CATEGORY, SEND_MESSAGES, VIEW_CHANNEL

pytestmark = pytest.mark.asyncio


async def test_renames_moves_permissions_attachments_and_dms_are_printed(
    emulator: DiscordEmulator, world: SandboxWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.observers.append(Narrator(emulator.state))
    archive = emulator.state.add_channel(world.guild, "Archive", type=GUILD_CATEGORY)
    member = world.members[0]
    app = hikari.RESTApp(url=emulator.rest_url, max_retries=0)
    await app.start()
    try:
        async with app.acquire(emulator.token, hikari.TokenType.BOT) as rest:
            channel = await rest.create_guild_text_channel(
                world.guild.id, "ticket-0001", category=world.category_id
            )
            await rest.edit_channel(channel.id, name="closed-0001", parent_category=archive.id)
            await rest.edit_permission_overwrite(
                channel.id, member.id, target_type=hikari.PermissionOverwriteType.MEMBER,
                allow=hikari.Permissions(VIEW_CHANNEL), deny=hikari.Permissions(SEND_MESSAGES),
            )  # fmt: skip
            await rest.delete_permission_overwrite(channel.id, member.id)
            await rest.edit_channel(channel.id, topic="Closed: done")
            sent = await rest.create_message(
                channel.id, "transcript", attachment=hikari.Bytes(b"<html></html>", "t.html")
            )
            await rest.delete_message(channel.id, sent.id)
            dm = await rest.create_dm_channel(member.id)
            await rest.create_message(dm.id, "Your ticket was closed.")
    finally:
        await app.close()
    out = capsys.readouterr().out
    assert "[discord] #ticket-0001 created in category 'Tickets'" in out
    assert "[discord] #ticket-0001 renamed to #closed-0001" in out
    assert "[discord] #closed-0001 moved to category 'Archive'" in out
    assert "[discord] #closed-0001 permissions changed" in out
    assert "@member01: allow View Channel; deny Send Messages" in out
    assert "@member01: removed" in out
    assert "[discord] #closed-0001 topic set to 'Closed: done'" in out
    assert "attachment t.html (13 bytes)" in out
    assert f"[discord] message {sent.id} deleted in #closed-0001" in out
    assert "DM to @member01: 'Your ticket was closed.'" in out
