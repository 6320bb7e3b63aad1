"""A refused open asked again is answered with the same bytes, from memory, while the refusal
holds (`bot.core.refusals` says how long that is). The key is checked, the body read and
parsed, the request ID given and the request logged every time, as for any request; what is
skipped is working out the refusal and writing its answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from aiohttp import web

from bot.api.errors import status_and_code
from bot.api.idempotency import HEADER as IDEMPOTENCY_KEY
from bot.api.schemas import OpenRequest
from bot.core.refusals import Basis, Refusals


class KeptAnswer(NamedTuple):
    status: int
    code: str  # for the request log
    body: bytes
    headers: Mapping[str, str]  # the content type, Retry-After and the RateLimit fields

    def response(self) -> web.Response:
        return web.Response(body=self.body, status=self.status, headers=self.headers)


Asked = tuple[int, OpenRequest]  # (server, what was asked)
KeptRefusals = Refusals[Asked, KeptAnswer]


class Repeated(Exception):
    """The request is refused again: `answer` is what it got last time."""

    def __init__(self, answer: KeptAnswer) -> None:
        super().__init__(answer.code)
        self.answer = answer


class Pending(NamedTuple):
    """A request whose answer may be kept: what it asked, and the basis read before the work."""

    asked: Asked
    basis: Basis


PENDING: web.RequestKey[Pending] = web.RequestKey("pending_refusal", Pending)


async def repeat_if_kept(request: web.Request, refusals: KeptRefusals, asked: Asked) -> None:
    """Raise `Repeated` if this refusal is kept; otherwise note what its answer would be kept
    under (`keep_if_refused`). A request with an Idempotency-Key is stored and replayed by
    that mechanism instead."""
    if IDEMPOTENCY_KEY in request.headers:
        return
    basis = await refusals.basis(asked[0])
    if basis is None:
        return
    kept = refusals.get(asked, basis)
    if kept is not None:
        raise Repeated(kept)
    request[PENDING] = Pending(asked, basis)


def keep_if_refused(
    request: web.Request,
    refusals: KeptRefusals,
    response: web.Response,
    refused: Exception,
    holds: tuple[float, float],
) -> None:
    """After the answer is complete (RateLimit fields included): keep it, if it may be."""
    pending = request.get(PENDING)
    if pending is None or not isinstance(response.body, bytes):
        return
    _, code = status_and_code(refused)
    answer = KeptAnswer(response.status, code, response.body, dict(response.headers))
    refusals.keep(pending.asked, answer, pending.basis, refused, holds)
