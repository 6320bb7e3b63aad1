"""Discord's rate limits: per-route buckets and a global limit, with Discord's headers and 429s.

https://discord.com/developers/docs/topics/rate-limits: every answer carries `X-RateLimit-Limit`,
`-Remaining`, `-Reset`, `-Reset-After` and `-Bucket`; a request over a limit gets 429 with a JSON
body `{message, retry_after, global}` and `Retry-After`. Buckets are per route and per major
parameter (channel, guild, webhook). Interaction callbacks have no limits and no headers.

The default limits are roomy (the tests and the sandbox stay fast) but the headers are real, so a
client's rate limiter runs as against Discord; `tight()` makes them small for a test.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

MAJOR_PARAMS = ("channel_id", "guild_id", "webhook_id", "app_id", "interaction_id")


@dataclass
class Limits:
    per_route: int = 50  # requests per bucket and window
    window_s: float = 1.0
    global_per_s: int | None = None  # Discord's is 50; off by default so benchmarks measure the bot


@dataclass
class _Window:
    started: float
    count: int = 0


@dataclass(frozen=True)
class Verdict:
    headers: dict[str, str]
    retry_after: float | None = None  # set: answer 429
    is_global: bool = False

    def body(self) -> dict[str, object]:
        return {
            "message": "You are being rate limited.",
            "retry_after": self.retry_after,
            "global": self.is_global,
        }


@dataclass
class RateLimiter:
    limits: Limits = field(default_factory=Limits)
    _buckets: dict[tuple[str, str], _Window] = field(default_factory=dict)
    _global: _Window = field(default_factory=lambda: _Window(0.0))
    limited: int = 0  # how many 429s were answered

    def tight(
        self, per_route: int = 2, window_s: float = 0.5, global_per_s: int | None = None
    ) -> None:
        self.limits = Limits(per_route=per_route, window_s=window_s, global_per_s=global_per_s)
        self._buckets.clear()

    def hit(self, method: str, route: str, major: str) -> Verdict:
        now = time.time()
        limits = self.limits
        if limits.global_per_s is not None:
            if now - self._global.started >= 1.0:
                self._global = _Window(now)
            self._global.count += 1
            if self._global.count > limits.global_per_s:
                self.limited += 1
                retry = round(self._global.started + 1.0 - now, 3)
                return Verdict(
                    {
                        "Retry-After": str(max(1, round(retry))),
                        "X-RateLimit-Global": "true",
                        "X-RateLimit-Scope": "global",
                    },
                    retry_after=retry,
                    is_global=True,
                )
        bucket = hashlib.sha1(f"{method} {route}".encode(), usedforsecurity=False).hexdigest()[:16]
        window = self._buckets.get((bucket, major))
        if window is None or now - window.started >= limits.window_s:
            window = self._buckets[(bucket, major)] = _Window(now)
        window.count += 1
        reset_after = max(0.0, window.started + limits.window_s - now)
        headers = {
            "X-RateLimit-Limit": str(limits.per_route),
            "X-RateLimit-Remaining": str(max(0, limits.per_route - window.count)),
            "X-RateLimit-Reset": f"{window.started + limits.window_s:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket,
        }
        if window.count > limits.per_route:
            self.limited += 1
            headers["Retry-After"] = str(max(1, round(reset_after)))
            headers["X-RateLimit-Scope"] = "user"
            return Verdict(headers, retry_after=round(reset_after, 3))
        return Verdict(headers)
