"""`make bench`: latency, REST cost and throughput of `POST /api/v1/tickets`, with a bare baseline.

Not a test (pytest does not collect it): run `python -m tests.benchmark [--json PATH]`.

What it runs, all on loopback: the Discord emulator seeded with a few hundred members (its
checks of requests and answers against Discord's spec off: the bot is measured; the checks are
measured apart), the real `Rimpllee` connected to it (an injected clock, so the ticket limits
only trigger when wanted), a second aiohttp app built by the real `create_app` whose auth-failure
limiter never throttles (for the plain 401 path), and a bare aiohttp app with one handler
answering a tiny JSON 401.

1. Latency: sequential successful opens on the report button, one member each, the clock moved
   61 s before each so neither the server rate limit nor the user cooldown applies. Ticket
   channels are deleted through the emulator between opens (outside the timed region), which
   publishes CHANNEL_DELETE as Discord does; the bot closes those tickets and its cache counts
   the category as Discord has it, so the 50-channels-per-category cap never applies. Timed: the
   HTTP request and its body, nothing else.
2. REST calls per ticket: emulator requests from the first open on, divided by the opens.
3. Throughput: one load generator (N concurrent aiohttp workers over keep-alive connections) in a
   child process, so its CPU is not charged to the server's event loop, drives each target in turn
   for a fixed time after a warm-up; several interleaved rounds, medians reported. The server
   process's CPU time per request (all its threads: event loop and SQLite) is reported next to
   req/s, because it does not depend on whether the client or the server was the bottleneck.
4. The dashboard's Integrations page with 10k requests logged through the API's request log
   (it keeps the last 200 per server, so the page shows 200): an admin logged in through the
   emulated Discord OAuth2 fetches it sequentially over keep-alive; p50/p99 next to `/healthz`
   on the same app, middlewares and connection (the baseline), measured in the same run.
5. Peak RSS of the server process and of the load generator.

Then open latency on SQLite and on PostgreSQL in the same run (`tests/bench_engines.py`), and
the scale sections of `tests/bench_scale.py`: opens and refusals with 1k, 100k and 1M tickets
on record, the bot's memory with 1,000 servers of 200 members (its member index against
hikari's member cache), and the same process with hikari's default cache settings against the
bot's; then what an open pays to learn how full its server is (`tests/bench_placement.py`)
against the cache scan it replaced (`--sections` picks).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import cProfile
import io
import json
import logging
import math
import os
import pstats
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import hikari
from aiohttp import web

from bot.api.app import answers, create_app
from bot.api.repeats import KeptRefusals
from bot.api.tickets import ApiServices
from bot.app import Rimpllee
from bot.core.admin import ApiKeys
from bot.core.integrations import ApiRequestLog
from bot.core.limits import FailureLimiter
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.ratelimit import Limits
from bot.sandbox.runner import (
    DEMO_API_KEY,
    DEMO_PANEL_ID,
    REPORT_BUTTON_ID,
    SandboxWorld,
    sandbox_config,
    seed,
    seed_database,
)
from bot.store.admin import SqliteKeyStore
from bot.store.web import SqliteApiRequestStore
from bot.web.app import dashboard_pages
from tests import bench_scale
from tests.benchmark_transcripts import render_transcripts, transcript_bench
from tests.conftest import FakeClock
from tests.dashboard_client import Browserless

ROOT = Path(__file__).resolve().parents[1]
TICKETS_PATH = "/api/v1/tickets"
BAD_KEY = "rmp_" + "x" * 43  # well-formed, unknown
STEP_S = 61.0  # past the 60 s server window and the 20 s user cooldown
WARMUP_OPENS = 10
AIM_RATIO = 0.5
# Reference rows, not paths of the bot: what is left of a 429 without our code (see floor_app).
FLOOR = "floor: aiohttp"
FLOOR_OURS = "floor: + middlewares"
# The 429 path with nothing kept in memory: what a refusal costs the first time it is worked out
# (or in a flood of refusals that are all different). Shown, not judged: the aim is the paths
# as the bot answers them.
AFRESH = "429, nothing kept"
AIM_REST_PER_TICKET = 2.0


class BenchmarkError(Exception):
    """The run did not measure what it meant to (an unexpected status, a loop error, ...)."""


# -- the load generator (child process) ---------------------------------------------------------


@dataclass(frozen=True)
class Job:
    url: str
    headers: dict[str, str]
    body: str
    duration_s: float
    warmup: int
    concurrency: int


@dataclass(frozen=True)
class DriveResult:
    elapsed_s: float  # of the timed requests only
    count: int  # timed requests answered
    statuses: dict[str, int]  # of the timed requests only
    sample_body: str  # the last response body


class Driver:
    """Child side of one job: N workers over one session; the warm-up and the timed burst."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self._data = job.body.encode()
        self._session: aiohttp.ClientSession | None = None
        self._sample = b""

    async def _worker(
        self, count: int | None, deadline: float, statuses: collections.Counter[int]
    ) -> None:
        assert self._session is not None
        job, sent = self.job, 0
        while (count is None or sent < count) and time.perf_counter() < deadline:
            async with self._session.post(job.url, data=self._data, headers=job.headers) as resp:
                self._sample = await resp.read()
                statuses[resp.status] += 1
            sent += 1

    async def burst(
        self, total: int | None = None, duration: float = math.inf
    ) -> collections.Counter[int]:
        """`total` requests, or as many as fit in `duration` seconds, over N workers."""
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self.job.concurrency)
            self._session = aiohttp.ClientSession(connector=connector)
        statuses: collections.Counter[int] = collections.Counter()
        deadline = time.perf_counter() + duration
        n = self.job.concurrency
        async with asyncio.TaskGroup() as group:
            for i in range(n):
                share = None if total is None else total // n + (i < total % n)
                group.create_task(self._worker(share, deadline, statuses))
        return statuses

    async def timed(self) -> DriveResult:
        started = time.perf_counter()
        statuses = await self.burst(duration=self.job.duration_s)
        elapsed = time.perf_counter() - started
        return DriveResult(
            elapsed_s=elapsed,
            count=sum(statuses.values()),
            statuses={str(code): n for code, n in sorted(statuses.items())},
            sample_body=self._sample.decode(errors="replace")[:300],
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def drive_from_stdin() -> None:
    """Child side: per job, a job line in, the warm-up, "warm" out, "go" in, the timed burst, the
    result out; so the parent measures its own CPU around the timed requests only."""
    print(json.dumps({"ready": True}), flush=True)
    with asyncio.Runner() as runner:
        for line in sys.stdin:
            driver = Driver(Job(**json.loads(line)))
            try:
                runner.run(driver.burst(driver.job.warmup))
                print(json.dumps({"warm": True}), flush=True)
                sys.stdin.readline()
                result = runner.run(driver.timed())
            finally:
                runner.run(driver.close())
            print(json.dumps(asdict(result)), flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_rss_kib": peak}), flush=True)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class LoadRun:
    requests: int
    requests_per_s: float
    server_cpu_us_per_request: float
    server_cpu_utilisation: float  # CPU seconds / wall seconds of the timed burst; 1.0 = a core
    statuses: dict[str, int]
    sample_body: str


class LoadGenerator:
    """Parent side of the child process; measures this process's CPU around each job."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self.peak_rss_kib = 0

    @classmethod
    async def spawn(cls) -> LoadGenerator:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.benchmark",
            "--drive",
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        generator = cls(process)
        await generator._receive()  # started and imported: its start-up is not measured
        return generator

    async def _send(self, message: dict[str, Any]) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(message).encode() + b"\n")
        await self._process.stdin.drain()

    async def _receive(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = await self._process.stdout.readline()
        if not line:
            raise BenchmarkError("the load generator exited early (see its stderr above)")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def run(self, job: Job) -> LoadRun:
        await self._send(asdict(job))
        await self._receive()  # warmed up
        cpu, wall = _cpu_seconds(), time.perf_counter()
        await self._send({"go": True})
        result = DriveResult(**await self._receive())
        cpu, wall = _cpu_seconds() - cpu, time.perf_counter() - wall
        return LoadRun(
            requests=result.count,
            requests_per_s=result.count / result.elapsed_s,
            server_cpu_us_per_request=cpu / result.count * 1e6,
            server_cpu_utilisation=cpu / wall,
            statuses=result.statuses,
            sample_body=result.sample_body,
        )

    async def close(self) -> None:
        process = self._process
        if process.returncode is None and process.stdin is not None:
            process.stdin.close()
            assert process.stdout is not None
            for line in (await process.stdout.read()).splitlines():
                self.peak_rss_kib = int(json.loads(line).get("peak_rss_kib", 0))
        if await process.wait() != 0:
            raise BenchmarkError(f"the load generator exited with {process.returncode}")


# -- the servers ----------------------------------------------------------------------------------


@contextlib.contextmanager
def nothing_kept(refusals: KeptRefusals | None, afresh: bool) -> Iterator[None]:
    """While `afresh`, the bot keeps no refused answer in memory (`bot.core.refusals`)."""
    if refusals is None or not afresh:
        yield
        return
    kept, refusals.max_entries = refusals.max_entries, 0
    refusals.forget()
    try:
        yield
    finally:
        refusals.max_entries = kept


async def _bare_handler(request: web.Request) -> web.Response:
    return web.json_response(
        {"ok": False, "error": {"code": "invalid_api_key", "message": "bare"}}, status=401
    )


@contextlib.asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """`app` on a free loopback port; yields its base URL."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def bare_app() -> web.Application:
    app = web.Application()
    app.router.add_post(TICKETS_PATH, _bare_handler)
    return app


# What a 429 rate_limited answer is on the wire, prebuilt: the floors below send it.
_FLOOR_BODY = json.dumps(
    {
        "ok": False,
        "error": {
            "code": "rate_limited",
            "message": "this user opened a ticket moments ago; retry in 20 s",
            "scope": "user",
            "retryAfter": 20,
        },
    }
)
_FLOOR_HEADERS = {
    "Retry-After": "20",
    "RateLimit-Policy": '"server";q=30;w=60, "user";q=1;w=20',
    "RateLimit": '"server";r=29;t=58, "user";r=0;t=20',
}


async def _floor_handler(request: web.Request) -> web.Response:
    """Reads and parses the body as the API does, then answers a prebuilt 429: what aiohttp
    itself costs for this exchange, with none of our code."""
    json.loads(await request.read())
    return web.Response(
        text=_FLOOR_BODY, status=429, content_type="application/json", headers=_FLOOR_HEADERS
    )


def floor_app(ours: bool) -> web.Application:
    """The floor handler alone, or behind the bot's own middlewares (request IDs and the Server
    header, JSON errors, the dashboard's pass-through) in the bot's order."""
    app = web.Application(middlewares=[answers, dashboard_pages] if ours else [])
    app.router.add_post(TICKETS_PATH, _floor_handler)
    return app


def lenient_app(bot: Rimpllee, clock: FakeClock) -> web.Application:
    """The real API app and services, except an auth-failure limiter that never throttles."""
    assert bot.tickets is not None
    assert bot.db is not None
    services = ApiServices(
        tickets=bot.tickets,
        # The bot's own key store: answers from memory until the database changes.
        keys=ApiKeys(SqliteKeyStore(bot.db, bot.db.change_watch()), clock),
        auth_failures=FailureLimiter(10**9, 60.0, clock),
        ready=lambda: True,
    )
    return create_app(bot.health, services)


class LoopErrors:
    """Unhandled loop exceptions and hikari ExceptionEvents; a clean run has none."""

    def __init__(self) -> None:
        self.items: list[object] = []

    def handler(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        self.items.append(context)

    async def on_exception(self, event: hikari.ExceptionEvent[Any]) -> None:
        self.items.append(event.exception)


async def wait_until_cached(bot: Rimpllee, world: SandboxWorld) -> None:
    async with asyncio.timeout(10):
        while not bot.discord.members.is_known(world.guild.id):
            await asyncio.sleep(0.01)


# -- the measurements -----------------------------------------------------------------------------


@dataclass
class Settings:
    opens: int
    members: int
    duration_s: float
    warmup: int
    concurrency: int
    rounds: int
    profile: bool
    transcript_messages: int = 10_000
    logged: int = 10_000
    page_loads: int = 300
    processes: int = 3  # server processes the throughput rounds run in (see `other_processes`)
    throughput_only: bool = False  # one of those other processes: the throughput section alone


@dataclass
class Report:
    settings: dict[str, Any]
    latency_ms: dict[str, float] = field(default_factory=dict)
    rest_calls: dict[str, Any] = field(default_factory=dict)
    throughput: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The throughput table of each server process, this one first (see `other_processes`).
    throughput_processes: list[dict[str, dict[str, Any]]] = field(default_factory=list)
    peak_rss_mib: dict[str, float] = field(default_factory=dict)
    dashboard_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    profile_429: str = ""
    transcripts: dict[str, Any] = field(default_factory=dict)
    emulator: dict[str, float] = field(default_factory=dict)


def open_body(user_id: int) -> bytes:
    body = {"userId": str(user_id), "panelId": DEMO_PANEL_ID, "buttonId": REPORT_BUTTON_ID}
    return json.dumps(body).encode()


def auth_headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


class Bench:
    def __init__(
        self,
        settings: Settings,
        emu: DiscordEmulator,
        world: SandboxWorld,
        bot: Rimpllee,
        clock: FakeClock,
        session: aiohttp.ClientSession,
    ) -> None:
        self.settings = settings
        self.emu = emu
        self.world = world
        self.bot = bot
        self.clock = clock
        self.session = session
        self._fresh_members = iter(world.members[:-1])  # the last member is blacklisted
        self.opened = 0

    async def clear_category(self) -> None:
        """Delete the ticket channels through the emulator (CHANNEL_DELETE reaches the bot)."""
        await bench_scale.delete_ticket_channels(self.emu, self.world, self.bot)

    def next_member(self) -> int:
        member = next(self._fresh_members, None)
        if member is None:
            raise BenchmarkError("out of fresh members: raise --members")
        return member.id

    async def open_one(self) -> tuple[float, int]:
        """One successful open for a fresh member; returns (seconds, member id)."""
        await self.clear_category()
        self.clock.advance(STEP_S)
        user_id = self.next_member()
        body, headers = open_body(user_id), auth_headers(DEMO_API_KEY)
        url = self.bot.http_url + TICKETS_PATH
        started = time.perf_counter()
        async with self.session.post(url, data=body, headers=headers) as response:
            payload = await response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise BenchmarkError(f"open for {user_id}: {response.status} {payload.decode()}")
        self.opened += 1
        await asyncio.sleep(0.002)  # let the gateway events of this open settle before the next
        return elapsed, user_id

    async def latency(self, report: Report) -> None:
        first_request = len(self.emu.requests)
        for _ in range(WARMUP_OPENS):
            await self.open_one()
        samples = [(await self.open_one())[0] * 1000 for _ in range(self.settings.opens)]
        await self.clear_category()
        made = self.emu.requests[first_request:]
        routes = collections.Counter(f"{r.method} {r.route}" for r in made)
        failed = [r for r in made if r.status >= 400]
        if failed:
            raise BenchmarkError(f"the bot's Discord calls failed: {failed[:3]}")
        cuts = statistics.quantiles(samples, n=100, method="inclusive")
        report.latency_ms = {
            "p50": statistics.median(samples),
            "p99": cuts[98],
            "mean": statistics.fmean(samples),
            "min": min(samples),
            "max": max(samples),
            "samples": len(samples),
        }
        report.rest_calls = {
            "tickets": self.opened,
            "requests": len(made),
            "per_ticket": len(made) / self.opened,
            "by_route": dict(routes),
        }

    async def dashboard(self, report: Report) -> None:
        """The Integrations page with `logged` requests recorded, against /healthz."""
        assert self.bot.db is not None
        log = ApiRequestLog(SqliteApiRequestStore(self.bot.db), self.clock)
        guild = self.world.guild.id
        for i in range(self.settings.logged):
            status, code = (200, None) if i % 3 else (429, "rate_limited")
            log.record(guild, status, code, str(self.world.members[i % 50].id), "pnl_demo")
            if i % 100 == 99:
                await log.flush()  # batches of 100, as under a steady load
        person = Browserless(self.bot, self.emu)
        try:
            await person.login(self.world.admin.id)
            page = f"/servers/{guild}/integrations"
            for path in (page, "/healthz"):
                for _ in range(20):  # warm-up
                    await person.get(path)
            timed: dict[str, list[float]] = {page: [], "/healthz": []}
            for _ in range(self.settings.page_loads):
                for path, samples in timed.items():  # interleaved: the same conditions
                    started = time.perf_counter()
                    answer = await person.get(path)
                    samples.append((time.perf_counter() - started) * 1000)
                    if answer.status != 200:
                        raise BenchmarkError(f"GET {path} answered {answer.status}")
            rows = (await person.get(page)).text.count("<tr class=")
            if rows != 200:
                raise BenchmarkError(f"the page showed {rows} requests, not the 200 kept")
        finally:
            await person.close()
        for name, samples in (("integrations", timed[page]), ("healthz", timed["/healthz"])):
            cuts = statistics.quantiles(samples, n=100, method="inclusive")
            report.dashboard_ms[name] = {
                "p50": statistics.median(samples),
                "p99": cuts[98],
                "samples": len(samples),
            }

    async def throughput(
        self,
        report: Report,
        load: LoadGenerator,
        bare_url: str,
        lenient_url: str,
        floor_urls: tuple[str, str],
    ) -> None:
        s = self.settings
        bad = json.dumps({"userId": "1", "panelId": DEMO_PANEL_ID, "buttonId": REPORT_BUTTON_ID})
        no_panel = json.dumps({"userId": "1", "panelId": "pnl_gone", "buttonId": REPORT_BUTTON_ID})

        def job(base: str, key: str, body: str) -> Job:
            return Job(
                url=base + TICKETS_PATH,
                headers=auth_headers(key),
                body=body,
                duration_s=s.duration_s,
                warmup=s.warmup,
                concurrency=s.concurrency,
            )

        expected = {
            "bare": (401, "invalid_api_key"),
            "401": (401, "invalid_api_key"),
            "429 rate_limited": (429, "rate_limited"),
            "429 auth throttled": (429, "too_many_auth_failures"),
            "404 panel_not_found": (404, "panel_not_found"),
            AFRESH: (429, "rate_limited"),
            FLOOR: (429, "rate_limited"),
            FLOOR_OURS: (429, "rate_limited"),
        }
        runs: dict[str, list[LoadRun]] = {name: [] for name in expected}
        for _ in range(s.rounds):
            # Clears the auth-failure window of the real limiter, then a fresh member opens one
            # ticket (not timed) so the same member's next request hits the 20 s cooldown.
            _, cooling = await self.open_one()
            jobs = {
                "bare": job(bare_url, BAD_KEY, bad),
                "401": job(lenient_url, BAD_KEY, bad),
                "429 rate_limited": job(
                    self.bot.http_url, DEMO_API_KEY, open_body(cooling).decode()
                ),
                "429 auth throttled": job(self.bot.http_url, BAD_KEY, bad),
                "404 panel_not_found": job(self.bot.http_url, DEMO_API_KEY, no_panel),
                AFRESH: job(self.bot.http_url, DEMO_API_KEY, open_body(cooling).decode()),
                FLOOR: job(floor_urls[0], DEMO_API_KEY, open_body(cooling).decode()),
                FLOOR_OURS: job(floor_urls[1], DEMO_API_KEY, open_body(cooling).decode()),
            }
            for name, spec in jobs.items():
                with nothing_kept(self.bot.refusals, name == AFRESH):
                    run = await load.run(spec)
                status, code = expected[name]
                if run.statuses != {str(status): run.requests} or code not in run.sample_body:
                    raise BenchmarkError(
                        f"{name}: expected only {status} {code}, "
                        f"got {run.statuses}: {run.sample_body}"
                    )
                runs[name].append(run)
        await self.clear_category()

        bare_rps = statistics.median(r.requests_per_s for r in runs["bare"])
        bare_cpu = statistics.median(r.server_cpu_us_per_request for r in runs["bare"])
        for name, measured in runs.items():
            rps = statistics.median(r.requests_per_s for r in measured)
            cpu = statistics.median(r.server_cpu_us_per_request for r in measured)
            report.throughput[name] = {
                "status": expected[name][0],
                "code": expected[name][1],
                "req_per_s": rps,
                "req_per_s_rounds": [r.requests_per_s for r in measured],
                "requests": sum(r.requests for r in measured),
                "ratio_vs_bare": rps / bare_rps,
                "server_cpu_us_per_req": cpu,
                "cpu_ratio_bare_over_this": bare_cpu / cpu,
                "server_cpu_utilisation": statistics.median(
                    r.server_cpu_utilisation for r in measured
                ),
            }

        if s.profile:
            report.profile_429 = await self.profile_rate_limited(load, job)

    async def profile_rate_limited(self, load: LoadGenerator, job: Callable[..., Job]) -> str:
        """CPU per request by server thread, and cProfile (CPU time) of the event loop thread."""
        _, cooling = await self.open_one()
        spec = job(self.bot.http_url, DEMO_API_KEY, open_body(cooling).decode())
        before = thread_cpu_seconds()
        profiler = cProfile.Profile(time.thread_time)
        profiler.enable()
        run = await load.run(spec)
        profiler.disable()
        after = thread_cpu_seconds()
        await self.clear_category()
        total = run.requests + spec.warmup
        out = io.StringIO()
        print(f"{total} requests (warm-up included), CPU us per request by thread:", file=out)
        for name, seconds in after.items():
            used = seconds - before.get(name, 0.0)
            if used * 1e6 / total >= 1:
                print(f"  {used * 1e6 / total:7.0f}  {name}", file=out)
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(20)
        return out.getvalue()


def thread_cpu_seconds() -> dict[str, float]:
    """CPU seconds of each live thread of this process (Linux /proc; empty elsewhere)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    ticks = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = {}
    tasks = Path("/proc/self/task")
    if not tasks.is_dir():
        return used
    for task in tasks.iterdir():
        with contextlib.suppress(OSError):
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            name = f"{names.get(int(task.name), 'thread')} [{task.name}]"
            used[name] = (int(fields[11]) + int(fields[12])) / ticks
    return used


async def run(settings: Settings) -> Report:
    report = Report(settings=asdict(settings))
    errors = LoopErrors()
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(errors.handler)
    # The bot is measured here, not the emulator: no request or answer checks against Discord's
    # spec (`emulator_checks` measures those apart), and rate limits roomy enough that hikari
    # never waits on them (its rate limiter still runs on the headers).
    emu = DiscordEmulator(check_responses=False)
    emu.checks.enabled = False
    emu.rate_limiter.limits = Limits(per_route=1_000_000)
    world = seed(emu.state, member_count=settings.members)
    emu.owner_id = world.owner.id
    clock = FakeClock()
    with tempfile.TemporaryDirectory(prefix="rimpllee-bench-") as tmp:
        database = Path(tmp) / "bench.db"
        await seed_database(database, world)
        async with contextlib.AsyncExitStack() as stack:
            await emu.start()
            stack.push_async_callback(emu.stop)
            bot = Rimpllee(
                sandbox_config(emu, http_port=0, database=database), max_retries=0, clock=clock
            )
            bot.discord.bot.subscribe(hikari.ExceptionEvent, errors.on_exception)
            await bot.start()
            stack.push_async_callback(bot.stop)
            await wait_until_cached(bot, world)
            bare_url = await stack.enter_async_context(serving(bare_app()))
            lenient_url = await stack.enter_async_context(serving(lenient_app(bot, clock)))
            floor_urls = (
                await stack.enter_async_context(serving(floor_app(ours=False))),
                await stack.enter_async_context(serving(floor_app(ours=True))),
            )
            load = await LoadGenerator.spawn()
            stack.push_async_callback(load.close)
            session = await stack.enter_async_context(aiohttp.ClientSession())
            bench = Bench(settings, emu, world, bot, clock, session)
            if settings.throughput_only:  # warmed up as the first process is, by opens
                for _ in range(WARMUP_OPENS):
                    await bench.open_one()
            else:
                await bench.latency(report)
                await bench.dashboard(report)
            await bench.throughput(report, load, bare_url, lenient_url, floor_urls)
            if not settings.throughput_only:
                if settings.transcript_messages:
                    report.transcripts = await transcript_bench(
                        emu, world, bot, clock, settings.transcript_messages
                    )
                await emulator_checks(report, emu, world, session)
        report.peak_rss_mib["load generator"] = load.peak_rss_kib / 1024
    pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    if pending:
        errors.items.append(f"{len(pending)} task(s) still pending: {pending[:3]}")
    if emu.internal_errors:
        errors.items.append(f"the emulator failed: {emu.internal_errors[:3]}")
    if errors.items:
        raise BenchmarkError(f"errors during the run: {errors.items[:5]}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report.peak_rss_mib = {"server process": peak / 1024, **report.peak_rss_mib}
    return report


EMULATOR_SAMPLES = 300
SPEC_LOAD_TIMER = """
import time
import bot.sandbox.spec as spec
started = time.perf_counter()
spec.DiscordSpec.load().operation("POST", "/channels/1/messages")
print((time.perf_counter() - started) * 1000)
"""


async def emulator_checks(
    report: Report, emu: DiscordEmulator, world: SandboxWorld, session: aiohttp.ClientSession
) -> None:
    """What checking requests against Discord's spec costs the emulator: the spec's load (once
    per process) and a message post with the checks against the same post without them."""
    # Loaded in a child process, so this process's peak RSS stays the bot's and one emulator's.
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SPEC_LOAD_TIMER, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await child.communicate()
    load_ms = float(out)
    url = f"{emu.rest_url}/channels/{world.panel_channel_id}/messages"
    headers = {"Authorization": f"Bot {emu.token}"}
    body = {
        "content": "hello",
        "embeds": [
            {"title": "Ticket", "description": "d", "fields": [{"name": "a", "value": "b"}]}
        ],
        "components": [
            {"type": 1, "components": [{"type": 2, "style": 4, "label": "Close", "custom_id": "c"}]}
        ],
        "allowed_mentions": {"parse": []},
    }

    async def post_all() -> float:
        begun = time.perf_counter()
        for _ in range(EMULATOR_SAMPLES):
            async with session.post(url, json=body, headers=headers) as answer:
                assert answer.status == 200
        return (time.perf_counter() - begun) / EMULATOR_SAMPLES * 1e6

    emu.checks.enabled = True
    await post_all()  # warm-up: validators built on first use
    emu.checks.enabled = False
    unchecked = await post_all()
    emu.checks.enabled = True
    checked = await post_all()
    emu.checks.enabled = False
    report.emulator = {
        "spec_load_ms": load_ms,
        "post_checked_us": checked,
        "post_unchecked_us": unchecked,
        "checked_over_unchecked": checked / unchecked,
    }


async def other_processes(settings: Settings) -> list[dict[str, dict[str, Any]]]:
    """The throughput section again in `processes - 1` fresh server processes, one at a time.

    A process's numbers hold steady from round to round but move between processes (where the
    interpreter, the heap and the bot's objects landed in memory: the same code measured 0.39 to
    0.54 of bare on the 429 path in four processes of the same commit), so one process is one
    sample; the verdict takes the median over processes, as pyperf runs its worker processes.
    """
    tables: list[dict[str, dict[str, Any]]] = []
    for _ in range(settings.processes - 1):
        with tempfile.TemporaryDirectory(prefix="rimpllee-bench-") as tmp:
            out = Path(tmp) / "throughput.json"
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.benchmark",
                "--throughput-only",
                "--json",
                str(out),
                "--members",
                str(settings.members),
                "--duration",
                str(settings.duration_s),
                "--warmup",
                str(settings.warmup),
                "--concurrency",
                str(settings.concurrency),
                "--rounds",
                str(settings.rounds),
                cwd=ROOT,
            )
            if await process.wait() != 0:
                raise BenchmarkError(f"a throughput process exited with {process.returncode}")
            tables.append(json.loads(out.read_text())["throughput"])
    return tables


def across_processes(report: Report) -> dict[str, dict[str, float]]:
    """Per path: the median, lowest and highest of each process's ratios to its own bare."""
    tables = report.throughput_processes or [report.throughput]
    summary: dict[str, dict[str, float]] = {}
    for name in report.throughput:
        for measure in ("ratio_vs_bare", "cpu_ratio_bare_over_this"):
            values = [table[name][measure] for table in tables]
            summary.setdefault(name, {}).update(
                {
                    measure: statistics.median(values),
                    f"{measure}_min": min(values),
                    f"{measure}_max": max(values),
                }
            )
    return summary


# -- output ---------------------------------------------------------------------------------------


def render(report: Report, wall_s: float) -> str:
    s = report.settings
    lat, rest = report.latency_ms, report.rest_calls
    lines = [
        "Rimpllee benchmark (loopback; bot, emulator and API in one process, "
        "load generator in a child process;",
        "the emulator's checks against Discord's spec off, except where their cost is measured)",
        "",
        f"POST {TICKETS_PATH} 200 (opened)     {lat['samples']:.0f} sequential opens",
        f"  p50 {lat['p50']:7.2f} ms   p99 {lat['p99']:7.2f} ms   mean {lat['mean']:7.2f} ms"
        f"   (min {lat['min']:.2f}, max {lat['max']:.2f})",
        "",
        f"Discord REST calls per ticket  {rest['per_ticket']:.2f}"
        f"   ({rest['requests']} calls / {rest['tickets']} tickets, aim {AIM_REST_PER_TICKET:.1f}:"
        f" {'met' if rest['per_ticket'] <= AIM_REST_PER_TICKET else 'NOT met'})",
    ]
    lines += [f"  {n:5d}  {route}" for route, n in rest["by_route"].items()]
    lines += [
        "",
        f"Throughput: {s['concurrency']} concurrent keep-alive workers, {s['duration_s']:g} s "
        f"(after {s['warmup']} warm-up requests) per run, median of {s['rounds']} rounds",
        f"  {'path':<20} {'status':<28} {'req/s':>8} {'vs bare':>8} "
        f"{'CPU us/req':>11} {'CPU ratio':>10} {'CPU use':>8}",
    ]
    for name, row in report.throughput.items():
        status = f"{row['status']} {row['code']}"
        lines.append(
            f"  {name:<20} {status:<28} {row['req_per_s']:8.0f} {row['ratio_vs_bare']:8.2f} "
            f"{row['server_cpu_us_per_req']:11.0f} {row['cpu_ratio_bare_over_this']:10.2f} "
            f"{row['server_cpu_utilisation']:7.0%}"
        )
    summary = across_processes(report)
    shown = ("bare", AFRESH, FLOOR, FLOOR_OURS)
    paths = {name: row for name, row in summary.items() if name not in shown}
    worst = min(paths, key=lambda name: paths[name]["ratio_vs_bare"])
    worst_cpu = min(paths, key=lambda name: paths[name]["cpu_ratio_bare_over_this"])
    ratio, cpu_ratio = paths[worst]["ratio_vs_bare"], paths[worst_cpu]["cpu_ratio_bare_over_this"]
    lines += [
        "  vs bare: req/s / bare's req/s.  CPU us/req: CPU of the server process (all threads)",
        "  per answered request.  CPU ratio: bare's CPU us/req / this path's.  CPU use: server",
        "  CPU / wall time (100% = one core busy).",
        f"  {FLOOR!r}: a handler that reads and parses the body and answers a prebuilt 429",
        f"  with the same fields; {FLOOR_OURS!r}: the same behind the bot's middlewares. What",
        "  a path costs above the second floor is the bot's own code for that request.",
        f"  {AFRESH!r}: the 429 path with no refusal kept in memory, as the first time or in a",
        "  flood of refusals that all differ (shown, not judged).",
    ]
    bare_use = report.throughput["bare"]["server_cpu_utilisation"]
    if bare_use < 0.9:
        lines += [
            f"  note: the bare server was {bare_use:.0%} busy: its req/s is bound by the client,",
            "  so req/s ratios understate the server-side gap; the CPU ratio shows it.",
        ]
    processes = len(report.throughput_processes) or 1
    lines += [
        f"  Across {processes} server process(es), each with its own bare runs (the table above is"
        " the first):",
        "  a process's numbers move more between processes than between its rounds, so the aim",
        "  is judged on the median over processes.",
        f"  {'path':<20} {'req/s vs bare: median (range)':>32} {'CPU ratio: median (range)':>30}",
    ]
    for name, row in summary.items():
        if name == "bare":
            continue
        lines.append(
            f"  {name:<20} {row['ratio_vs_bare']:>15.2f} ({row['ratio_vs_bare_min']:.2f}-"
            f"{row['ratio_vs_bare_max']:.2f}) {row['cpu_ratio_bare_over_this']:>16.2f} "
            f"({row['cpu_ratio_bare_over_this_min']:.2f}-"
            f"{row['cpu_ratio_bare_over_this_max']:.2f})"
        )
    lines += [
        f"  aim >= {AIM_RATIO} of bare (req/s) for the 401, 429 and 404 paths: "
        f"{'met' if ratio >= AIM_RATIO else 'NOT met'} (lowest {ratio:.2f}, {worst})",
        f"  the same by CPU ratio: {'met' if cpu_ratio >= AIM_RATIO else 'NOT met'} "
        f"(lowest {cpu_ratio:.2f}, {worst_cpu})",
    ]
    page, base = report.dashboard_ms["integrations"], report.dashboard_ms["healthz"]
    lines += [
        "",
        f"Dashboard: GET Integrations, {s['logged']} requests logged (200 kept and shown), "
        f"{page['samples']:.0f} sequential loads",
        f"  page     p50 {page['p50']:7.2f} ms   p99 {page['p99']:7.2f} ms",
        f"  healthz  p50 {base['p50']:7.2f} ms   p99 {base['p99']:7.2f} ms   (baseline, same run)",
        f"  ratio page/healthz: p50 {page['p50'] / base['p50']:.1f}x, "
        f"p99 {page['p99'] / base['p99']:.1f}x",
        "",
        "Peak RSS  "
        + "   ".join(f"{name} {mib:.1f} MiB" for name, mib in report.peak_rss_mib.items()),
        f"Wall time {wall_s:.1f} s",
        "",
        f"Emulator: Discord's spec loaded and prepared in {report.emulator['spec_load_ms']:.0f} ms"
        " (once per process)",
        f"  POST a message (embed + button), sequential: {report.emulator['post_checked_us']:.0f}"
        f" us checked vs {report.emulator['post_unchecked_us']:.0f} us unchecked"
        f" (ratio {report.emulator['checked_over_unchecked']:.2f})",
    ]
    if report.transcripts:
        lines += ["", *render_transcripts(report.transcripts)]
    if report.profile_429:
        lines += ["", "Profile of the server during one 429 rate_limited run", report.profile_429]
    return "\n".join(lines)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmark", description=__doc__)
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the numbers here")
    parser.add_argument("--opens", type=int, default=300, help="timed successful opens")
    parser.add_argument("--members", type=int, default=400, help="seeded members")
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per throughput run")
    parser.add_argument("--warmup", type=int, default=300, help="untimed requests before each run")
    parser.add_argument("--concurrency", type=int, default=8, help="load generator workers")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds (median)")
    parser.add_argument("--profile", action="store_true", help="cProfile one 429 run")
    parser.add_argument(
        "--transcript-messages",
        type=int,
        default=10_000,
        help="messages of the long ticket (0: skip)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=3,
        help="server processes the throughput section runs in (median over them)",
    )
    parser.add_argument("--drive", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--throughput-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--sections",
        default="api,engines,history,members,cache,placement",
        help="api, engines (open latency on SQLite and PostgreSQL), history, members, cache "
        "and/or placement (the channel counts each open reads)",
    )
    parser.add_argument(
        "--engine-opens", type=int, default=200, help="timed opens per engine (engines)"
    )
    bench_scale.add_arguments(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.drive:
        drive_from_stdin()
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # hikari's start-up advice to run under `python -O`: about the interpreter, not the bot.
    logging.getLogger("hikari.ux").setLevel(logging.ERROR)
    settings = Settings(
        opens=args.opens,
        members=args.members,
        duration_s=args.duration,
        warmup=args.warmup,
        concurrency=args.concurrency,
        rounds=args.rounds,
        profile=args.profile,
        transcript_messages=args.transcript_messages,
        processes=max(1, args.processes),
        throughput_only=args.throughput_only,
    )
    if settings.throughput_only:
        report = asyncio.run(run(settings))
        assert args.json is not None
        args.json.write_text(json.dumps({"throughput": report.throughput}))
        return 0
    needed = WARMUP_OPENS + settings.opens + settings.rounds + int(settings.profile)
    if settings.members - 1 < needed:
        print(f"benchmark: --members must be at least {needed + 1}", file=sys.stderr)
        return 2
    numbers: dict[str, Any] = {}
    if "api" in args.sections:
        started = time.perf_counter()
        try:
            report = asyncio.run(run(settings))
            others = asyncio.run(other_processes(settings))
            report.throughput_processes = [report.throughput, *others]
        except BenchmarkError as exc:
            print(f"benchmark: {exc}", file=sys.stderr)
            return 1
        wall = time.perf_counter() - started
        print(render(report, wall), flush=True)
        numbers = asdict(report) | {
            "wall_s": wall,
            "throughput_across_processes": across_processes(report),
        }
    if "engines" in args.sections:
        from tests import bench_engines

        print("\n".join(asyncio.run(bench_engines.run_section(args.engine_opens))), flush=True)
    if {"history", "members", "cache"} & set(args.sections.split(",")):
        started = time.perf_counter()
        try:
            scale, lines = asyncio.run(bench_scale.run_sections(args))
        except bench_scale.ScaleBenchError as exc:
            print(f"benchmark: {exc}", file=sys.stderr)
            return 1
        print("\n".join([*lines, f"Wall time {time.perf_counter() - started:.1f} s"]), flush=True)
        numbers["scale"] = asdict(scale)
    if "placement" in args.sections:
        from tests import bench_placement

        print("\n".join(asyncio.run(bench_placement.run_section())), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(numbers, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
