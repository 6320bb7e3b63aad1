"""The composition root: builds every part from the config and owns start and stop order.

Start: database → HTTP listener (bound before the gateway, so a taken port fails fast; it answers
503 until ready) → gateway, until every server has arrived → settle opens a crash interrupted and
delete stray channels → openers who left while offline → the scheduler (cleanups and ticket
timers) → the webhook delivery runner → what start-up built is frozen out of the garbage
collector's walks (bot.heap; thawed first thing at stop) → ready.
Stop, bounded by `http.shutdown_grace_seconds` + about 2 s (+ up to 2 s for a timer pass in
progress): stop accepting HTTP, give opens in progress (from the API and buttons) the grace to
finish and cut the rest short (the next start settles them) → requests still in flight get 1 s
→ cut short the lookups of ticket threads a server's arrival started (the next arrival redoes
them) → stop the scheduler (a pass in progress gets 2 s; a timer cut short comes back when its
lease runs out) and the webhook runner (a delivery cut short is sent again after a restart) →
close the gateway → close the database.
A failure while starting undoes what had started and surfaces as one `StartupError`.
Scaled out (`discord.shard_ids` of `discord.shard_count`), the background work is only for this
process's shards' servers (`bot.core.shards`), and the scheduler also settles opens another
process left behind once no open can still be in progress; the HTTP API serves every server.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import time

from aiohttp import web
from aiohttp.typedefs import Middleware

from bot import heap
from bot.api.app import Health, create_app
from bot.api.repeats import KeptRefusals
from bot.api.server import HardenedRunner, runner_options
from bot.api.tickets import AUTH_FAILURES_PER_MINUTE, ApiServices
from bot.api.v1 import V1Services
from bot.api.webhook_client import HttpSender
from bot.config import Config
from bot.core.admin import ApiKeys, Blacklist, Settings
from bot.core.automation import Automation
from bot.core.cleanups import CleanupRunner
from bot.core.desk import TicketDesk
from bot.core.feedback import Feedback
from bot.core.idempotency import IdempotencyKeys
from bot.core.integrations import ApiRequestLog
from bot.core.lifecycle import EventLog, LifecycleService
from bot.core.limits import Clock, FailureLimiter
from bot.core.overflow import Placement
from bot.core.panel_io import PanelFiles
from bot.core.panels import PanelService
from bot.core.quotas import Quotas
from bot.core.reads import Reads
from bot.core.refusals import Refusals
from bot.core.scheduler import Scheduler
from bot.core.sessions import Sessions
from bot.core.stats import FirstReplies, StaffStats
from bot.core.tickets import Limits, TicketService
from bot.core.transcript_assets import MB, AssetLimits
from bot.core.webhooks import DeliveryRunner, WebhookService
from bot.discord.automation_events import close_request_buttons, rating_buttons, watch_activity
from bot.discord.directory import HikariDirectory
from bot.discord.gateway import DiscordGateway
from bot.discord.oauth import HikariLogin
from bot.discord.replies import watch_replies
from bot.discord.router import InteractionRouter
from bot.errors import StartupError
from bot.store import Database
from bot.store.admin import SqliteBlacklistStore, SqliteKeyStore
from bot.store.automation import SqliteAutomationStore
from bot.store.changes import ChangeWatch
from bot.store.cleanups import SqliteCleanupStore
from bot.store.idempotency import SqliteIdempotencyStore
from bot.store.panels import SqliteButtonLabels, SqlitePanelStore
from bot.store.reads import SqliteReadStore
from bot.store.settings import SqliteSettingsStore
from bot.store.stats import ClaimRecordingLifecycleStore, SqliteStats
from bot.store.ticket_list import SqliteTicketList
from bot.store.tickets import SqliteTicketStore
from bot.store.transcripts import TranscriptFiles
from bot.store.web import SqliteApiRequestStore, SqliteSessionStore
from bot.store.webhooks import SqliteWebhookStore
from bot.web.app import DashboardServices, install_dashboard
from bot.web.panels import PanelPagesServices, install_panel_pages
from bot.web.shards import served_here
from bot.web.stats import StatsPagesServices, install_stats_page
from bot.web.tickets import TicketPagesServices, install_ticket_pages

_LOG = logging.getLogger("rimpllee")

# At stop, after the grace went to opens in progress, what requests still running get.
HTTP_FINAL_S = 1.0


class Rimpllee:
    """One running bot: database, HTTP API and Discord gateway in one event loop."""

    def __init__(self, config: Config, *, max_retries: int = 3, clock: Clock = time.time) -> None:
        self.config = config
        self.clock = clock
        # The servers this process answers for in the background (see bot.core.shards).
        self.shards = config.discord.shards
        self.discord = DiscordGateway(config.discord, max_retries=max_retries)
        self.db: Database | None = None
        self.tickets: TicketService | None = None
        self.requests: ApiRequestLog | None = None
        self.cleanups: CleanupRunner | None = None
        self.scheduler = Scheduler(clock)  # the one background runner: cleanups and timers
        self.automation: Automation | None = None
        self._events: EventLog | None = None
        self._lifecycle: LifecycleService | None = None
        self._panels: PanelService | None = None
        self.ready = False  # the API answers 503 until the gateway is up and the cache warm
        self._runner: web.AppRunner | None = None
        self.http_port = 0
        self.http_middlewares: list[Middleware] = []  # outermost; the tests record with one
        self.deliveries: DeliveryRunner | None = None
        self._watch: ChangeWatch | None = None
        self._tickets_store: SqliteTicketStore | None = None
        self._sender: HttpSender | None = None
        self.refusals: KeptRefusals | None = None  # refused opens the API answers from memory

    def health(self) -> Health:
        known, servers = self.discord.members.progress()
        return Health(
            gateway_connected=self.discord.connected,
            database_open=self.db is not None and self.db.is_open,
            servers=servers,
            servers_with_members_known=known,
            ready=self.ready,
        )

    @property
    def http_url(self) -> str:
        return f"http://{self.config.http.host}:{self.http_port}"

    async def start(self) -> None:
        try:
            self.db = await Database.open(self.config.database.target)
            services = self._services(self.db)
            lifecycle = await self._install_discord(self.db, services)
            services = dataclasses.replace(services, v1=self._v1(self.db, lifecycle))
            await self._start_http(services)
            await self.discord.start()
            await services.tickets.settle(self.discord.guild_ids())
            assert self.automation is not None
            await self.automation.check_leavers(self.discord.guild_ids())
            self.scheduler.start()
            self._start_deliveries(self.db)
        except BaseException:
            await self.stop()
            raise
        heap.freeze(self)
        self.ready = True
        _LOG.info("ready: gateway connected, HTTP API on %s", self.http_url)
        dashboard = self.config.dashboard
        if (
            dashboard.client_secret
            and not dashboard.public_url
            and self.config.http.host
            in (
                "0.0.0.0",  # noqa: S104 - comparing, not binding
                "::",
            )
        ):
            _LOG.warning(
                "dashboard.public_url is not set: Discord will send logins back to %s, which "
                "browsers can't open; set it to the address people use",
                self.public_url,
            )

    async def _install_discord(self, db: Database, services: ApiServices) -> LifecycleService:
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
            AssetLimits(
                file_max_bytes=self.config.transcripts.file_max_mb * MB,
                total_max_bytes=self.config.transcripts.total_max_mb * MB,
            ),
        )
        self.automation = Automation(
            SqliteAutomationStore(db, self.shards),
            lifecycle,
            self.discord.port,
            settings_store,
            clock,
            self.scheduler.wake,
        )
        self.scheduler.add(self.automation)
        self._panels = PanelService(panel_store, self.discord.port, clock)
        await self.discord.install_commands(
            services.keys,
            Blacklist(SqliteBlacklistStore(db), clock),
            self._panels,
            Settings(settings_store, clock),
            lifecycle,
            self.automation,
        )
        feedback = Feedback(
            SqliteAutomationStore(db),
            settings_store,
            self.discord.port,
            transcripts,
            self.events(db),
            clock,
        )
        lifecycle.after_close.append(feedback.ask)
        rate_clicks, rate_forms = rating_buttons(feedback)
        router = InteractionRouter(
            services.tickets,
            lifecycle,
            components={**close_request_buttons(self.automation), **rate_clicks},
            forms=rate_forms,
        )
        self.discord.route(router, lifecycle)
        watch_activity(self.discord.bot, self.automation)
        self.discord.watch_ticket_channels(services.tickets)
        self._lifecycle = lifecycle
        watch_replies(
            self.discord.bot,
            FirstReplies(lifecycle_store, lifecycle, clock),
            self._directory(),
            self.discord.members,
        )

        return lifecycle

    def _v1(self, db: Database, lifecycle: LifecycleService) -> V1Services:
        self.refusals = Refusals(self._ticket_store(db), self.discord.port, self.clock)
        return V1Services(
            idempotency=IdempotencyKeys(SqliteIdempotencyStore(db), self.clock),
            quotas=Quotas(self._ticket_store(db), self._limits(), self.clock),
            reads=Reads(SqliteReadStore(db)),
            lifecycle=lifecycle,
            bot_user_id=lambda: self.discord.port.bot_user_id,
            refusals=self.refusals,
        )

    def _start_deliveries(self, db: Database) -> None:
        """The webhook runner: after reconcile, so the outbox it reads is settled."""
        self._sender = HttpSender(allow_private=self.config.webhooks.allow_private_targets)
        self.deliveries = DeliveryRunner(
            SqliteWebhookStore(db, self.shards), self._sender, self.clock
        )
        self.deliveries.start()

    def _change_watch(self) -> ChangeWatch:
        """Lets keys, panels and limit facts be served from memory until anything commits."""
        if self._watch is None:
            assert self.db is not None
            self._watch = self.db.change_watch()
        return self._watch

    def _ticket_store(self, db: Database) -> SqliteTicketStore:
        if self._tickets_store is None:
            self._tickets_store = SqliteTicketStore(db, self._change_watch())
        return self._tickets_store

    def _limits(self) -> Limits:
        limits = self.config.limits
        return Limits(
            server_per_minute=limits.server_tickets_per_minute,
            user_cooldown=limits.user_cooldown_seconds,
            user_max_open=limits.user_max_open,
        )

    def _directory(self) -> HikariDirectory:
        """Servers and members as the gateway cache and the member index know them."""
        return HikariDirectory(self.discord.bot, self.discord.members)

    def events(self, db: Database) -> EventLog:
        if self._events is None:
            self._events = EventLog(SqliteSettingsStore(db), self.discord.port)
        return self._events

    def _services(self, db: Database) -> ApiServices:
        self.requests = ApiRequestLog(SqliteApiRequestStore(db), self.clock)
        self.cleanups = CleanupRunner(
            SqliteCleanupStore(db, self.shards), self.discord.port, self.clock, self.scheduler.wake
        )
        self.scheduler.add(self.cleanups)
        self.tickets = TicketService(
            self._ticket_store(db),
            self.discord.port,
            self._limits(),
            self.clock,
            self.events(db),
            self.cleanups,
            Placement(self.discord.port, SqliteAutomationStore(db), self.events(db)),
            shards=self.shards,
        )
        self.scheduler.add(self.tickets)  # opens other processes left (idle when alone)
        return ApiServices(
            tickets=self.tickets,
            keys=ApiKeys(SqliteKeyStore(db, self._change_watch()), self.clock, self.events(db)),
            auth_failures=FailureLimiter(AUTH_FAILURES_PER_MINUTE, 60.0, self.clock),
            ready=lambda: self.ready,
            trusted_proxies=frozenset(self.config.http.trusted_proxies),
            requests=self.requests,
            body_timeout=self.config.http.body_timeout_seconds,
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
            login=HikariLogin(self.config.discord.rest_url, dashboard.client_secret),
            client_id=lambda: dashboard.client_id or self.discord.port.bot_user_id,
            public_url=lambda: self.public_url,
            directory=self._directory(),
            keys=services.keys,
            blacklist=Blacklist(SqliteBlacklistStore(db), self.clock),
            settings=Settings(SqliteSettingsStore(db), self.clock),
            requests=services.requests,
            panels=SqlitePanelStore(db),
            webhooks=WebhookService(SqliteWebhookStore(db), self.clock),
            webhooks_allow_private=self.config.webhooks.allow_private_targets,
            wake_deliveries=self._wake_deliveries,
        )

    def _wake_deliveries(self) -> None:
        if self.deliveries is not None:
            self.deliveries.wake()

    def _ticket_pages(self, db: Database) -> TicketPagesServices:
        """Tickets and transcripts in the dashboard, worked through the same lifecycle."""
        assert self._lifecycle is not None
        directory = self._directory()
        return TicketPagesServices(
            desk=TicketDesk(SqliteTicketList(db), self._lifecycle, directory),
            directory=directory,
            panels=SqlitePanelStore(db),
        )

    async def _start_http(self, services: ApiServices) -> None:
        http = self.config.http
        app = create_app(self.health, services, self.http_middlewares)
        assert self.db is not None
        install_dashboard(app, self._dashboard(self.db, services))
        if not self.shards.every:
            app.middlewares.append(served_here(self.shards))  # inside the dashboard's pages
        install_ticket_pages(app, self._ticket_pages(self.db))
        assert self._panels is not None
        install_panel_pages(
            app,
            PanelPagesServices(
                panels=self._panels,
                files=PanelFiles(SqlitePanelStore(self.db), self.discord.port, self.clock),
                directory=self._directory(),
            ),
        )
        install_stats_page(
            app,
            StatsPagesServices(
                stats=StaffStats(SqliteStats(self.db)),
                directory=self._directory(),
                panels=SqlitePanelStore(self.db),
                clock=self.clock,
            ),
        )
        self._runner = HardenedRunner(
            app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=HTTP_FINAL_S,
            **runner_options(http.header_timeout_seconds),
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
        """Idempotent; safe after a partial start. Requests and opens in progress get the grace
        (`http.shutdown_grace_seconds`) in all; what is still running then is cut short, and
        an open cut short stays 'opening' for the next start to settle."""
        self.ready = False
        heap.thaw(self)  # first: whatever fails below, nothing stays frozen
        if self._runner is not None:
            for site in list(self._runner.sites):
                await site.stop()  # stop accepting
        if self.tickets is not None:
            # Opens (from the API and buttons) and log posts get the grace; the rest are cut
            # short, which also ends the requests waiting on them.
            await self.tickets.drain(self.config.http.shutdown_grace_seconds)
        if self._runner is not None:
            await self._runner.cleanup()  # requests still in flight get HTTP_FINAL_S more
            self._runner = None
        if self.requests is not None:
            await self.requests.drain()  # the API's request log, for the dashboard
        if self._lifecycle is not None:
            await self._lifecycle.stop()
        await self.scheduler.stop()
        if self.deliveries is not None:
            await self.deliveries.stop()  # a delivery cut short is sent again after a restart
            self.deliveries = None
        if self._sender is not None:
            await self._sender.close()
            self._sender = None
        await self.discord.close()
        if self._watch is not None:  # first: the database's close lets go of the `-shm` file
            self._watch.close()
            self._watch = None
        if self.db is not None:
            await self.db.close()
            self.db = None
        self._tickets_store = None
