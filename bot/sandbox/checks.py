"""What the emulator checks before a REST handler runs: the body parses, the request fits Discord's
spec (`spec.py`) and Discord's documented rules (`rules.py`). One call from the middleware."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.sandbox import rules
from bot.sandbox.multipart import parse_multipart
from bot.sandbox.rest import PREFIX, DiscordHTTPError
from bot.sandbox.spec import DiscordSpec, response_problems
from bot.sandbox.validation import FormErrors

if TYPE_CHECKING:
    from bot.sandbox.emulator import DiscordEmulator

INVALID_JSON = DiscordHTTPError(400, 50109, "The request body contains invalid JSON.")


class RequestChecks:
    def __init__(self, emu: DiscordEmulator) -> None:
        self._emu = emu
        self.enabled = True  # off only to measure what the checks cost (`make bench`)
        self.spec = DiscordSpec.load()
        self._world = rules.World(
            channel_type=self._channel_type, interaction_type=self._interaction_type
        )

    def warm(self, routes: list[web.RouteDef]) -> None:
        """Build the validators of every route served now, so no request pays for it."""
        for route in routes:
            self.spec.operation(route.method, route.path.removeprefix(PREFIX))

    def _channel_type(self, raw: str) -> int | None:
        channel = self._emu.state.channels.get(int(raw)) if raw.isdigit() else None
        return None if channel is None else channel.type

    def _interaction_type(self, token: str) -> int | None:
        record = self._emu.interactions_by_token.get(token)
        return None if record is None else record.type

    async def check(self, request: web.Request, path: str) -> None:
        """Raise Discord's 400 for a request Discord would refuse; `path` is after /api/v10."""
        op = self.spec.operation(request.method, path) if self.enabled else None
        if op is None:
            return
        has_body, body = await read_body(request)
        errors = self.spec.check(op, path, request.query, body, has_body=has_body)
        if not errors:
            segments = path.strip("/").split("/")
            params = {
                name[1:-1]: value
                for name, value in zip(op.path.strip("/").split("/"), segments, strict=True)
                if name.startswith("{")
            }
            errors = rules.check(
                op.method, op.path, params, request.query, body if has_body else None, self._world
            )
        if errors:
            raise invalid_form(errors)

    def answer_problems(self, request: web.Request, response: web.StreamResponse) -> list[str]:
        """How a JSON answer differs from the spec's schema for it (empty: as Discord's)."""
        if not isinstance(response, web.Response) or response.content_type != "application/json":
            return []
        path = request.path.removeprefix(PREFIX)
        op = self.spec.operation(request.method, path)
        if op is None or response.body is None or not isinstance(response.body, bytes):
            return []
        return response_problems(op, response.status, json.loads(response.body))


def invalid_form(errors: FormErrors) -> DiscordHTTPError:
    return DiscordHTTPError(400, 50035, "Invalid Form Body", errors.tree)


async def read_body(request: web.Request) -> tuple[bool, Any]:
    """The JSON body (a multipart body's `payload_json`); (False, None) when there is none."""
    if not request.body_exists:
        return False, None
    if request.content_type not in ("application/json", "multipart/form-data"):
        return False, None  # a form body (OAuth2's token exchange) is its handler's to read
    raw = await request.read()
    if request.content_type == "multipart/form-data":
        parts = parse_multipart(request.headers.get("Content-Type", ""), raw)
        payload = next((p.data for p in parts if p.name == "payload_json"), None)
        if payload is None:
            return False, None
        raw = payload
    if not raw.strip():
        return False, None
    try:
        return True, json.loads(raw)
    except ValueError:
        raise INVALID_JSON from None
