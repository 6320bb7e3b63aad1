"""Discord's rate limits on the emulator, met by hikari's own rate limiter as against Discord."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import hikari
import pytest
import pytest_asyncio

from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import SandboxWorld

pytestmark = pytest.mark.asyncio

MESSAGES = "/channels/{channel_id}/messages"


@pytest_asyncio.fixture
async def rest(
    emulator: DiscordEmulator, world: SandboxWorld
) -> AsyncIterator[hikari.api.RESTClient]:
    app = hikari.RESTApp(url=emulator.rest_url, max_retries=0)
    await app.start()
    try:
        async with app.acquire(emulator.token, hikari.TokenType.BOT) as client:
            yield client
    finally:
        await app.close()


def _statuses(emulator: DiscordEmulator, route: str) -> list[int]:
    return [r.status for r in emulator.calls("POST", route)]


async def test_every_answer_carries_discords_rate_limit_headers(
    emulator: DiscordEmulator, rest: hikari.api.RESTClient, world: SandboxWorld
) -> None:
    await rest.create_message(world.panel_channel_id, "hello")
    async with aiohttp.ClientSession() as session:
        answer = await session.get(
            f"{emulator.rest_url}/channels/{world.panel_channel_id}/messages",
            headers={"Authorization": f"Bot {emulator.token}"},
        )
    limit = int(answer.headers["X-RateLimit-Limit"])
    assert 0 <= int(answer.headers["X-RateLimit-Remaining"]) < limit
    assert float(answer.headers["X-RateLimit-Reset-After"]) >= 0
    assert float(answer.headers["X-RateLimit-Reset"]) > 0
    assert answer.headers["X-RateLimit-Bucket"]


async def test_a_request_over_the_limit_gets_discords_429(
    emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    emulator.rate_limiter.tight(per_route=1, window_s=5.0)
    url = f"{emulator.rest_url}/channels/{world.panel_channel_id}/messages"
    headers = {"Authorization": f"Bot {emulator.token}"}
    async with aiohttp.ClientSession() as session:
        first = await session.get(url, headers=headers)
        second = await session.get(url, headers=headers)
        body = await second.json()
    assert first.status == 200
    assert first.headers["X-RateLimit-Remaining"] == "0"
    assert second.status == 429
    assert body["global"] is False
    assert 0 < body["retry_after"] <= 5.0
    assert second.headers["X-RateLimit-Scope"] == "user"
    assert int(second.headers["Retry-After"]) >= 1


async def test_hikari_meets_the_headers_and_never_hits_a_tight_limit(
    emulator: DiscordEmulator, rest: hikari.api.RESTClient, world: SandboxWorld
) -> None:
    """Two requests a half second per channel: hikari waits for the reset the headers name."""
    emulator.rate_limiter.tight(per_route=2, window_s=0.5)
    await rest.create_message(world.panel_channel_id, "learn the bucket")
    for i in range(5):
        await rest.create_message(world.panel_channel_id, f"message {i}")
    assert _statuses(emulator, MESSAGES) == [200] * 6
    assert emulator.rate_limiter.limited == 0


async def test_a_second_client_on_the_same_token_is_429d_and_hikari_retries_after_the_reset(
    emulator: DiscordEmulator, rest: hikari.api.RESTClient, world: SandboxWorld
) -> None:
    """The bot and, say, an admin command share the token and so the bucket: the one that
    doesn't know the bucket is spent gets a 429, waits the reset out and gets through."""
    emulator.rate_limiter.tight(per_route=1, window_s=0.3)
    channel = emulator.state.channels[world.panel_channel_id]
    before = len(emulator.state.messages[channel.id])
    other = hikari.RESTApp(url=emulator.rest_url, max_retries=0)
    await other.start()
    try:
        async with other.acquire(emulator.token, hikari.TokenType.BOT) as second:
            await rest.create_message(channel.id, "from the bot")
            await second.create_message(channel.id, "from the admin command")
    finally:
        await other.close()
    assert _statuses(emulator, MESSAGES) == [200, 429, 200]
    assert len(emulator.state.messages[channel.id]) == before + 2


async def test_the_global_limit_answers_429_global_and_hikari_backs_off(
    emulator: DiscordEmulator, rest: hikari.api.RESTClient, world: SandboxWorld
) -> None:
    emulator.rate_limiter.tight(per_route=50, window_s=1.0, global_per_s=3)
    channels = [emulator.state.add_channel(world.guild, f"room-{i}") for i in range(6)]
    await asyncio.gather(*(rest.create_message(c.id, "hi") for c in channels))
    statuses = _statuses(emulator, MESSAGES)
    assert 429 in statuses
    assert statuses.count(200) == 6
    assert all(len(emulator.state.messages[c.id]) == 1 for c in channels)
