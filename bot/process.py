"""The life of a process that runs the bot: stop on the first SIGINT or SIGTERM, even mid-start.

Shared by `rimpllee run` (bot/cli.py) and `rimpllee sandbox` (bot/sandbox/runner.py), so neither
imports the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine, Iterator
from typing import Any

_LOG = logging.getLogger("rimpllee")


@contextlib.contextmanager
def shutdown_signals() -> Iterator[asyncio.Event]:
    """An event set by the first SIGINT or SIGTERM, caught from before start-up on: a signal
    that arrives while the bot is still starting stops it as soon as it has started."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        yield stop
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def start_or_stop(starting: Coroutine[Any, Any, None], stop: asyncio.Event) -> bool:
    """Start, unless a signal comes first: then abandon the start (it cleans up after itself)
    and return False. A slow or stuck Discord never makes Ctrl+C wait."""
    start = asyncio.ensure_future(starting)
    signal_seen = asyncio.ensure_future(stop.wait())
    await asyncio.wait({start, signal_seen}, return_when=asyncio.FIRST_COMPLETED)
    signal_seen.cancel()
    if start.done():
        start.result()  # a StartupError surfaces here
        return True
    start.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await start
    _LOG.info("stopped while starting")
    return False
