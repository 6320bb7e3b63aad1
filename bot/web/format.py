"""How the dashboard writes values for people."""

from __future__ import annotations

import time


def when(timestamp: float | None) -> str:
    """A moment in UTC, to the second; None is "never"."""
    if timestamp is None:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(timestamp))
