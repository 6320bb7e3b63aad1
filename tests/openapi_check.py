"""Every HTTP exchange the tests make with the bot, checked against the OpenAPI document.

`recorder()` is an aiohttp middleware the test fixtures install outermost on the real app; it
keeps each request and the response as sent. `problems()` validates them with openapi-core, so
the document and the code can't drift apart: a response the document doesn't describe fails the
test that received it.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Middleware
from openapi_core import OpenAPI
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_core.testing import MockRequest, MockResponse

from bot.api.openapi import openapi_document


@dataclass(frozen=True, slots=True)
class Exchange:
    method: str
    path: str
    query: dict[str, str]
    status: int
    headers: dict[str, str]
    body: bytes
    content_type: str


@dataclass
class Recorder:
    exchanges: list[Exchange] = field(default_factory=list)

    def middleware(self) -> Middleware:
        @web.middleware
        async def record(
            request: web.Request,
            handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
        ) -> web.StreamResponse:
            response = await handler(request)
            body = response.body if isinstance(response, web.Response) else None
            if isinstance(body, bytes):
                self.exchanges.append(
                    Exchange(
                        request.method,
                        request.path,
                        dict(request.query),
                        response.status,
                        dict(response.headers),
                        body,
                        response.content_type,
                    )
                )
            return response

        return record


@functools.cache
def _openapi() -> OpenAPI:
    return OpenAPI.from_dict(openapi_document())


def problems(exchanges: list[Exchange]) -> list[str]:
    """What the document says is wrong with each response; paths it doesn't have are skipped
    (e.g. a 404 for `/nope`: no document can list every path that doesn't exist)."""
    found = []
    for x in exchanges:
        request = MockRequest("http://127.0.0.1", x.method.lower(), x.path, args=x.query)
        response = MockResponse(x.body, x.status, x.headers, x.content_type)
        try:
            _openapi().validate_response(request, response)
        except (PathNotFound, OperationNotFound):
            continue
        except Exception as exc:  # every validation error is reported
            cause = exc.__cause__ or exc
            found.append(f"{x.method} {x.path} → {x.status} {x.body[:300]!r}: {cause}")
    return found
