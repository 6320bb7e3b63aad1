"""The composition root: builds every part from the config and owns start and stop order.

Start: database → HTTP listener (bound before the gateway, so a taken port fails fast) → gateway.
Stop: stop accepting HTTP and finish in-flight requests → close the gateway → close the database.
A failure while starting undoes what had started and surfaces as one `StartupError`.
"""

from __future__ import annotations

import errno
import logging

from aiohttp import web

from bot.api.app import Health, create_app
from bot.config import Config
from bot.discord.gateway import DiscordGateway
from bot.errors import StartupError
from bot.store import Database

_LOG = logging.getLogger("rimpllee")

HTTP_SHUTDOWN_GRACE_S = 10.0


class Rimpllee:
    """One running bot: database, HTTP API and Discord gateway in one event loop."""

    def __init__(self, config: Config, *, max_retries: int = 3) -> None:
        self.config = config
        self.discord = DiscordGateway(config.discord, max_retries=max_retries)
        self.db: Database | None = None
        self._runner: web.AppRunner | None = None
        self.http_port = 0

    def health(self) -> Health:
        return Health(
            gateway_connected=self.discord.connected,
            database_open=self.db is not None and self.db.is_open,
        )

    @property
    def http_url(self) -> str:
        return f"http://{self.config.http.host}:{self.http_port}"

    async def start(self) -> None:
        try:
            self.db = await Database.open(self.config.database.path)
            await self._start_http()
            await self.discord.start()
        except BaseException:
            await self.stop()
            raise
        _LOG.info("ready: gateway connected, HTTP API on %s", self.http_url)

    async def _start_http(self) -> None:
        http = self.config.http
        self._runner = web.AppRunner(
            create_app(self.health),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=HTTP_SHUTDOWN_GRACE_S,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, http.host, http.port)
        try:
            await site.start()
        except OSError as exc:
            reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise StartupError(
                f"cannot listen on {http.host}:{http.port}: {reason} "
                f"(set http.port in {self.config.source} to a free port)"
            ) from None
        self.http_port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Idempotent; safe after a partial start."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.discord.close()
        if self.db is not None:
            await self.db.close()
            self.db = None
