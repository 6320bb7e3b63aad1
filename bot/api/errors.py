"""The one shape every API error has, and the one table mapping domain errors to HTTP."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    **fields: Any,
) -> web.Response:
    """`{"ok": false, "error": {"code", "message", ...fields}}` with the given status."""
    body = {"ok": False, "error": {"code": code, "message": message, **fields}}
    return web.json_response(body, status=status, headers=headers)
