"""The API beyond the seed's contract: idempotent retries, request IDs, RateLimit fields, the read
endpoints and the API's close. Real HTTP to the real bot, the bot to the emulator."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import aiohttp
import pytest

from bot.app import Rimpllee
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import (
    DEMO_API_KEY,
    DEMO_PANEL_ID,
    HELP_BUTTON_ID,
    HELP_QUESTION,
    REPORT_BUTTON_ID,
    SandboxWorld,
)
from tests.conftest import FakeClock, LoopErrors, running
from tests.helpers import FullReply as Reply
from tests.helpers import call, command, opening

pytestmark = pytest.mark.asyncio

AUTH = {"Authorization": f"Bearer {DEMO_API_KEY}"}


def code(reply: Reply) -> str:
    assert reply[1]["ok"] is False, reply
    assert reply[1]["error"]["message"]
    return str(reply[1]["error"]["code"])


# -- Idempotency-Key ------------------------------------------------------------------------------


async def test_a_retry_after_a_client_timeout_returns_the_original_channel(
    emulator: DiscordEmulator,
    world: SandboxWorld,
    tmp_path: Path,
    clock: FakeClock,
    loop_errors: LoopErrors,
) -> None:
    from bot.sandbox.runner import seed_database

    database = tmp_path / "idem.db"
    await seed_database(database, world)
    member = world.members[0].id
    key = {**AUTH, "Idempotency-Key": "order-4711-open"}
    async with running(emulator, database, loop_errors, clock=clock) as app:
        before = len(world.guild.channels)
        # Discord is slow to create the channel: the client gives up before the bot answers.
        emulator.inject_fault("POST", "/guilds/{guild_id}/channels", None, delay=3.0)
        with pytest.raises(TimeoutError):
            await call(app, "POST", "/api/v1/tickets", opening(member), headers=key, timeout=0.3)
        # Retried while the first is still running: told so, with when to come back.
        busy = await call(app, "POST", "/api/v1/tickets", opening(member), headers=key)
        assert busy[0] == 409
        assert code(busy) == "idempotency_key_in_use"
        assert busy[2]["Retry-After"] == "1"
        async with asyncio.timeout(30):
            while (
                reply := await call(app, "POST", "/api/v1/tickets", opening(member), headers=key)
            )[0] == 409:
                await asyncio.sleep(0.1)
        assert reply[0] == 200
        assert reply[2]["Idempotent-Replayed"] == "true"
        channel_id = reply[1]["ticket"]["channelId"]
        assert int(channel_id) in emulator.state.channels
        assert len(world.guild.channels) == before + 1  # one channel, whatever the retries
        # Without the key, the same request is a new open: the user's cooldown refuses it.
        fresh = await call(app, "POST", "/api/v1/tickets", opening(member))
        assert code(fresh) == "rate_limited"

    # A restart keeps the stored answer.
    async with running(emulator, database, loop_errors, clock=clock) as app:
        again = await call(app, "POST", "/api/v1/tickets", opening(member), headers=key)
        assert again[0] == 200
        assert again[1]["ticket"]["channelId"] == channel_id
        assert again[2]["Idempotent-Replayed"] == "true"
        assert len(world.guild.channels) == before + 1


async def test_the_same_key_with_another_body_is_a_422(app: Rimpllee, world: SandboxWorld) -> None:
    key = {**AUTH, "Idempotency-Key": "k-1"}
    first = await call(app, "POST", "/api/v1/tickets", opening(world.members[0].id), headers=key)
    assert first[0] == 200
    assert "Idempotent-Replayed" not in first[2]
    other = await call(app, "POST", "/api/v1/tickets", opening(world.members[1].id), headers=key)
    assert other[0] == 422
    assert code(other) == "idempotency_key_reused"
    # The same JSON written differently is the same request.
    spaced = {**key, "Content-Type": "application/json"}
    body = opening(world.members[0].id)
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            app.http_url + "/api/v1/tickets",
            data=json.dumps(dict(reversed(body.items())), indent=2),
            headers=spaced,
        ) as resp,
    ):
        assert resp.status == 200
        assert resp.headers["Idempotent-Replayed"] == "true"
        assert (await resp.json()) == first[1]


async def test_a_refusal_is_replayed_too_and_keys_are_per_server(
    app: Rimpllee, world: SandboxWorld, clock: FakeClock
) -> None:
    from bot.core.admin import ApiKeys
    from bot.store.admin import SqliteKeyStore

    key = {**AUTH, "Idempotency-Key": "blocked-user"}
    first = await call(app, "POST", "/api/v1/tickets", opening(world.blacklisted.id), headers=key)
    assert code(first) == "blacklisted"
    again = await call(app, "POST", "/api/v1/tickets", opening(world.blacklisted.id), headers=key)
    assert (again[0], again[1]) == (first[0], first[1])
    assert again[2]["Idempotent-Replayed"] == "true"
    # Another server using the same key string has its own.
    assert app.db is not None
    other = await ApiKeys(SqliteKeyStore(app.db), clock).generate(world.guild.id + 1)
    elsewhere = await call(
        app,
        "POST",
        "/api/v1/tickets",
        opening(world.blacklisted.id),
        headers={"x-api-key": other, "Idempotency-Key": "blocked-user"},
    )
    assert code(elsewhere) == "panel_not_found"


@pytest.mark.parametrize("value", ["", "x" * 256, "schlüssel"])
async def test_an_unusable_idempotency_key_is_a_400(
    app: Rimpllee, world: SandboxWorld, value: str
) -> None:
    headers = {**AUTH, "Idempotency-Key": value}
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            app.http_url + "/api/v1/tickets",
            data=json.dumps(opening(world.members[0].id)),
            headers={**headers, "Content-Type": "application/json"},
        ) as resp,
    ):
        body = await resp.json()
    assert resp.status == 400
    assert body["error"]["code"] == "invalid_idempotency_key"
    assert body["error"]["field"] == "Idempotency-Key"


# -- Request IDs ----------------------------------------------------------------------------------


async def test_every_answer_has_a_request_id_and_a_clients_valid_one_is_echoed(
    app: Rimpllee, world: SandboxWorld, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.INFO, logger="rimpllee.api.access")
    ok = await call(app, "POST", "/api/v1/tickets", opening(world.members[0].id))
    unauthorized = await call(app, "POST", "/api/v1/tickets", opening(1), headers={})
    async with aiohttp.ClientSession() as http, http.get(app.http_url + "/nope") as resp:
        missing = resp.headers["X-Request-Id"]
    ids = [ok[2]["X-Request-Id"], unauthorized[2]["X-Request-Id"], missing]
    assert all(i.startswith("req_") for i in ids)
    assert len(set(ids)) == 3
    mine = await call(
        app, "GET", "/api/v1/panels", headers={**AUTH, "X-Request-Id": "checkout-7f3a:retry.2"}
    )
    assert mine[2]["X-Request-Id"] == "checkout-7f3a:retry.2"
    bad = await call(app, "GET", "/api/v1/panels", headers={**AUTH, "X-Request-Id": 'a b"<>'})
    assert bad[2]["X-Request-Id"].startswith("req_")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for rid in [*ids, "checkout-7f3a:retry.2"]:
        assert f"request_id={rid}" in logged
    assert "POST /api/v1/tickets 200" in logged


# -- RateLimit fields and messages ----------------------------------------------------------------


async def test_rate_limit_fields_follow_the_servers_window_and_the_users_cooldown(
    app: Rimpllee, world: SandboxWorld, clock: FakeClock
) -> None:
    member = world.members[0].id
    panels = await call(app, "GET", "/api/v1/panels")
    assert panels[2]["RateLimit-Policy"] == '"server";q=30;w=60'
    assert panels[2]["RateLimit"] == '"server";r=30;t=0'
    first = await call(app, "POST", "/api/v1/tickets", opening(member))
    assert first[0] == 200
    assert first[2]["RateLimit-Policy"] == '"server";q=30;w=60, "user";q=1;w=20'
    assert first[2]["RateLimit"] == '"server";r=29;t=60, "user";r=0;t=20'
    clock.advance(5.5)
    refused = await call(app, "POST", "/api/v1/tickets", opening(member))
    assert refused[0] == 429
    assert refused[2]["Retry-After"] == "15"
    assert refused[2]["RateLimit"] == '"server";r=29;t=55, "user";r=0;t=15'
    other = await call(app, "POST", "/api/v1/tickets", opening(world.members[1].id, "x"))
    assert code(other) == "button_not_found"
    assert other[2]["RateLimit"] == '"server";r=29;t=55, "user";r=1;t=0'
    # Unauthenticated answers say nothing about a server's limits.
    anonymous = await call(app, "POST", "/api/v1/tickets", opening(member), headers={})
    assert "RateLimit" not in anonymous[2]


async def test_a_body_sent_again_is_answered_from_what_holds_now(
    app: Rimpllee, world: SandboxWorld, clock: FakeClock
) -> None:
    """A body is parsed once per distinct bytes; the headers, the key, the panel and the limits
    are checked again on every request, and every request is logged with its own fields."""
    member = world.members[0].id
    body = opening(member)
    assert (await call(app, "POST", "/api/v1/tickets", body))[0] == 200
    again = await call(app, "POST", "/api/v1/tickets", body)  # the same bytes
    assert code(again) == "rate_limited"
    assert again[2]["Retry-After"] == "20"
    assert again[2]["RateLimit"] == '"server";r=29;t=60, "user";r=0;t=20'
    plain = await call(
        app, "POST", "/api/v1/tickets", body, headers={**AUTH, "Content-Type": "text/plain"}
    )
    assert code(plain) == "invalid_content_type"
    wrong_key = await call(
        app, "POST", "/api/v1/tickets", body, headers={"x-api-key": "rmp_" + "c" * 43}
    )
    assert code(wrong_key) == "invalid_api_key"
    clock.advance(21)  # the cooldown is over: the same bytes open a second ticket
    assert (await call(app, "POST", "/api/v1/tickets", body))[0] == 200
    assert app.requests is not None
    logged = await app.requests.recent(world.guild.id, 4)
    assert [(r.status, r.user_id) for r in logged] == [
        (200, str(member)),
        (400, str(member)),
        (429, str(member)),
        (200, str(member)),
    ]


async def test_the_auth_failure_429_says_what_happened(app: Rimpllee) -> None:
    bad = {"x-api-key": "rmp_" + "b" * 43}
    for _ in range(10):
        await call(app, "POST", "/api/v1/tickets", opening(1), headers=bad)
    throttled = await call(app, "POST", "/api/v1/tickets", opening(1), headers=bad)
    assert code(throttled) == "too_many_auth_failures"
    message = throttled[1]["error"]["message"]
    assert message == (
        "too many failed authentication attempts from this address; "
        f"retry in {throttled[2]['Retry-After']} s with a valid API key"
    )


async def test_http_messages_name_channels_by_id_not_discord_markup(
    app: Rimpllee, world: SandboxWorld
) -> None:
    member = world.members[0].id
    first = await call(app, "POST", "/api/v1/tickets", opening(member, HELP_BUTTON_ID))
    channel = first[1]["ticket"]["channelId"]
    second = await call(app, "POST", "/api/v1/tickets", opening(member, HELP_BUTTON_ID))
    assert code(second) == "max_open_reached"
    message = second[1]["error"]["message"]
    assert f"channel {channel}" in message
    assert "<#" not in message


# -- Read endpoints and the API's close -----------------------------------------------------------


async def test_panels_describe_every_button_and_question(
    app: Rimpllee, world: SandboxWorld, clock: FakeClock
) -> None:
    status, body, _ = await call(app, "GET", "/api/v1/panels")
    assert status == 200
    (panel,) = body["panels"]
    assert panel["panelId"] == DEMO_PANEL_ID
    buttons = {b["buttonId"]: b for b in panel["buttons"]}
    assert set(buttons) == {HELP_BUTTON_ID, REPORT_BUTTON_ID}
    (question,) = buttons[HELP_BUTTON_ID]["questions"]
    assert (question["label"], question["required"]) == (HELP_QUESTION, True)
    assert question["questionId"].startswith("qst_")
    assert buttons[REPORT_BUTTON_ID]["questions"] == []
    # Another server's key sees its own (no) panels.
    from bot.core.admin import ApiKeys
    from bot.store.admin import SqliteKeyStore

    assert app.db is not None
    other = await ApiKeys(SqliteKeyStore(app.db), clock).generate(world.guild.id + 1)
    elsewhere = await call(app, "GET", "/api/v1/panels", headers={"x-api-key": other})
    assert elsewhere[1] == {"ok": True, "panels": []}


async def test_a_ticket_reads_back_as_it_was_opened_claimed_and_closed(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld, clock: FakeClock
) -> None:
    member = world.members[0].id
    opened = await call(app, "POST", "/api/v1/tickets", opening(member, HELP_BUTTON_ID))
    channel = opened[1]["ticket"]["channelId"]
    status, body, headers = await call(app, "GET", f"/api/v1/tickets/{channel}")
    assert status == 200
    ticket = body["ticket"]
    assert ticket["status"] == "open"
    assert (ticket["channelId"], ticket["userId"], ticket["source"]) == (
        channel,
        str(member),
        "api",
    )
    assert (ticket["panelId"], ticket["buttonId"], ticket["number"]) == (
        DEMO_PANEL_ID,
        HELP_BUTTON_ID,
        1,
    )
    assert ticket["answers"] == [{"label": HELP_QUESTION, "value": "Refund request"}]
    assert ticket["openedAt"].endswith("Z")
    assert ticket["claimedBy"] is ticket["closedAt"] is None
    assert headers["RateLimit"].endswith('"user";r=0;t=20')  # about the ticket's opener
    await (await command(emulator, world, int(channel), "ticket claim")).wait_response()
    claimed = (await call(app, "GET", f"/api/v1/tickets/{channel}"))[1]["ticket"]
    assert claimed["claimedBy"] == str(world.admin.id)
    assert claimed["claimedAt"] >= claimed["openedAt"]
    clock.advance(30)
    closed = await call(app, "POST", f"/api/v1/tickets/{channel}/close", {"reason": "Refund sent"})
    assert closed[0] == 200
    after = closed[1]["ticket"]
    assert after["status"] == "closed"
    assert after["closeReason"] == "Refund sent"
    assert after["closedBy"] == str(emulator.state.bot.id)
    assert after["closedAt"] > claimed["claimedAt"]
    assert after["claimedBy"] is after["claimedAt"] is None  # closing unclaims, as it always did
    assert int(channel) not in emulator.state.channels  # closed exactly as staff would: deleted
    assert (await call(app, "GET", f"/api/v1/tickets/{channel}"))[1]["ticket"] == after
    again = await call(app, "POST", f"/api/v1/tickets/{channel}/close")
    assert (again[0], code(again), again[1]["error"]["ticketStatus"]) == (
        409,
        "ticket_not_open",
        "closed",
    )


async def test_tickets_of_other_servers_and_unknown_channels_are_not_found(
    app: Rimpllee, world: SandboxWorld, clock: FakeClock
) -> None:
    from bot.core.admin import ApiKeys
    from bot.store.admin import SqliteKeyStore

    opened = await call(app, "POST", "/api/v1/tickets", opening(world.members[0].id))
    channel = opened[1]["ticket"]["channelId"]
    assert app.db is not None
    other = {"x-api-key": await ApiKeys(SqliteKeyStore(app.db), clock).generate(world.guild.id + 1)}
    for method, path in (
        ("GET", f"/api/v1/tickets/{channel}"),
        ("POST", f"/api/v1/tickets/{channel}/close"),
    ):
        reply = await call(app, method, path, headers=other)
        assert (reply[0], code(reply), reply[1]["error"]["field"]) == (
            404,
            "ticket_not_found",
            "channelId",
        )
    assert code(await call(app, "GET", "/api/v1/tickets/123")) == "ticket_not_found"
    bad = await call(app, "GET", "/api/v1/tickets/abc")
    assert (bad[0], code(bad), bad[1]["error"]["field"]) == (400, "invalid_field", "channelId")
    long = await call(app, "POST", f"/api/v1/tickets/{channel}/close", {"reason": "x" * 501})
    assert (long[0], long[1]["error"]["field"]) == (400, "reason")
    extra = await call(app, "POST", f"/api/v1/tickets/{channel}/close", {"why": "x"})
    assert (code(extra), extra[1]["error"]["field"]) == ("unknown_field", "why")
    assert (await call(app, "GET", f"/api/v1/tickets/{channel}"))[1]["ticket"]["status"] == "open"


async def test_a_members_tickets_come_a_page_at_a_time(
    app: Rimpllee, world: SandboxWorld, clock: FakeClock
) -> None:
    member = world.members[0].id
    channels = []
    for button in (HELP_BUTTON_ID, REPORT_BUTTON_ID, REPORT_BUTTON_ID):
        reply = await call(app, "POST", "/api/v1/tickets", opening(member, button))
        assert reply[0] == 200, reply
        channels.append(reply[1]["ticket"]["channelId"])
        clock.advance(21)
    await call(app, "POST", "/api/v1/tickets", opening(world.members[1].id))
    await call(app, "POST", f"/api/v1/tickets/{channels[0]}/close")
    seen: list[str] = []
    cursor = None
    while True:
        query = f"?userId={member}&limit=2" + (f"&cursor={cursor}" if cursor else "")
        status, body, _ = await call(app, "GET", "/api/v1/tickets" + query)
        assert status == 200
        seen += [t["channelId"] for t in body["tickets"]]
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert seen == channels[::-1]  # newest first, each once
    only_open = await call(app, "GET", f"/api/v1/tickets?userId={member}&status=open")
    assert [t["channelId"] for t in only_open[1]["tickets"]] == channels[:0:-1]
    closed = await call(app, "GET", f"/api/v1/tickets?userId={member}&status=closed,archived")
    assert [t["channelId"] for t in closed[1]["tickets"]] == [channels[0]]
    for query, field in (
        ("?status=open", "userId"),
        (f"?userId={member}&status=gone", "status"),
        (f"?userId={member}&limit=0", "limit"),
        (f"?userId={member}&cursor=nonsense", "cursor"),
        (f"?userId={member}&sort=asc", "sort"),
    ):
        reply = await call(app, "GET", "/api/v1/tickets" + query)
        assert (reply[0], reply[1]["error"]["field"]) == (400, field), query


# -- Answers from memory, never stale -------------------------------------------------------------


async def test_a_change_from_another_process_counts_from_the_next_request(
    app: Rimpllee, world: SandboxWorld, tmp_path: Path
) -> None:
    """Keys, panels and limit facts are answered from memory while nothing commits; the CLI
    committing in another process empties that memory for the very next request."""
    from tests.conftest import run_cli

    member = world.members[0].id
    database = ["--guild", str(world.guild.id), "--database", str(app.config.database.path)]
    assert (await call(app, "POST", "/api/v1/tickets", opening(member)))[0] == 200
    for _ in range(3):  # the same refusal, from memory after the first
        assert code(await call(app, "POST", "/api/v1/tickets", opening(member))) == "rate_limited"
    done = await run_cli("blacklist", "add", *database, "--user", str(member), cwd=tmp_path)
    assert done[0] == 0
    assert code(await call(app, "POST", "/api/v1/tickets", opening(member))) == "blacklisted"
    assert (await call(app, "GET", "/api/v1/panels"))[0] == 200
    assert (await run_cli("apikey", "revoke", *database, cwd=tmp_path))[0] == 0
    revoked = await call(app, "GET", "/api/v1/panels")
    assert (revoked[0], code(revoked)) == (401, "invalid_api_key")


async def test_a_refusal_asked_again_counts_down_exactly_as_worked_out_afresh(
    app: Rimpllee, world: SandboxWorld, clock: FakeClock
) -> None:
    """A refused open asked again is answered from memory, and that answer is the one working
    it out again would give: its waits tick down at the same instants, to the open."""
    refusals = app.refusals
    assert refusals is not None
    member = world.members[0].id
    assert (await call(app, "POST", "/api/v1/tickets", opening(member)))[0] == 200
    opened_at, repeated = clock.now, refusals.repeated
    for at in (0.0, 0.25, 0.999, 1.0, 1.5, 7.0, 19.0, 19.5, 19.999):
        clock.now = opened_at + at
        user_wait, server_reset = math.ceil(20 - at), math.ceil(60 - at)
        first = await call(app, "POST", "/api/v1/tickets", opening(member))
        again = await call(app, "POST", "/api/v1/tickets", opening(member))
        for reply in (first, again):
            assert (reply[0], code(reply)) == (429, "rate_limited"), at
            assert reply[1]["error"]["retryAfter"] == user_wait, at
            assert reply[1]["error"]["message"].endswith(f"retry in {user_wait} s"), at
            assert reply[2]["Retry-After"] == str(user_wait), at
            assert reply[2]["RateLimit"] == (
                f'"server";r=29;t={server_reset}, "user";r=0;t={user_wait}'
            ), at
        assert first[2]["X-Request-Id"] != again[2]["X-Request-Id"]
    assert refusals.repeated - repeated >= 9  # every second asking, at least, came from memory
    clock.now = opened_at + 20.0  # the cooldown's very end: the same bytes open
    assert (await call(app, "POST", "/api/v1/tickets", opening(member)))[0] == 200
    assert app.requests is not None
    logged = await app.requests.recent(world.guild.id, 20)
    assert [r.status for r in logged].count(429) == 18  # each asking logged as its own


async def test_a_kept_refusal_gives_way_at_once_to_what_it_rested_on(
    app: Rimpllee, world: SandboxWorld, emulator: DiscordEmulator
) -> None:
    """The member leaving (a gateway event) or the ticket closing (a commit) ends a kept
    refusal for the very next request."""
    member, leaver = world.members[0].id, world.members[1].id
    first = await call(app, "POST", "/api/v1/tickets", opening(member, HELP_BUTTON_ID))
    channel = first[1]["ticket"]["channelId"]
    for _ in range(2):
        again = await call(app, "POST", "/api/v1/tickets", opening(member, HELP_BUTTON_ID))
        assert code(again) == "max_open_reached"
    closed = await call(app, "POST", f"/api/v1/tickets/{channel}/close", {"reason": "done"})
    assert closed[0] == 200
    after = await call(app, "POST", "/api/v1/tickets", opening(member, HELP_BUTTON_ID))
    assert code(after) == "rate_limited"  # no open ticket now; the cooldown since the first
    left = await call(app, "POST", "/api/v1/tickets", opening(leaver))
    closing = f"/api/v1/tickets/{left[1]['ticket']['channelId']}/close"
    assert (await call(app, "POST", closing, {"reason": "done"}))[0] == 200
    for _ in range(2):  # nothing of theirs is open, so nothing commits when they leave
        assert code(await call(app, "POST", "/api/v1/tickets", opening(leaver))) == "rate_limited"
    await emulator.member_leave(world.guild.id, leaver)
    async with asyncio.timeout(5):
        while app.discord.members.get(world.guild.id, leaver) is not None:
            await asyncio.sleep(0.01)
    gone = await call(app, "POST", "/api/v1/tickets", opening(leaver))
    assert (gone[0], code(gone)) == (400, "user_not_member")


async def test_a_kept_refusal_ends_when_the_clock_steps_back(
    app: Rimpllee, world: SandboxWorld, clock: FakeClock
) -> None:
    """An answer holds from the instant it was worked out for: a clock set back (an NTP step)
    gets the answer for the time it now says."""
    member = world.members[0].id
    assert (await call(app, "POST", "/api/v1/tickets", opening(member)))[0] == 200
    clock.advance(10)
    for _ in range(2):
        assert (await call(app, "POST", "/api/v1/tickets", opening(member)))[2][
            "Retry-After"
        ] == "10"
    clock.advance(-5)
    back = await call(app, "POST", "/api/v1/tickets", opening(member))
    assert back[2]["Retry-After"] == "15"
    assert back[2]["RateLimit"] == '"server";r=29;t=55, "user";r=0;t=15'
