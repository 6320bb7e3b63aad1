"""Outgoing webhooks end to end: real ticket changes, the real runner, a real HTTP receiver that
verifies every signature with the `standardwebhooks` library."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from bot.app import Rimpllee
from bot.core.errors import AdminError
from bot.core.webhooks import Endpoint, SendFailed, WebhookService
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import HELP_BUTTON_ID, SandboxWorld
from bot.store.webhooks import SqliteWebhookStore
from tests.conftest import FakeClock
from tests.helpers import (
    call,
    change_settings,
    command,
    free_port,
    opening,
    wait_healthy,
    write_config,
)
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver()
    await hook.start()
    yield hook
    await hook.stop()


async def subscribe(app: Rimpllee, world: SandboxWorld, receiver: Receiver, **kw: Any) -> Endpoint:
    assert app.db is not None
    service = WebhookService(SqliteWebhookStore(app.db))
    endpoint = await service.add(world.guild.id, receiver.url, allow_private=True, **kw)
    receiver.secret = endpoint.secret
    return endpoint


async def until(check: Callable[[], bool], timeout: float = 15) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)


async def test_every_lifecycle_event_arrives_signed_and_in_order(
    app: Rimpllee,
    emulator: DiscordEmulator,
    world: SandboxWorld,
    receiver: Receiver,
    clock: FakeClock,
) -> None:
    await subscribe(app, world, receiver)
    await change_settings(app, world, close_mode="archive")
    member = world.members[0].id
    opened = await call(app, "POST", "/api/v1/tickets", opening(member, HELP_BUTTON_ID))
    channel = opened[1]["ticket"]["channelId"]
    await receiver.wait_for(1)  # each change reported before the next, so their order is known
    await (await command(emulator, world, int(channel), "ticket claim")).wait_response()
    await receiver.wait_for(2)
    await call(app, "POST", f"/api/v1/tickets/{channel}/close", {"reason": "Refund sent"})
    await receiver.wait_for(3)
    await (await command(emulator, world, int(channel), "ticket reopen")).wait_response()
    await receiver.wait_for(4)
    await call(app, "POST", f"/api/v1/tickets/{channel}/close")
    await receiver.wait_for(5)
    await (await command(emulator, world, int(channel), "ticket delete")).wait_response()
    events = await receiver.wait_for(6)
    assert [e["type"] for e in events] == [
        "ticket.opened",
        "ticket.claimed",
        "ticket.closed",
        "ticket.reopened",
        "ticket.closed",
        "ticket.deleted",
    ]
    assert len({e["id"] for e in events}) == 6
    assert all(e["data"]["channelId"] == channel for e in events)
    assert all(e["data"]["guildId"] == str(world.guild.id) for e in events)
    assert events[0]["data"]["status"] == "open"
    assert events[0]["data"]["answers"][0]["value"] == "Refund request"
    assert events[1]["data"]["by"] == events[1]["data"]["claimedBy"] == str(world.admin.id)
    closed = events[2]["data"]
    assert (closed["status"], closed["closeReason"]) == ("archived", "Refund sent")
    assert closed["by"] == closed["closedBy"] == str(emulator.state.bot.id)
    assert events[3]["data"]["by"] == str(world.admin.id)
    assert events[5]["data"]["status"] == "closed"  # its channel is gone
    assert len(receiver.received) == 6  # each delivered once when the receiver answers at once


async def test_a_failing_receiver_is_retried_with_backoff_and_order_is_kept(
    app: Rimpllee, world: SandboxWorld, receiver: Receiver, clock: FakeClock
) -> None:
    assert app.db is not None
    await subscribe(app, world, receiver)
    service = WebhookService(SqliteWebhookStore(app.db), clock)
    receiver.status = 503
    opened = await call(app, "POST", "/api/v1/tickets", opening(world.members[0].id))
    channel = opened[1]["ticket"]["channelId"]
    await until(lambda: len(receiver.received) == 1)
    await call(app, "POST", f"/api/v1/tickets/{channel}/close")

    async def states() -> list[tuple[str, str, int]]:
        rows = await service.deliveries(world.guild.id)
        return [(d.event_type, d.state, d.attempts) for d in reversed(rows)]

    await until_async(states, [("ticket.opened", "pending", 1), ("ticket.closed", "pending", 0)])
    (first, _) = reversed(await service.deliveries(world.guild.id))
    assert first.next_attempt_at == pytest.approx(clock() + 5)  # the first retry: 5 s later
    assert first.last_status == 503
    # The closed event waits behind the opened one: nothing more is sent before the retry.
    assert len(receiver.received) == 1
    receiver.status = 200
    clock.advance(5)
    events = await receiver.wait_for(2)
    assert [e["type"] for e in events] == ["ticket.opened", "ticket.closed"]
    await until_async(
        states, [("ticket.opened", "delivered", 2), ("ticket.closed", "delivered", 1)]
    )


async def until_async(read: Callable[[], Any], expected: Any, timeout: float = 15) -> None:
    async with asyncio.timeout(timeout):
        while (got := await read()) != expected:
            await asyncio.sleep(0.05)
    assert got == expected


async def test_a_slow_receiver_never_delays_a_ticket(
    app: Rimpllee, world: SandboxWorld, receiver: Receiver, clock: FakeClock
) -> None:
    await subscribe(app, world, receiver)
    receiver.hold = asyncio.Event()
    first = await call(app, "POST", "/api/v1/tickets", opening(world.members[0].id))
    assert first[0] == 200
    await until(lambda: receiver.waiting == 1)  # the receiver sits on the event
    second = await call(app, "POST", "/api/v1/tickets", opening(world.members[1].id))
    assert second[0] == 200
    assert receiver.waiting == 1  # the second open did not wait for it
    receiver.hold.set()
    await receiver.wait_for(2)


async def test_private_targets_are_refused_unless_allowed(
    app: Rimpllee, world: SandboxWorld
) -> None:
    from bot.api.webhook_client import HttpSender

    assert app.db is not None
    service = WebhookService(SqliteWebhookStore(app.db))
    for url in (
        "http://127.0.0.1:9/hooks",
        "https://10.1.2.3/x",
        "https://[::1]/x",
        "http://localhost/x",
        "https://169.254.169.254/latest/meta-data",
    ):
        with pytest.raises(AdminError, match="loopback or private"):
            await service.add(world.guild.id, url)
    for url in ("ftp://example.com/x", "https://user:pw@example.com/x", "not a url"):
        with pytest.raises(AdminError):
            await service.add(world.guild.id, url)
    with pytest.raises(AdminError, match="unknown event"):
        await service.add(world.guild.id, "https://example.com/x", ["ticket.exploded"])
    assert await service.endpoints(world.guild.id) == []
    # At delivery, on the address actually connected to: a name resolving to loopback too.
    sender = HttpSender(allow_private=False)
    try:
        for url in ("http://127.0.0.1:9/hooks", "http://localhost:9/hooks"):
            with pytest.raises(SendFailed, match="loopback or private"):
                await sender.send(url, {}, b"{}")
    finally:
        await sender.close()


async def test_the_cli_adds_lists_and_removes_endpoints(
    app: Rimpllee, world: SandboxWorld, receiver: Receiver, tmp_path: Path
) -> None:
    from tests.conftest import run_cli

    assert app.db is not None
    database = str(app.config.database.path)
    guild = str(world.guild.id)
    common = ["--guild", guild, "--database", database]
    code, out, err = await run_cli("webhook", "add", *common, receiver.url, cwd=tmp_path)
    assert code == 1
    assert "loopback or private" in err
    code, out, _ = await run_cli(
        "webhook",
        "add",
        *common,
        receiver.url,
        "--allow-private",
        "--events",
        "ticket.opened,ticket.closed",
        cwd=tmp_path,
    )
    assert code == 0
    endpoint_id, secret = out.strip().split("\t")
    assert endpoint_id.startswith("whe_")
    assert secret.startswith("whsec_")
    receiver.secret = secret
    code, out, _ = await run_cli("webhook", "list", *common, cwd=tmp_path)
    assert out.splitlines() == [
        f"{endpoint_id}\t{receiver.url}\tticket.opened,ticket.closed\t{secret}"
    ]
    # The running bot uses it from the next event on.
    await call(app, "POST", "/api/v1/tickets", opening(world.members[0].id))
    (event,) = await receiver.wait_for(1)
    code, out, _ = await run_cli("webhook", "deliveries", *common, cwd=tmp_path)
    await until_async(
        lambda: run_cli("webhook", "deliveries", *common, cwd=tmp_path),
        (0, f"1\t{event['id']}\tticket.opened\t{endpoint_id}\tdelivered\t1\t204\t-\n", ""),
    )
    code, out, _ = await run_cli("webhook", "remove", *common, endpoint_id, cwd=tmp_path)
    assert code == 0
    code, out, _ = await run_cli("webhook", "list", *common, cwd=tmp_path)
    assert out == ""
    code, _, err = await run_cli("webhook", "remove", *common, endpoint_id, cwd=tmp_path)
    assert code == 1
    assert endpoint_id in err


async def test_event_payloads_are_json_with_string_ids() -> None:
    from bot.core.models import Ticket
    from bot.core.webhooks import ticket_event

    ticket = Ticket(1, 2**62, 7, 2**60, "open", "api", 1_800_000_000.0, channel_id=2**61)
    event = ticket_event("evt_x", "ticket.opened", ticket, 1_800_000_001.0, None)
    assert json.loads(json.dumps(event)) == event
    assert event["data"]["channelId"] == str(2**61)
    assert event["timestamp"] == "2027-01-15T08:00:01.000Z"


async def test_every_event_arrives_exactly_once_after_dedup_across_a_kill_9(
    tmp_path: Path, emulator: DiscordEmulator, world: SandboxWorld, receiver: Receiver
) -> None:
    """The real bot process is killed while its first delivery is unanswered and the second
    still waits in the outbox; the restarted process delivers both, in order."""
    import signal

    from bot.sandbox.runner import DEMO_API_KEY, seed_database
    from tests.conftest import CLI, run_cli

    port = free_port()
    config = write_config(tmp_path / "c.toml", emulator.rest_url, port, token=emulator.token)
    config.write_text(config.read_text() + "[webhooks]\nallow_private_targets = true\n")
    await seed_database(tmp_path / "bot.db", world)
    code, out, _ = await run_cli(
        "webhook",
        "add",
        "--guild",
        str(world.guild.id),
        "--config",
        str(config),
        receiver.url,
        cwd=tmp_path,
    )
    assert code == 0, out
    receiver.secret = out.split("\t")[1].strip()
    api = f"http://127.0.0.1:{port}/api/v1"
    auth = {"x-api-key": DEMO_API_KEY}
    procs: list[asyncio.subprocess.Process] = []

    async def start() -> None:
        proc = await asyncio.create_subprocess_exec(
            *CLI, "run", "--config", str(config), cwd=tmp_path, stderr=asyncio.subprocess.DEVNULL
        )
        procs.append(proc)
        await wait_healthy(f"http://127.0.0.1:{port}/healthz", proc)
        # /healthz is up before start-up's last steps; the API answers 503 not_ready until they
        # are done (slow under load), and the opens below must be accepted.
        async with aiohttp.ClientSession(headers=auth) as http, asyncio.timeout(30):
            while True:
                async with http.get(f"{api}/panels") as ready:
                    if ready.status != 503:
                        break
                await asyncio.sleep(0.05)

    try:
        await start()
        receiver.hold = asyncio.Event()  # the first delivery gets no answer
        async with aiohttp.ClientSession(headers=auth) as http:
            async with http.post(f"{api}/tickets", json=opening(world.members[0].id)) as resp:
                assert resp.status == 200
                channel = (await resp.json())["ticket"]["channelId"]
            await until(lambda: receiver.waiting == 1)
            async with http.post(f"{api}/tickets/{channel}/close") as resp:
                assert resp.status == 200
        assert [e["type"] for e in receiver.received] == ["ticket.opened"]
        procs[0].send_signal(signal.SIGKILL)
        assert await procs[0].wait() == -signal.SIGKILL
        receiver.hold.set()
        receiver.hold = None
        await start()
        events = await receiver.wait_for(2)
        assert [e["type"] for e in events] == ["ticket.opened", "ticket.closed"]
        assert all(e["data"]["channelId"] == channel for e in events)
        # At least once: the opened event came twice (its first answer never reached the bot),
        # with the same ID, so deduplicating by ID leaves each event exactly once.
        assert [e["type"] for e in receiver.received] == [
            "ticket.opened",
            "ticket.opened",
            "ticket.closed",
        ]
        assert receiver.received[0] == receiver.received[1]
        procs[1].send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(procs[1].wait(), 30) == 0  # stops cleanly
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
