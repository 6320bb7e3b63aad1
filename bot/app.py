"""The composition root: builds every part from the config and owns start and stop order.

Start: database → HTTP listener (bound before the gateway, so a taken port fails fast; it answers
503 until ready) → gateway, until every server has arrived → reconcile interrupted opens → ready.
Stop: stop accepting HTTP and let requests in flight finish → let opens in progress (from buttons
too) and log posts finish → close the gateway → close the database.
A failure while starting undoes what had started and surfaces as one `StartupError`.
"""

from __future__ import annotations

import errno
import logging
import time

from aiohttp import web

from bot.api.app import Health, create_app
from bot.api.tickets import AUTH_FAILURES_PER_MINUTE, ApiServices
from bot.config import Config
from bot.core.admin import ApiKeys, Blacklist, Settings
from bot.core.desk import TicketDesk
from bot.core.integrations import ApiRequestLog
from bot.core.lifecycle import EventLog, LifecycleService
from bot.core.limits import Clock, FailureLimiter
from bot.core.panel_io import PanelFiles
from bot.core.panels import PanelService
from bot.core.sessions import Sessions
from bot.core.stats import FirstReplies, StaffStats
from bot.core.tickets import Limits, TicketService
from bot.discord.directory import HikariDirectory
from bot.discord.gateway import DiscordGateway
from bot.discord.oauth import DiscordLogin
from bot.discord.port import CALL_TIMEOUT_S
from bot.discord.replies import watch_replies
from bot.discord.router import InteractionRouter
from bot.errors import StartupError
from bot.store import Database
from bot.store.admin import SqliteBlacklistStore, SqliteKeyStore
from bot.store.panels import SqliteButtonLabels, SqlitePanelStore
from bot.store.settings import SqliteSettingsStore
from bot.store.stats import ClaimRecordingLifecycleStore, SqliteStats
from bot.store.ticket_list import SqliteTicketList
from bot.store.tickets import SqliteTicketStore
from bot.store.transcripts import TranscriptFiles
from bot.store.web import SqliteApiRequestStore, SqliteSessionStore
from bot.web.app import DashboardServices, install_dashboard
from bot.web.panels import PanelPagesServices, install_panel_pages
from bot.web.stats import StatsPagesServices, install_stats_page
from bot.web.tickets import TicketPagesServices, install_ticket_pages

_LOG = logging.getLogger("rimpllee")

# An open makes two Discord calls of at most CALL_TIMEOUT_S each: let it finish.
HTTP_SHUTDOWN_GRACE_S = 2 * CALL_TIMEOUT_S + 5


class Rimpllee:
    """One running bot: database, HTTP API and Discord gateway in one event loop."""

    def __init__(self, config: Config, *, max_retries: int = 3, clock: Clock = time.time) -> None:
        self.config = config
        self.clock = clock
        self.discord = DiscordGateway(config.discord, max_retries=max_retries)
        self.db: Database | None = None
        self.tickets: TicketService | None = None
        self.requests: ApiRequestLog | None = None
        self._events: EventLog | None = None
        self._lifecycle: LifecycleService | None = None
        self._panels: PanelService | None = None
        self.ready = False  # the API answers 503 until the gateway is up and the cache warm
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
            services = self._services(self.db)
            await self._install_discord(self.db, services)
            await self._start_http(services)
            await self.discord.start()
            await services.tickets.reconcile()
        except BaseException:
            await self.stop()
            raise
        self.ready = True
        _LOG.info("ready: gateway connected, HTTP API on %s", self.http_url)

    async def _install_discord(self, db: Database, services: ApiServices) -> None:
        """Slash commands, the button router and the ticket lifecycle, before connecting."""
        clock = self.clock
        panel_store = SqlitePanelStore(db)
        settings_store = SqliteSettingsStore(db)
        transcripts = TranscriptFiles(self.config.database.path.parent / "transcripts")
        lifecycle_store = ClaimRecordingLifecycleStore(db, clock)
        lifecycle = LifecycleService(
            lifecycle_store,
            settings_store,
            SqliteButtonLabels(panel_store),
            self.discord.port,
            transcripts,
            self.events(db),
            clock,
        )
        self._panels = PanelService(panel_store, self.discord.port, clock)
        await self.discord.install_commands(
            services.keys,
            Blacklist(SqliteBlacklistStore(db), clock),
            self._panels,
            Settings(settings_store, clock),
            lifecycle,
        )
        self.discord.route(InteractionRouter(services.tickets, panel_store, lifecycle), lifecycle)
        self._lifecycle = lifecycle
        directory = HikariDirectory(self.discord.bot)
        watch_replies(self.discord.bot, FirstReplies(lifecycle_store, lifecycle, clock), directory)

    def events(self, db: Database) -> EventLog:
        if self._events is None:
            self._events = EventLog(SqliteSettingsStore(db), self.discord.port)
        return self._events

    def _services(self, db: Database) -> ApiServices:
        limits = self.config.limits
        self.requests = ApiRequestLog(SqliteApiRequestStore(db), self.clock)
        self.tickets = TicketService(
            SqliteTicketStore(db),
            self.discord.port,
            Limits(
                server_per_minute=limits.server_tickets_per_minute,
                user_cooldown=limits.user_cooldown_seconds,
                user_max_open=limits.user_max_open,
            ),
            self.clock,
            self.events(db),
        )
        return ApiServices(
            tickets=self.tickets,
            keys=ApiKeys(SqliteKeyStore(db), self.clock, self.events(db)),
            auth_failures=FailureLimiter(AUTH_FAILURES_PER_MINUTE, 60.0, self.clock),
            ready=lambda: self.ready,
            trusted_proxies=frozenset(self.config.http.trusted_proxies),
            requests=self.requests,
        )

    @property
    def public_url(self) -> str:
        """Where browsers reach the dashboard (its OAuth2 redirect URI starts with this)."""
        return self.config.dashboard.public_url or self.http_url

    def _dashboard(self, db: Database, services: ApiServices) -> DashboardServices:
        """The dashboard's door onto the same services as the slash commands and the API."""
        dashboard = self.config.dashboard
        assert services.requests is not None
        return DashboardServices(
            sessions=Sessions(SqliteSessionStore(db), self.clock),
            login=DiscordLogin(self.config.discord.rest_url, dashboard.client_secret),
            client_id=lambda: dashboard.client_id or self.discord.port.bot_user_id,
            public_url=lambda: self.public_url,
            directory=HikariDirectory(self.discord.bot),
            keys=services.keys,
            blacklist=Blacklist(SqliteBlacklistStore(db), self.clock),
            settings=Settings(SqliteSettingsStore(db), self.clock),
            requests=services.requests,
            panels=SqlitePanelStore(db),
        )

    def _ticket_pages(self, db: Database) -> TicketPagesServices:
        """Tickets and transcripts in the dashboard, worked through the same lifecycle."""
        assert self._lifecycle is not None
        directory = HikariDirectory(self.discord.bot)
        return TicketPagesServices(
            desk=TicketDesk(SqliteTicketList(db), self._lifecycle, directory),
            directory=directory,
            panels=SqlitePanelStore(db),
        )

    async def _start_http(self, services: ApiServices) -> None:
        http = self.config.http
        app = create_app(self.health, services)
        assert self.db is not None
        install_dashboard(app, self._dashboard(self.db, services))
        install_ticket_pages(app, self._ticket_pages(self.db))
        assert self._panels is not None
        install_panel_pages(
            app,
            PanelPagesServices(
                panels=self._panels,
                files=PanelFiles(SqlitePanelStore(self.db), self.discord.port, self.clock),
                directory=HikariDirectory(self.discord.bot),
            ),
        )
        install_stats_page(
            app,
            StatsPagesServices(
                stats=StaffStats(SqliteStats(self.db)),
                directory=HikariDirectory(self.discord.bot),
                panels=SqlitePanelStore(self.db),
                clock=self.clock,
            ),
        )
        self._runner = web.AppRunner(
            app,
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
        self.ready = False
        if self._runner is not None:
            await self._runner.cleanup()  # stop accepting, let requests in flight finish
            self._runner = None
        if self.tickets is not None:
            await self.tickets.drain()  # opens from buttons, log posts
        if self.requests is not None:
            await self.requests.drain()  # the API's request log, for the dashboard
        await self.discord.close()
        if self.db is not None:
            await self.db.close()
            self.db = None
