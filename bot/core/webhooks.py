"""Outgoing webhooks: endpoints a server registers, the events it is sent, and their delivery.

An event is a row written in the same transaction as the change it reports (the store does
that, calling `ticket_event` for the payload), so a crash can lose none. One `DeliveryRunner`
sends them: at least once, signed per the Standard Webhooks spec, with exponential backoff over
hours, in order per ticket and endpoint. A slow receiver delays only its own deliveries, never a
ticket. The dashboard and the `rimpllee webhook` command both manage endpoints through
`WebhookService`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import ipaddress
import logging
import secrets
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from bot.core.errors import AdminError
from bot.core.limits import Clock
from bot.core.models import Ticket

_LOG = logging.getLogger("rimpllee.webhooks")

EVENT_TYPES = (
    "ticket.opened",
    "ticket.claimed",
    "ticket.closed",
    "ticket.reopened",
    "ticket.deleted",
)
EventType = Literal[
    "ticket.opened", "ticket.claimed", "ticket.closed", "ticket.reopened", "ticket.deleted"
]
ENDPOINTS_PER_SERVER = 10
URL_MAX = 2000
# Seconds to wait before each retry: the Standard Webhooks schedule, about 28 hours in all.
RETRY_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
SEND_TIMEOUT_S = 10.0  # a receiver that takes longer is retried later
DeliveryState = Literal["pending", "delivered", "failed"]


def iso(timestamp: float | None) -> str | None:
    """Unix seconds as ISO 8601 UTC with a Z, the way the API and the events write times."""
    if timestamp is None:
        return None
    moment = datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")
    return moment.replace("+00:00", "Z")


def _snowflake(value: int | None) -> str | None:
    return None if value is None else str(value)


def ticket_status(ticket: Ticket) -> str:
    if ticket.state != "closed":
        return ticket.state
    return "archived" if ticket.archived else "closed"


def ticket_document(ticket: Ticket) -> dict[str, Any]:
    """A ticket as the API returns it and as events carry it (IDs as strings)."""
    channel = _snowflake(ticket.channel_id)
    url = None if channel is None else f"https://discord.com/channels/{ticket.guild_id}/{channel}"
    return {
        "channelId": channel,
        "url": url,
        "number": ticket.number,
        "status": ticket_status(ticket),
        "userId": str(ticket.user_id),
        "panelId": ticket.panel_id,
        "buttonId": ticket.button_id,
        "source": ticket.source,
        "answers": [{"label": a.label, "value": a.value} for a in ticket.answers],
        "openedAt": iso(ticket.opened_at),
        "claimedAt": iso(ticket.claimed_at),
        "claimedBy": _snowflake(ticket.claimed_by),
        "closedAt": iso(ticket.closed_at),
        "closedBy": _snowflake(ticket.closed_by),
        "closeReason": ticket.close_reason,
    }


def new_event_id() -> str:
    return "evt_" + secrets.token_urlsafe(16)


def ticket_event(
    event_id: str, event_type: EventType, ticket: Ticket, now: float, by: int | None
) -> dict[str, Any]:
    """The body of one event, per the Standard Webhooks payload shape (type, timestamp, data)."""
    return {
        "id": event_id,
        "type": event_type,
        "timestamp": iso(now),
        "data": {"guildId": str(ticket.guild_id), "by": _snowflake(by), **ticket_document(ticket)},
    }


@dataclass(frozen=True, slots=True)
class Endpoint:
    endpoint_id: str
    guild_id: int
    url: str
    events: tuple[str, ...]
    secret: str
    created_at: float


@dataclass(frozen=True, slots=True)
class Delivery:
    delivery_id: int
    event_id: str
    event_type: str
    endpoint_id: str
    url: str
    secret: str
    payload: str
    state: DeliveryState
    attempts: int
    next_attempt_at: float
    last_status: int | None
    last_error: str | None
    created_at: float


class WebhookStore(Protocol):
    async def add_endpoint(self, endpoint: Endpoint, limit: int) -> bool:
        """Store it unless the server has `limit` endpoints already; True if stored."""
        ...

    async def endpoints(self, guild_id: int) -> list[Endpoint]: ...

    async def remove_endpoint(self, guild_id: int, endpoint_id: str) -> bool: ...

    async def deliveries(self, guild_id: int, limit: int) -> list[Delivery]: ...

    async def retry_now(self, guild_id: int, delivery_id: int, now: float) -> bool: ...

    async def due(self, now: float, limit: int, skip: Sequence[int]) -> list[Delivery]:
        """Pending deliveries whose time has come, only the first of each ticket and endpoint."""
        ...

    async def delivered(self, delivery_id: int, status: int, now: float) -> None: ...

    async def attempt_failed(
        self,
        delivery_id: int,
        status: int | None,
        error: str,
        next_attempt_at: float | None,
    ) -> None:
        """Count the attempt; `next_attempt_at` None gives it up (state 'failed')."""
        ...


class Sender(Protocol):
    """Sends one signed request; returns the HTTP status (raises `SendFailed` without one)."""

    async def send(self, url: str, headers: dict[str, str], body: bytes) -> int: ...


class SendFailed(Exception):
    """No HTTP answer: refused target, connection error or timeout; the message says which."""


def private_address(host: str) -> bool:
    """Loopback, private, link-local and other non-public addresses: not for webhooks."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(
            ".localhost"
        )
    return not address.is_global


def check_url(url: str, *, allow_private: bool) -> str:
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise AdminError(f"the webhook URL must be an http(s):// URL, got {url!r}")
    if len(url) > URL_MAX:
        raise AdminError(f"the webhook URL is longer than {URL_MAX} characters")
    if parts.username or parts.password:
        raise AdminError("the webhook URL must not carry a user name or password")
    if not allow_private and private_address(parts.hostname):
        raise AdminError(
            f"{parts.hostname} is a loopback or private address; webhooks go to public "
            "addresses only (webhooks.allow_private_targets in the config allows others)"
        )
    return url.strip()


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class WebhookService:
    """What an admin does with webhooks, from the CLI or the dashboard."""

    def __init__(self, store: WebhookStore, clock: Clock = time.time) -> None:
        self._store = store
        self._clock = clock

    async def add(
        self,
        guild_id: int,
        url: str,
        events: Sequence[str] = EVENT_TYPES,
        *,
        allow_private: bool = False,
    ) -> Endpoint:
        checked = check_url(url, allow_private=allow_private)
        unknown = [e for e in events if e not in EVENT_TYPES]
        if unknown or not events:
            raise AdminError(
                f"unknown event type(s) {', '.join(unknown) or '(none given)'}; "
                f"choose from {', '.join(EVENT_TYPES)}"
            )
        endpoint = Endpoint(
            endpoint_id="whe_" + secrets.token_hex(8),
            guild_id=guild_id,
            url=checked,
            events=tuple(e for e in EVENT_TYPES if e in events),
            secret=new_secret(),
            created_at=self._clock(),
        )
        if not await self._store.add_endpoint(endpoint, ENDPOINTS_PER_SERVER):
            raise AdminError(f"a server has at most {ENDPOINTS_PER_SERVER} webhook endpoints")
        return endpoint

    async def endpoints(self, guild_id: int) -> list[Endpoint]:
        return await self._store.endpoints(guild_id)

    async def remove(self, guild_id: int, endpoint_id: str) -> None:
        if not await self._store.remove_endpoint(guild_id, endpoint_id):
            raise AdminError(f"server {guild_id} has no webhook endpoint {endpoint_id!r}")

    async def deliveries(self, guild_id: int, limit: int = 50) -> list[Delivery]:
        """The most recent deliveries first: state, attempts, last answer, next retry."""
        return await self._store.deliveries(guild_id, limit)

    async def send_again(self, guild_id: int, delivery_id: int) -> None:
        """Queue the delivery for an attempt now (also a failed one: it becomes pending)."""
        if not await self._store.retry_now(guild_id, delivery_id, self._clock()):
            raise AdminError(f"server {guild_id} has no webhook delivery {delivery_id}")


def sign(secret: str, event_id: str, timestamp: int, body: str) -> str:
    """The `webhook-signature` header value for one message."""
    from standardwebhooks.webhooks import Webhook  # noqa: PLC0415 - pure, no I/O

    moment = datetime.fromtimestamp(timestamp, UTC)
    return Webhook(secret).sign(event_id, moment, body)


class DeliveryRunner:
    """The one background worker: picks due deliveries, sends them concurrently, records each.

    `clock` schedules retries (injectable); `wall` stamps signatures (receivers compare it with
    their own clock, so it is real time).
    """

    def __init__(
        self,
        store: WebhookStore,
        sender: Sender,
        clock: Clock = time.time,
        *,
        wall: Clock = time.time,
        poll_s: float = 0.2,
        concurrency: int = 8,
    ) -> None:
        self._store = store
        self._sender = sender
        self._clock = clock
        self._wall = wall
        self._poll_s = poll_s
        self._slots = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="webhook-deliveries")

    def wake(self) -> None:
        """Look for due deliveries now instead of at the next poll."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop sending; a delivery cut short stays pending and is sent again after a restart."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        task.cancel()
        for running in list(self._in_flight.values()):
            running.cancel()
        await asyncio.gather(task, *self._in_flight.values(), return_exceptions=True)
        self._in_flight.clear()

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self.run_once()
            except Exception:
                _LOG.exception("webhook delivery loop failed; trying again")
            self._wake.clear()
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow the cancellation
            # that stop() sends when the wake-up lands at the same moment.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_s):
                    await self._wake.wait()

    async def run_once(self) -> int:
        """Start every due delivery that has a free slot; returns how many were started."""
        free = self._concurrency - len(self._in_flight)
        if free <= 0:
            return 0
        due = await self._store.due(self._clock(), free, list(self._in_flight))
        for delivery in due:
            task = asyncio.create_task(self._deliver(delivery))
            self._in_flight[delivery.delivery_id] = task
            task.add_done_callback(functools.partial(self._done, delivery.delivery_id))
        return len(due)

    def _done(self, delivery_id: int, _task: asyncio.Task[None]) -> None:
        self._in_flight.pop(delivery_id, None)
        self._wake.set()  # the next delivery of that ticket may go now

    async def _deliver(self, delivery: Delivery) -> None:
        try:
            await self._attempt(delivery)
        except Exception:  # e.g. the database closing: the delivery stays pending, retried later
            _LOG.exception("webhook %s: the attempt could not be recorded", delivery.event_id)

    async def _attempt(self, delivery: Delivery) -> None:
        async with self._slots:
            timestamp = int(self._wall())
            headers = {
                "webhook-id": delivery.event_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(
                    delivery.secret, delivery.event_id, timestamp, delivery.payload
                ),
                "Content-Type": "application/json",
            }
            status: int | None = None
            try:
                status = await self._sender.send(delivery.url, headers, delivery.payload.encode())
            except SendFailed as exc:
                error = str(exc)
            else:
                if 200 <= status < 300:
                    await self._store.delivered(delivery.delivery_id, status, self._clock())
                    return
                error = f"the receiver answered {status}"
            attempts = delivery.attempts + 1
            retry = None
            if attempts <= len(RETRY_SCHEDULE):
                retry = self._clock() + RETRY_SCHEDULE[attempts - 1]
            await self._store.attempt_failed(delivery.delivery_id, status, error, retry)
            _LOG.info(
                "webhook %s to %s failed (attempt %d): %s%s",
                delivery.event_id,
                delivery.url,
                attempts,
                error,
                "" if retry is not None else "; giving up",
            )
