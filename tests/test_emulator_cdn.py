"""The emulated CDN: signed attachment links that expire like Discord's, avatars, custom emoji;
and replies, forwards, stickers and pins in Discord's shapes, as hikari reads them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import hikari
import pytest
import pytest_asyncio

from bot.sandbox.cdn import LINK_TTL_S, solid_png
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import SandboxWorld
from bot.sandbox.state import Attachment
from tests.conftest import LoopErrors, wait_until_cached

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def rest(
    emulator: DiscordEmulator, world: SandboxWorld, loop_errors: LoopErrors
) -> AsyncIterator[hikari.api.RESTClient]:
    """A bot connected with Message Content, so the emulator shows it attachments."""
    bot = hikari.GatewayBot(
        emulator.token,
        rest_url=emulator.rest_url,
        banner=None,
        logs=None,
        intents=hikari.Intents.ALL_UNPRIVILEGED | hikari.Intents.MESSAGE_CONTENT,
        max_retries=0,
    )
    bot.subscribe(hikari.ExceptionEvent, loop_errors.on_exception)
    await bot.start(check_for_updates=False)
    await wait_until_cached(bot, world.guild.id)
    yield bot.rest
    await bot.close()


async def get(url: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.read()


async def test_attachment_links_are_signed_and_expire(
    rest: hikari.api.RESTClient, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    channel = emulator.state.channels[world.panel_channel_id]
    png = solid_png(8, 8, (1, 2, 3))
    sent = await emulator.send_user_message(
        channel.id,
        world.members[0].id,
        "look",
        files=[Attachment(filename="shot.png", data=png, content_type="image/png")],
    )
    message = await rest.fetch_message(channel.id, sent.id)
    link = message.attachments[0].url
    assert link.startswith(emulator.cdn_url + f"/attachments/{channel.id}/")
    assert "?ex=" in link
    assert "&is=" in link
    assert "&hm=" in link
    assert await get(link) == (200, png)
    assert (await get(link.replace("hm=", "hm=0")))[0] == 404  # tampered
    assert (await get(link.split("?")[0]))[0] == 404  # unsigned

    emulator.state.cdn.advance(LINK_TTL_S + 1)
    assert (await get(link))[0] == 404  # expired
    fresh = (await rest.fetch_message(channel.id, sent.id)).attachments[0].url
    assert fresh != link
    assert await get(fresh) == (200, png)  # a message fetched again carries a new link


async def test_avatars_and_custom_emoji_are_served(
    rest: hikari.api.RESTClient, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    member = world.members[0]
    member.avatar = solid_png(16, 16, (9, 8, 7))
    emoji = emulator.state.add_emoji(world.guild, "pog", solid_png(4, 4, (1, 1, 1)))
    user = await rest.fetch_user(member.id)
    url = user.make_avatar_url(file_format="PNG", size=128)
    assert url is not None
    path = str(url).removeprefix(hikari.urls.CDN_URL)
    assert await get(emulator.cdn_url + path) == (200, member.avatar)
    other = await rest.fetch_user(world.members[1].id)
    default = str(other.display_avatar_url).removeprefix(hikari.urls.CDN_URL)
    status, body = await get(emulator.cdn_url + default)
    assert status == 200
    assert body.startswith(b"\x89PNG")
    guild = await rest.fetch_guild(world.guild.id)
    assert [e.name for e in guild.emojis.values()] == ["pog"]
    assert await get(f"{emulator.cdn_url}/emojis/{emoji.id}.png") == (200, emoji.image)
    assert (await get(f"{emulator.cdn_url}/emojis/1.png"))[0] == 404


async def test_replies_forwards_stickers_and_pins_read_as_discords(
    rest: hikari.api.RESTClient, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    channel = world.panel_channel_id
    member = world.members[0].id
    first = await emulator.send_user_message(channel, member, "the original")
    reply = await emulator.send_user_message(channel, member, "answer", reply_to=first.id)
    forward = await emulator.send_user_message(channel, member, "", forward=(channel, first.id))
    sticker = await emulator.send_user_message(channel, member, "", stickers=["Wave"])
    pin = await emulator.send_user_message(channel, member, "", type=6)

    got = await rest.fetch_message(channel, reply.id)
    assert got.type == hikari.MessageType.REPLY
    assert got.referenced_message is not None
    assert got.referenced_message.content == "the original"
    got = await rest.fetch_message(channel, forward.id)
    assert got.message_reference is not None
    assert got.message_reference.type == 1
    assert got.message_snapshots[0].content == "the original"
    assert [s.name for s in (await rest.fetch_message(channel, sticker.id)).stickers] == ["Wave"]
    assert (
        await rest.fetch_message(channel, pin.id)
    ).type == hikari.MessageType.CHANNEL_PINNED_MESSAGE
