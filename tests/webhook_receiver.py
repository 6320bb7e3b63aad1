"""A website's webhook endpoint for the tests: a real HTTP server that verifies every signature
with the `standardwebhooks` library and checks each event against the OpenAPI document."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from openapi_schema_validator import OAS31Validator
from standardwebhooks.webhooks import Webhook

from bot.api.openapi import openapi_document

EVENT_SCHEMA = OAS31Validator(
    {
        "$ref": "#/components/schemas/TicketEvent",
        "components": openapi_document()["components"],
    }
)


class Receiver:
    """A website's webhook endpoint: verifies, records, and answers as the test says."""

    def __init__(self) -> None:
        self.secret = ""
        self.received: list[dict[str, Any]] = []  # every verified request, duplicates too
        self.status = 204
        self.hold: asyncio.Event | None = None  # while set to an unset event, requests hang
        self.waiting = 0
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/hooks"

    async def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        event = Webhook(self.secret).verify(body, dict(request.headers))
        assert request.headers["webhook-id"] == event["id"]
        EVENT_SCHEMA.validate(event)  # what the OpenAPI document says an event is
        self.received.append(event)
        if self.hold is not None:
            self.waiting += 1
            try:
                await self.hold.wait()
            finally:
                self.waiting -= 1
        return web.Response(status=self.status)

    def unique(self) -> list[dict[str, Any]]:
        """Deduplicated by event ID, in the order first received: what a receiver acts on."""
        seen: dict[str, dict[str, Any]] = {}
        for event in self.received:
            seen.setdefault(event["id"], event)
        return list(seen.values())

    async def wait_for(self, count: int, timeout: float = 15) -> list[dict[str, Any]]:
        async with asyncio.timeout(timeout):
            while len(self.unique()) < count:
                await asyncio.sleep(0.05)
        return self.unique()
