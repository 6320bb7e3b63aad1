"""The IETF `RateLimit-Policy` and `RateLimit` fields (draft-ietf-httpapi-ratelimit-headers-09/10).

`RateLimit-Policy: "server";q=30;w=60, "user";q=1;w=20` — each policy: quota `q` per window `w`
seconds. `RateLimit: "server";r=29;t=58, "user";r=0;t=20` — remaining `r` and seconds `t` until
the quota frees up. "server" is the server's rolling window, "user" this user's cooldown (only
when the request names a user).
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from bot.core.quotas import Quota

POLICY = "RateLimit-Policy"
STATE = "RateLimit"


def rate_limit_fields(quotas: Sequence[Quota]) -> dict[str, str]:
    return {
        POLICY: ", ".join(f'"{q.name}";q={q.limit};w={q.window}' for q in quotas),
        STATE: ", ".join(f'"{q.name}";r={q.remaining};t={q.reset}' for q in quotas),
    }


def add_rate_limit_fields(response: web.StreamResponse, quotas: Sequence[Quota]) -> None:
    key = tuple(quotas)
    fields = _WRITTEN.get(key)
    if fields is None:
        written = rate_limit_fields(quotas)
        fields = written[POLICY], written[STATE]
        if len(_WRITTEN) >= _WRITTEN_MAX:
            _WRITTEN.clear()
        _WRITTEN[key] = fields
    headers = response.headers
    headers[POLICY], headers[STATE] = fields


# The two fields as written, by the quotas they say: a flood of answers repeats a few states.
_WRITTEN: dict[tuple[Quota, ...], tuple[str, str]] = {}
_WRITTEN_MAX = 4096
