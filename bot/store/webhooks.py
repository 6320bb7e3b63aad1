"""Webhook endpoints and the outbox of events and their deliveries."""

from __future__ import annotations

import json
from collections.abc import Sequence

from bot.core.shards import Shards
from bot.core.webhooks import Delivery, Endpoint, EventType, new_event_id, ticket_event
from bot.store.database import Connection, Database, Row
from bot.store.shards import on_shards


async def record_ticket_event(
    conn: Connection,
    ticket_id: int,
    event_type: EventType,
    now: float,
    by: int | None = None,
) -> None:
    """Write the event and one delivery per subscribed endpoint, in the caller's transaction.

    Called by the ticket stores right after the change the event reports, so the two commit or
    roll back together. A server without a subscribed endpoint writes nothing.
    """
    from bot.store.tickets import _TICKET_COLUMNS, ticket_from_row  # noqa: PLC0415 - cycle

    rows = list(
        await conn.execute_fetchall(
            "SELECT e.endpoint_id FROM webhook_endpoints e JOIN tickets t "
            "ON t.guild_id = e.guild_id WHERE t.ticket_id = ? "
            f"AND {_SUBSCRIBED[conn.engine]}",
            (ticket_id, event_type),
        )
    )
    if not rows:
        return
    (row,) = await conn.execute_fetchall(
        f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE ticket_id = ?", (ticket_id,)
    )
    ticket = ticket_from_row(row)
    event_id = new_event_id()
    payload = json.dumps(ticket_event(event_id, event_type, ticket, now, by), ensure_ascii=False)
    await conn.execute(
        "INSERT INTO webhook_events (event_id, guild_id, ticket_id, type, payload, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (event_id, ticket.guild_id, ticket_id, event_type, payload, now),
    )
    await conn.executemany(
        "INSERT INTO webhook_deliveries (event_id, endpoint_id, ticket_id, next_attempt_at, "
        "created_at) VALUES (?, ?, ?, ?, ?)",
        [(event_id, r[0], ticket_id, now, now) for r in rows],
    )


# Whether the endpoint's JSON array of event types holds the event's type.
_SUBSCRIBED = {
    "sqlite": "EXISTS (SELECT 1 FROM json_each(e.events) WHERE value = ?)",
    "postgres": "jsonb_exists(e.events::jsonb, ?)",
}
_DELIVERY = (
    "SELECT d.delivery_id, d.event_id, v.type, d.endpoint_id, e.url, e.secret, v.payload, "
    "d.state, d.attempts, d.next_attempt_at, d.last_status, d.last_error, d.created_at "
    "FROM webhook_deliveries d JOIN webhook_events v ON v.event_id = d.event_id "
    "JOIN webhook_endpoints e ON e.endpoint_id = d.endpoint_id "
)


def _delivery(row: Row) -> Delivery:
    return Delivery(*row)


def _endpoint(row: Row) -> Endpoint:
    return Endpoint(
        endpoint_id=row["endpoint_id"],
        guild_id=row["guild_id"],
        url=row["url"],
        events=tuple(json.loads(row["events"])),
        secret=row["secret"],
        created_at=row["created_at"],
    )


class SqliteWebhookStore:
    """`shards`: only deliveries to endpoints of servers on these shards are due here (None:
    every server), so two processes never send the same delivery."""

    def __init__(self, db: Database, shards: Shards | None = None) -> None:
        self._db = db
        self._mine = on_shards("e.guild_id", shards)

    async def add_endpoint(self, endpoint: Endpoint, limit: int) -> bool:
        from bot.store.tickets import ensure_server  # noqa: PLC0415

        async with self._db.write(f"webhooks:{endpoint.guild_id}") as conn:
            (count,) = await conn.execute_fetchall(
                "SELECT count(*) FROM webhook_endpoints WHERE guild_id = ?", (endpoint.guild_id,)
            )
            if count[0] >= limit:
                return False
            await ensure_server(conn, endpoint.guild_id, endpoint.created_at)
            await conn.execute(
                "INSERT INTO webhook_endpoints "
                "(endpoint_id, guild_id, url, events, secret, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    endpoint.endpoint_id,
                    endpoint.guild_id,
                    endpoint.url,
                    json.dumps(list(endpoint.events)),
                    endpoint.secret,
                    endpoint.created_at,
                ),
            )
        return True

    async def endpoints(self, guild_id: int) -> list[Endpoint]:
        rows = await self._db.fetchall(
            "SELECT endpoint_id, guild_id, url, events, secret, created_at "
            "FROM webhook_endpoints WHERE guild_id = ? ORDER BY created_at, endpoint_id",
            (guild_id,),
        )
        return [_endpoint(r) for r in rows]

    async def remove_endpoint(self, guild_id: int, endpoint_id: str) -> bool:
        async with self._db.write() as conn:
            cursor = await conn.execute(
                "DELETE FROM webhook_endpoints WHERE guild_id = ? AND endpoint_id = ?",
                (guild_id, endpoint_id),
            )
            return cursor.rowcount == 1

    async def deliveries(self, guild_id: int, limit: int) -> list[Delivery]:
        rows = await self._db.fetchall(
            _DELIVERY + "WHERE e.guild_id = ? ORDER BY d.delivery_id DESC LIMIT ?",
            (guild_id, limit),
        )
        return [_delivery(r) for r in rows]

    async def retry_now(self, guild_id: int, delivery_id: int, now: float) -> bool:
        async with self._db.write() as conn:
            cursor = await conn.execute(
                "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = ? "
                "WHERE delivery_id = ? AND endpoint_id IN "
                "(SELECT endpoint_id FROM webhook_endpoints WHERE guild_id = ?)",
                (now, delivery_id, guild_id),
            )
            return cursor.rowcount == 1

    async def due(self, now: float, limit: int, skip: Sequence[int]) -> list[Delivery]:
        # The first pending delivery of each (endpoint, ticket); a later one waits for it.
        if self._db.engine == "postgres":
            return await self._claim_due(now, limit, skip)
        rows = await self._db.fetchall(
            _DELIVERY + "WHERE d.state = 'pending' AND d.next_attempt_at <= ? "
            "AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.state = 'pending' "
            "AND p.endpoint_id = d.endpoint_id AND p.ticket_id IS d.ticket_id "
            "AND p.delivery_id < d.delivery_id) "
            "AND d.delivery_id NOT IN (SELECT value FROM json_each(?))"
            + self._mine
            + " ORDER BY d.next_attempt_at, d.delivery_id LIMIT ?",
            (now, json.dumps(list(skip)), limit),
        )
        return [_delivery(r) for r in rows]

    async def _claim_due(self, now: float, limit: int, skip: Sequence[int]) -> list[Delivery]:
        """PostgreSQL, where several processes deliver: a due delivery is sent by the process
        that claims it (`Database.claim`: a lock PostgreSQL drops with the process, so a killed
        process's deliveries are taken over at once), after checking it is still due under the
        claim (another process may have just delivered it). Recording the attempt releases it."""
        rows = await self._db.fetchall(
            _DELIVERY + "WHERE d.state = 'pending' AND d.next_attempt_at <= ? "
            "AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.state = 'pending' "
            "AND p.endpoint_id = d.endpoint_id AND p.ticket_id IS d.ticket_id "
            "AND p.delivery_id < d.delivery_id)"
            + self._mine
            + " ORDER BY d.next_attempt_at, d.delivery_id LIMIT ?",
            # Room for the ones this process and others are sending (skipped here, not counted).
            (now, len(skip) + 10 * limit),
        )
        taken: list[Delivery] = []
        for row in rows:
            delivery = _delivery(row)
            if delivery.delivery_id in skip or len(taken) == limit:
                continue
            name = f"delivery:{delivery.delivery_id}"
            if not await self._db.claim(name):
                continue
            still_due = await self._db.fetchone(
                "SELECT 1 FROM webhook_deliveries WHERE delivery_id = ? AND state = 'pending' "
                "AND next_attempt_at <= ?",
                (delivery.delivery_id, now),
            )
            if still_due is None:
                await self._db.release(name)
                continue
            taken.append(delivery)
        return taken

    async def delivered(self, delivery_id: int, status: int, now: float) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                "UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, "
                "last_status = ?, last_error = NULL, delivered_at = ? WHERE delivery_id = ?",
                (status, now, delivery_id),
            )
        await self._db.release(f"delivery:{delivery_id}")  # after the commit: it is recorded

    async def attempt_failed(
        self,
        delivery_id: int,
        status: int | None,
        error: str,
        next_attempt_at: float | None,
    ) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = ?, "
                "last_error = ?, state = ?, next_attempt_at = coalesce(?, next_attempt_at) "
                "WHERE delivery_id = ?",
                (
                    status,
                    error[:500],
                    "failed" if next_attempt_at is None else "pending",
                    next_attempt_at,
                    delivery_id,
                ),
            )
        await self._db.release(f"delivery:{delivery_id}")
