"""The OpenAPI document: valid, served, rendered, complete, and able to catch a drift.

That every answer the tests receive matches it is checked by the `running` fixture itself
(tests/conftest.py, tests/openapi_check.py) for every test that runs the bot.
"""

from __future__ import annotations

import json

import aiohttp
import pytest
from openapi_spec_validator import validate

from bot.api.openapi import ERRORS, openapi_document
from bot.app import Rimpllee
from tests.openapi_check import Exchange, problems

pytestmark = pytest.mark.asyncio


async def test_the_document_is_valid_openapi_3_1() -> None:
    document = openapi_document()
    assert document["openapi"] == "3.1.0"
    validate(document)


async def test_it_is_served_with_a_reference_page_that_needs_nothing_else(app: Rimpllee) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(app.http_url + "/api/v1/openapi.json") as resp:
            assert resp.status == 200
            assert json.loads(await resp.read()) == openapi_document()
        async with http.get(app.http_url + "/api/v1/docs") as resp:
            assert resp.status == 200
            assert resp.content_type == "text/html"
            page = await resp.text()
    for path in openapi_document()["paths"]:
        assert f"<code>{path}</code>" in page
    for codes in ERRORS.values():
        for code in codes:
            assert f"<code>{code}</code>" in page
    # Self-contained: no script, stylesheet, image or font from anywhere.
    for tag in ("<script", "<link", "<img", "@import", "url("):
        assert tag not in page


async def test_every_api_route_of_the_app_is_in_the_document(app: Rimpllee) -> None:
    """Every route of the API (the dashboard's pages, served by the same app, are not API)."""
    runner = app._runner  # the app the bot serves, as built
    assert runner is not None
    routes = {
        (r.method.lower(), r.resource.canonical)
        for r in runner.app.router.routes()
        if r.method != "HEAD"
        and r.resource is not None
        and r.resource.canonical.startswith(("/api/", "/healthz"))
    }
    documented = {
        (method, path)
        for path, operations in openapi_document()["paths"].items()
        for method in operations
    }
    assert routes == documented


def _exchange(status: int, body: object, **headers: str) -> Exchange:
    return Exchange(
        "POST",
        "/api/v1/tickets",
        {},
        status,
        {"X-Request-Id": "req_1", **headers},
        json.dumps(body).encode(),
        "application/json",
    )


async def test_the_check_catches_an_answer_the_document_does_not_describe() -> None:
    limits = {"RateLimit-Policy": '"server";q=30;w=60', "RateLimit": '"server";r=29;t=60'}
    good = _exchange(
        200,
        {"ok": True, "ticket": {"channelId": "1", "url": "https://discord.com/channels/2/1"}},
        **limits,
    )
    assert problems([good]) == []
    drifts = [
        _exchange(200, {"ok": True, "ticket": {"channelId": 1, "url": "x"}}, **limits),
        _exchange(200, {"ok": True, "ticket": {"channelId": "1", "url": "x"}}),  # no RateLimit
        _exchange(403, {"ok": False, "error": {"code": "forbidden", "message": "m"}}),
        _exchange(
            409, {"ok": False, "error": {"code": "max_open_reached", "message": "m", "x": 1}}
        ),
        _exchange(418, {"ok": False, "error": {"code": "teapot", "message": "m"}}),
    ]
    for drift in drifts:
        assert len(problems([drift])) == 1, drift
