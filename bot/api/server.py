"""The HTTP listener's hardening: timeouts, JSON for what aiohttp's own parser refuses, and a
`Server` header without version numbers.

aiohttp parses the request line and headers before the app sees a request. When that fails
(a malformed request line or header, a line over 8190 bytes, more than 128 headers, a bad
chunked body) it answers by itself; here it answers our JSON error shape instead of its text,
and logs one DEBUG line instead of a traceback (it is the client's mistake, not the bot's).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from bot.api.errors import error_response

_LOG = logging.getLogger("rimpllee.api")

SERVER_NAME = "rimpllee"
# What aiohttp's parser refuses itself, by the status it chose (a line too long is 400 too).
_PARSER_CODES = {400: "bad_http_request", 413: "body_too_large", 431: "headers_too_large"}


class _Protocol(RequestHandler):
    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            raise ConnectionError("the response was started; the connection is dropped")
        if status >= 500:
            _LOG.error("error handling a request from %s", request.remote, exc_info=exc)
            return _no_keepalive(
                error_response(500, "internal_error", "internal error; the bot's log has details")
            )
        reason = message or (str(exc) if exc else HTTPStatus(status).phrase)
        _LOG.debug("refused a malformed request from %s: %s %s", request.remote, status, reason)
        code = _PARSER_CODES.get(status, "bad_http_request")
        return _no_keepalive(
            error_response(status, code, f"malformed HTTP request: {reason}", field="request")
        )


def _no_keepalive(response: web.Response) -> web.Response:
    response.headers["Server"] = SERVER_NAME
    response.force_close()
    return response


class _Server(web.Server):
    def __call__(self) -> RequestHandler:
        return _Protocol(self, loop=self._loop, **self._kwargs)


class HardenedRunner(web.AppRunner):
    """An AppRunner whose connections answer parse errors with our JSON errors."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _Server  # the same object, building our request handler
        return server


# After answering a request whose body didn't all arrive, aiohttp reads (and drops) the rest for
# this long before closing, so the client sees the answer rather than a reset.
LINGER_S = 2.0


def runner_options(header_timeout: float) -> dict[str, Any]:
    """A connection must deliver a request's headers within `header_timeout` seconds of opening
    (and of its previous response, when kept alive), else aiohttp closes it; a body that stalls
    is answered 408 at the body timeout and the connection closed `LINGER_S` later."""
    # Compressed bodies are decoded by the API itself (`schemas`), within the body size limit.
    return {
        "keepalive_timeout": header_timeout,
        "lingering_time": LINGER_S,
        "auto_decompress": False,
    }
