"""The two error tables (HTTP and Discord) look an error up by its class and then its bases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import hikari
import lightbulb
import pytest
import pytest_asyncio
from aiohttp import web

from bot.api.app import answers
from bot.core.errors import AdminError, NotAllowed, RateLimited, TicketError
from bot.discord.errors import UNEXPECTED, explain, member_message, not_done


class NoSuchThing(AdminError):
    """A subclass of a mapped error, with no entry of its own."""


class SlowDown(RateLimited):
    pass


class Unheard(TicketError):
    """A domain error nobody mapped (a bug): still an answer in the door's shape."""


@pytest_asyncio.fixture
async def raising() -> AsyncIterator[str]:
    """A real aiohttp server with the API's error middleware; `/<kind>` raises that error."""
    errors: dict[str, Exception] = {
        "subclass": NoSuchThing("there is no such thing"),
        "retry": SlowDown("user", 3.2),
        "unmapped": Unheard(),
    }

    async def handler(request: web.Request) -> web.Response:
        raise errors[request.match_info["kind"]]

    app = web.Application(middlewares=[answers])
    app.router.add_get("/{kind}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def _get(url: str) -> tuple[int, str, dict[str, Any], dict[str, str]]:
    async with aiohttp.ClientSession() as session, session.get(url) as reply:
        return reply.status, reply.content_type, await reply.json(), dict(reply.headers)


@pytest.mark.asyncio
async def test_the_api_maps_a_subclass_as_its_base_never_a_text_500(raising: str) -> None:
    status, kind, body, _ = await _get(f"{raising}/subclass")
    assert (status, kind) == (400, "application/json")
    assert body == {
        "ok": False,
        "error": {"code": "invalid_request", "message": "there is no such thing"},
    }
    status, _, body, headers = await _get(f"{raising}/retry")
    assert status == 429
    assert headers["Retry-After"] == "4"
    assert body["error"] == {
        "code": "rate_limited",
        "message": "this user opened a ticket moments ago; retry in 4 s",
        "scope": "user",
        "retryAfter": 4,
    }


@pytest.mark.asyncio
async def test_the_api_answers_an_unmapped_domain_error_as_json(raising: str) -> None:
    status, kind, body, _ = await _get(f"{raising}/unmapped")
    assert (status, kind) == (500, "application/json")
    assert body["error"]["code"] == "internal_error"


def test_discord_explains_a_subclass_as_its_base() -> None:
    assert member_message(NoSuchThing("there is no such thing")) == "there is no such thing"
    assert member_message(SlowDown("user", 5)).startswith("You opened a ticket moments ago")
    assert not_done("closed", NotAllowed("only the staff can")) == (
        "The ticket was not closed: only the staff can"
    )
    missing = lightbulb.prefab.MissingRequiredPermission(
        hikari.Permissions.MANAGE_GUILD, hikari.Permissions.NONE
    )
    assert explain(missing) == "you need the Manage Server permission for this command"


def test_discord_does_not_explain_a_bug() -> None:
    assert explain(Unheard()) is None
    assert explain(PermissionError(13, "Permission denied", "/srv/transcripts")) is None
    assert member_message(KeyError("x")) == UNEXPECTED
