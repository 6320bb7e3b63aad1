"""`rimpllee webhook add|list|remove|deliveries`: a server's outgoing webhooks from a shell.

The same `WebhookService` the dashboard uses. The running bot picks up a new endpoint with the
next event; nothing needs a restart.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.store.database import Database

AdminAction = Callable[["Database", argparse.Namespace], Awaitable[None]]
CommandFactory = Callable[..., argparse.ArgumentParser]


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def _service(db: Database) -> Any:
    from bot.core.webhooks import WebhookService  # noqa: PLC0415 - keeps `--help` fast
    from bot.store.webhooks import SqliteWebhookStore  # noqa: PLC0415

    return WebhookService(SqliteWebhookStore(db))


def _allow_private(args: argparse.Namespace) -> bool:
    if args.allow_private:
        return True
    if args.database is not None:
        return False
    from bot.config import load_config  # noqa: PLC0415

    return load_config(args.config, require_token=False).webhooks.allow_private_targets


async def _add(db: Database, args: argparse.Namespace) -> None:
    from bot.core.webhooks import EVENT_TYPES  # noqa: PLC0415

    events = (
        [e.strip() for e in args.events.split(",") if e.strip()] if args.events else EVENT_TYPES
    )
    endpoint = await _service(db).add(
        args.guild, args.url, events, allow_private=_allow_private(args)
    )
    print(f"{endpoint.endpoint_id}\t{endpoint.secret}")
    print(
        f"rimpllee: webhook {endpoint.endpoint_id} sends {', '.join(endpoint.events)} to "
        f"{endpoint.url}; verify with the secret (shown here; `webhook list` shows it again)",
        file=sys.stderr,
    )


async def _list(db: Database, args: argparse.Namespace) -> None:
    endpoints = await _service(db).endpoints(args.guild)
    for e in endpoints:
        print(f"{e.endpoint_id}\t{e.url}\t{','.join(e.events)}\t{e.secret}")
    if not endpoints:
        print(f"rimpllee: server {args.guild} has no webhook endpoints", file=sys.stderr)


async def _remove(db: Database, args: argparse.Namespace) -> None:
    await _service(db).remove(args.guild, args.endpoint)
    print(f"webhook {args.endpoint} removed: its pending deliveries are dropped")


async def _deliveries(db: Database, args: argparse.Namespace) -> None:
    for d in await _service(db).deliveries(args.guild, args.limit):
        last = d.last_status if d.last_status is not None else (d.last_error or "-")
        following = _when(d.next_attempt_at) if d.state == "pending" else "-"
        print(
            f"{d.delivery_id}\t{d.event_id}\t{d.event_type}\t{d.endpoint_id}\t{d.state}\t"
            f"{d.attempts}\t{last}\t{following}"
        )


async def _send_again(db: Database, args: argparse.Namespace) -> None:
    await _service(db).send_again(args.guild, args.delivery)
    print(f"delivery {args.delivery} queued: the bot sends it within a second")


def add_webhook_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], command: CommandFactory
) -> None:
    """Register `webhook …`; `command` builds a leaf with the shared --guild/--database options."""
    webhook = commands.add_parser("webhook", help="manage a server's outgoing webhooks")
    actions = webhook.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = command(
        actions,
        "add",
        "send the server's ticket events to URL, signed per Standard Webhooks; prints the "
        "endpoint ID and its signing secret",
        _add,
        writes=True,
    )
    add.add_argument("url", metavar="URL", help="https:// address that receives the events")
    add.add_argument(
        "--events",
        metavar="LIST",
        help="comma-separated: ticket.opened, ticket.claimed, ticket.closed, ticket.reopened, "
        "ticket.deleted (default: all)",
    )
    add.add_argument(
        "--allow-private",
        action="store_true",
        help="accept a loopback or private address (the bot still needs "
        "webhooks.allow_private_targets to deliver there)",
    )
    command(
        actions,
        "list",
        "the server's endpoints: ID, URL, events, secret",
        _list,
        writes=False,
    )
    remove = command(actions, "remove", "delete an endpoint", _remove, writes=True)
    remove.add_argument("endpoint", metavar="ENDPOINT", help="its ID (whe_…)")
    deliveries = command(
        actions,
        "deliveries",
        "recent deliveries, newest first: ID, event, type, endpoint, state, attempts, "
        "last answer, next retry (UTC)",
        _deliveries,
        writes=False,
    )
    deliveries.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    again = command(
        actions,
        "send-again",
        "send a delivery again now (also a failed one)",
        _send_again,
        writes=True,
    )
    again.add_argument("delivery", type=int, metavar="DELIVERY", help="its ID")
