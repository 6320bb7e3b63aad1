"""The public API's contract, end to end: real HTTP to the real bot, the bot to the emulator."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import Rimpllee
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import (
    DEMO_API_KEY,
    DEMO_PANEL_ID,
    HELP_BUTTON_ID,
    HELP_QUESTION,
    SandboxWorld,
)
from bot.sandbox.state import (
    ATTACH_FILES,
    EMBED_LINKS,
    GUILD_CATEGORY,
    MANAGE_MESSAGES,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    VIEW_CHANNEL,
)
from bot.store.tickets import SqliteTicketStore
from tests.conftest import FakeClock, LoopErrors, running
from tests.helpers import AUTH, cut_short_opens, error, post, ticket

pytestmark = pytest.mark.asyncio

OPENER = VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY | ATTACH_FILES | EMBED_LINKS


async def test_open_creates_the_channel_and_welcome_in_exactly_two_rest_calls(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    member = world.members[0]
    before = len(emulator.requests)
    status, body, _ = await post(app, ticket(member.id, HELP_BUTTON_ID))
    assert status == 200
    channel_id = int(body["ticket"]["channelId"])
    assert body == {
        "ok": True,
        "ticket": {
            "channelId": str(channel_id),
            "url": f"https://discord.com/channels/{world.guild.id}/{channel_id}",
        },
    }
    calls = [(r.method, r.route) for r in emulator.requests[before:]]
    assert calls == [
        ("POST", "/guilds/{guild_id}/channels"),
        ("POST", "/channels/{channel_id}/messages"),
    ]
    channel = emulator.state.channels[channel_id]
    assert channel.name == "ticket-0001"
    assert channel.parent_id == world.category_id
    ow = channel.overwrites
    assert ow[world.guild.id].deny == VIEW_CHANNEL
    assert ow[world.guild.id].allow == 0
    assert ow[member.id].allow == OPENER
    assert ow[world.support_role_id].allow == OPENER | MANAGE_MESSAGES
    assert ow[emulator.state.bot.id].allow & VIEW_CHANNEL
    # The opener and support see it; another member does not.
    guild = world.guild
    assert guild.permissions(member.id, channel) & VIEW_CHANNEL
    assert guild.permissions(world.admin.id, channel) & VIEW_CHANNEL
    assert not guild.permissions(world.members[1].id, channel) & VIEW_CHANNEL
    (welcome,) = emulator.state.messages[channel_id].values()
    assert welcome.content == f"<@{member.id}> <@&{world.support_role_id}>"
    assert welcome.allowed_mentions == {
        "parse": [],
        "users": [str(member.id)],
        "roles": [str(world.support_role_id)],
    }
    (embed,) = welcome.embeds
    assert embed["fields"] == [{"name": HELP_QUESTION, "value": "Refund request", "inline": False}]
    (row,) = welcome.components
    (close,) = row["components"]
    assert close["label"] == "Close"
    assert close["custom_id"].startswith("rmp:close:")
    assert app.db is not None
    (row_ticket,) = await SqliteTicketStore(app.db).tickets(world.guild.id)
    assert row_ticket.state == "open"
    assert row_ticket.channel_id == channel_id
    assert row_ticket.source == "api"


async def test_both_header_forms_authenticate(
    app: Rimpllee, world: SandboxWorld, clock: FakeClock
) -> None:
    bearer = await post(app, ticket(world.members[0].id))
    keyed = await post(app, ticket(world.members[1].id), headers={"x-api-key": DEMO_API_KEY})
    assert bearer[0] == keyed[0] == 200


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_api_key"),
        ({"Authorization": f"Basic {DEMO_API_KEY}"}, "invalid_authorization_header"),
        ({"Authorization": "Bearer "}, "missing_api_key"),
        ({"x-api-key": ""}, "missing_api_key"),
        ({"x-api-key": "rmp_short"}, "malformed_api_key"),
        ({"x-api-key": "sk_" + "a" * 43}, "malformed_api_key"),
        ({"Authorization": "Bearer rmp_" + "a" * 43}, "invalid_api_key"),
    ],
)
async def test_401_for_every_bad_credential(
    app: Rimpllee, world: SandboxWorld, headers: dict[str, str], code: str
) -> None:
    reply = await post(app, ticket(world.members[0].id), headers=headers)
    assert reply[0] == 401
    assert error(reply)["code"] == code
    assert reply[2]["WWW-Authenticate"].startswith("Bearer")


async def test_regenerate_and_revoke_take_effect_on_the_next_request(
    app: Rimpllee, world: SandboxWorld, clock: FakeClock
) -> None:
    from bot.core.admin import ApiKeys
    from bot.store.admin import SqliteKeyStore

    assert app.db is not None
    service = ApiKeys(SqliteKeyStore(app.db), clock)
    new_key = await service.regenerate(world.guild.id)
    old = await post(app, ticket(world.members[0].id))
    assert old[0] == 401
    assert error(old)["code"] == "invalid_api_key"
    fresh = await post(app, ticket(world.members[0].id), headers={"x-api-key": new_key})
    assert fresh[0] == 200
    await service.revoke(world.guild.id)
    revoked = await post(app, ticket(world.members[1].id), headers={"x-api-key": new_key})
    assert revoked[0] == 401


async def test_failed_auth_is_rate_limited_per_client(
    app: Rimpllee, world: SandboxWorld, clock: FakeClock
) -> None:
    bad = {"x-api-key": "rmp_" + "b" * 43}
    for _ in range(10):
        assert (await post(app, ticket(world.members[0].id), headers=bad))[0] == 401
    throttled = await post(app, ticket(world.members[0].id), headers=bad)
    assert throttled[0] == 429
    err = error(throttled)
    assert err["code"] == "too_many_auth_failures"
    assert err["scope"] == "client"
    assert throttled[2]["Retry-After"] == str(err["retryAfter"])
    malformed = await post(app, ticket(world.members[0].id), headers={"x-api-key": "nope"})
    assert error(malformed)["code"] == "too_many_auth_failures"
    # A valid key always passes, so one bad client behind a shared proxy can't lock others out.
    assert (await post(app, ticket(world.members[0].id)))[0] == 200
    clock.advance(61)
    assert (await post(app, ticket(world.members[1].id), headers=bad))[0] == 401


async def test_503_while_the_bot_is_starting(app: Rimpllee, world: SandboxWorld) -> None:
    app.ready = False
    reply = await post(app, ticket(world.members[0].id))
    assert reply[0] == 503
    assert error(reply)["code"] == "not_ready"
    assert reply[2]["Retry-After"] == "5"
    app.ready = True
    assert (await post(app, ticket(world.members[0].id)))[0] == 200


async def test_deeply_nested_json_is_a_400(app: Rimpllee) -> None:
    reply = await post(
        app, None, raw=b"[" * 60_000, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert reply[0] == 400
    assert error(reply)["code"] == "invalid_json"


async def test_answers_too_long_for_the_welcome_are_a_400_before_discord(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld, clock: FakeClock
) -> None:
    from bot.core.panels import PanelService
    from bot.store.panels import SqlitePanelStore

    assert app.db is not None
    panels = PanelService(SqlitePanelStore(app.db), app.discord.port, clock)
    button = await panels.add_button(
        world.guild.id, DEMO_PANEL_ID, label="Long form", welcome_text="w" * 2000
    )
    labels = []
    for i in range(5):
        question = await panels.add_question(
            world.guild.id, button.button_id, label=f"Question {i}", style="paragraph"
        )
        labels.append(question.label)
    before = len(emulator.requests)
    answers = [{"label": label, "value": "v" * 900} for label in labels]
    reply = await post(app, {**ticket(world.members[0].id, button.button_id), "answers": answers})
    assert reply[0] == 400
    assert error(reply)["code"] == "answers_too_long"
    assert len(emulator.requests) == before  # refused before Discord was asked anything


@pytest.mark.parametrize(
    ("raw", "content_type", "code", "field"),
    [
        (b"{not json", "application/json", "invalid_json", "body"),
        (b"[1, 2]", "application/json", "invalid_body", "body"),
        (b'"text"', "application/json", "invalid_body", "body"),
        (b'{"userId": "1"}', "text/plain", "invalid_content_type", "body"),
        (b'{"userId": "1"}', "application/x-www-form-urlencoded", "invalid_content_type", "body"),
    ],
)
async def test_400_for_a_body_that_is_not_a_json_object(
    app: Rimpllee, raw: bytes, content_type: str, code: str, field: str
) -> None:
    reply = await post(app, None, raw=raw, headers={**AUTH, "Content-Type": content_type})
    assert reply[0] == 400
    err = error(reply)
    assert err["code"] == code
    assert err["field"] == field


FIELD_CASES: list[tuple[dict[str, Any], str, str, str]] = [
    ({"userId": 123456789012345678}, "invalid_field", "userId", "string"),
    ({"userId": "12ab"}, "invalid_field", "userId", "digits"),
    ({"userId": ""}, "invalid_field", "userId", "digits"),
    ({"userId": None}, "invalid_field", "userId", "null"),
    ({"userId": "99999999999999999999999"}, "invalid_field", "userId", "digits"),
    ({"panelId": ""}, "invalid_field", "panelId", "non-empty"),
    ({"buttonId": 7}, "invalid_field", "buttonId", "number"),
    ({"answers": {"label": "x"}}, "invalid_field", "answers", "array"),
    ({"answers": ["text"]}, "invalid_field", "answers[0]", "object"),
    ({"answers": [{"label": "x"}]}, "invalid_field", "answers[0].value", "string"),
    ({"answers": [{"label": "", "value": "v"}]}, "invalid_field", "answers[0].label", "1 to 256"),
    ({"answers": [{"label": "x" * 257, "value": "v"}]}, "invalid_field", "answers[0].label", ""),
    ({"answers": [{"label": "l", "value": "v" * 1025}]}, "invalid_field", "answers[0].value", ""),
    ({"answers": [{"label": "l", "value": "v", "x": 1}]}, "invalid_field", "answers[0]", "x"),
    (
        {"answers": [{"label": f"l{i}", "value": "v"} for i in range(26)]},
        "invalid_field",
        "answers",
        "25",
    ),
    ({"userID": "1"}, "unknown_field", "userID", "did you mean 'userId'"),
    ({"priority": "high"}, "unknown_field", "priority", "priority"),
]


@pytest.mark.parametrize(("change", "code", "field", "says"), FIELD_CASES)
async def test_400_names_the_field_at_fault(
    app: Rimpllee,
    world: SandboxWorld,
    change: dict[str, Any],
    code: str,
    field: str,
    says: str,
) -> None:
    reply = await post(app, {**ticket(world.members[0].id), **change})
    assert reply[0] == 400
    err = error(reply)
    assert (err["code"], err["field"]) == (code, field)
    assert says in err["message"]


@pytest.mark.parametrize("missing", ["userId", "panelId", "buttonId"])
async def test_400_for_a_missing_required_field(
    app: Rimpllee, world: SandboxWorld, missing: str
) -> None:
    body = ticket(world.members[0].id)
    del body[missing]
    reply = await post(app, body)
    assert reply[0] == 400
    assert (error(reply)["code"], error(reply)["field"]) == ("missing_field", missing)


async def test_400_for_answers_that_do_not_fit_the_buttons_questions(
    app: Rimpllee, world: SandboxWorld
) -> None:
    user = world.members[0].id
    missing = await post(app, {**ticket(user, HELP_BUTTON_ID), "answers": []})
    assert error(missing)["code"] == "missing_answer"
    assert HELP_QUESTION in error(missing)["message"]
    unknown = await post(
        app, {**ticket(user, HELP_BUTTON_ID), "answers": [{"label": "Order?", "value": "1"}]}
    )
    assert error(unknown)["code"] == "unknown_question"
    assert error(unknown)["field"] == "answers[0].label"
    # Labels match case-insensitively, so a site need not copy the exact casing.
    relaxed = [{"label": HELP_QUESTION.upper(), "value": "Refund"}]
    ok = await post(app, {**ticket(user, HELP_BUTTON_ID), "answers": relaxed})
    assert ok[0] == 200


async def test_400_when_the_user_is_not_a_member(app: Rimpllee, world: SandboxWorld) -> None:
    reply = await post(app, ticket(424242424242424242))
    assert reply[0] == 400
    assert (error(reply)["code"], error(reply)["field"]) == ("user_not_member", "userId")


async def test_413_for_a_body_over_64_kib(app: Rimpllee, world: SandboxWorld) -> None:
    big = {**ticket(world.members[0].id), "answers": [{"label": "l", "value": "v" * 70_000}]}
    reply = await post(app, big)
    assert reply[0] == 413
    assert error(reply)["code"] == "body_too_large"


async def test_405_and_404_are_json(app: Rimpllee) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(app.http_url + "/api/v1/tickets", headers=AUTH) as resp:
            assert resp.status == 405
            assert (await resp.json())["error"]["code"] == "method_not_allowed"
        async with http.post(app.http_url + "/api/v1/ticket", headers=AUTH) as resp:
            assert resp.status == 404
            assert (await resp.json())["error"]["code"] == "not_found"


async def test_403_for_a_blacklisted_user(app: Rimpllee, world: SandboxWorld) -> None:
    reply = await post(app, ticket(world.blacklisted.id))
    assert reply[0] == 403
    assert error(reply)["code"] == "blacklisted"


async def test_404_for_unknown_panel_or_button(app: Rimpllee, world: SandboxWorld) -> None:
    user = world.members[0].id
    panel = await post(app, ticket(user, panelId="pnl_nope"))
    assert panel[0] == 404
    assert (error(panel)["code"], error(panel)["field"]) == ("panel_not_found", "panelId")
    button = await post(app, ticket(user, buttonId="btn_nope"))
    assert button[0] == 404
    assert (error(button)["code"], error(button)["field"]) == ("button_not_found", "buttonId")


async def test_another_servers_panel_is_not_found(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld, clock: FakeClock
) -> None:
    from bot.core.admin import ApiKeys
    from bot.store.admin import SqliteKeyStore

    assert app.db is not None
    other_key = await ApiKeys(SqliteKeyStore(app.db), clock).generate(world.guild.id + 1)
    reply = await post(app, ticket(world.members[0].id), headers={"x-api-key": other_key})
    assert reply[0] == 404
    assert error(reply)["code"] == "panel_not_found"


async def test_a_server_the_bot_left_is_a_500_that_says_so(
    app: Rimpllee, world: SandboxWorld, clock: FakeClock
) -> None:
    import dataclasses

    from bot.core.admin import ApiKeys
    from bot.sandbox.runner import demo_panel
    from bot.store.admin import SqliteKeyStore
    from bot.store.panels import save_panel

    assert app.db is not None
    gone = world.guild.id + 7
    panel = dataclasses.replace(demo_panel(world), guild_id=gone, panel_id="pnl_elsewhere")
    panel = dataclasses.replace(
        panel,
        buttons=tuple(
            dataclasses.replace(b, panel_id="pnl_elsewhere", button_id=f"btn_x{i}", questions=())
            for i, b in enumerate(panel.buttons)
        ),
    )
    await save_panel(app.db, panel, clock())
    key = await ApiKeys(SqliteKeyStore(app.db), clock).generate(gone)
    body = {"userId": str(world.members[0].id), "panelId": "pnl_elsewhere", "buttonId": "btn_x1"}
    reply = await post(app, body, headers={"x-api-key": key})
    assert reply[0] == 500
    assert "the bot is not in server" in error(reply)["message"]


async def test_409_button_limit_names_the_open_channel(
    app: Rimpllee, world: SandboxWorld, clock: FakeClock
) -> None:
    user = world.members[0].id
    first = await post(app, ticket(user, HELP_BUTTON_ID))
    second = await post(app, ticket(user, HELP_BUTTON_ID))
    assert second[0] == 409
    err = error(second)
    assert err["code"] == "max_open_reached"
    assert (err["limit"], err["max"]) == ("button", 1)
    assert err["channelId"] == first[1]["ticket"]["channelId"]


async def test_409_server_limit_per_user(
    app: Rimpllee, world: SandboxWorld, clock: FakeClock
) -> None:
    user = world.members[0].id
    assert (await post(app, ticket(user, HELP_BUTTON_ID)))[0] == 200
    for _ in range(2):
        clock.advance(21)
        assert (await post(app, ticket(user)))[0] == 200
    clock.advance(21)
    reply = await post(app, ticket(user))
    assert reply[0] == 409
    assert (error(reply)["limit"], error(reply)["max"]) == ("server", 3)


async def test_429_user_cooldown_then_allowed(
    app: Rimpllee, world: SandboxWorld, clock: FakeClock
) -> None:
    user = world.members[0].id
    assert (await post(app, ticket(user)))[0] == 200
    clock.advance(5.5)
    reply = await post(app, ticket(user))
    assert reply[0] == 429
    err = error(reply)
    assert (err["code"], err["scope"], err["retryAfter"]) == ("rate_limited", "user", 15)
    assert reply[2]["Retry-After"] == "15"
    clock.advance(14.5)
    assert (await post(app, ticket(user)))[0] == 200


async def test_429_server_rate_limit_rolls_with_the_window(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld, clock: FakeClock
) -> None:
    await add_members(app, emulator, world, 25)
    users = [m.id for m in world.members[:-1]]
    for user in users[:30]:
        assert (await post(app, ticket(user)))[0] == 200
        clock.advance(1)
    reply = await post(app, ticket(users[30]))
    assert reply[0] == 429
    err = error(reply)
    assert (err["scope"], err["retryAfter"]) == ("server", 30)
    clock.advance(30)
    assert (await post(app, ticket(users[30])))[0] == 200


async def add_members(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld, count: int
) -> None:
    """Members joining while the bot runs: GUILD_MEMBER_ADD over the gateway fills its index."""
    state = emulator.state
    for i in range(count):
        user = state.add_user(f"joined{i:04d}")
        await emulator.member_join(world.guild.id, user)
        world.members.insert(-1, user)
    index = app.discord.members
    async with asyncio.timeout(10):
        while index.get(world.guild.id, world.members[-2].id) is None:
            await asyncio.sleep(0.01)


async def assert_nothing_left(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld, before: int
) -> None:
    assert len(world.guild.channels) == before
    assert app.db is not None
    assert await SqliteTicketStore(app.db).tickets(world.guild.id) == []


@pytest.mark.parametrize(
    ("route", "status", "code", "says"),
    [
        ("/guilds/{guild_id}/channels", 403, 50013, "lacks permissions in category 'Tickets'"),
        ("/guilds/{guild_id}/channels", 403, 50001, "cannot see category 'Tickets'"),
        ("/guilds/{guild_id}/channels", 500, 0, "Discord answered 500"),
        ("/channels/{channel_id}/messages", 403, 50013, "welcome message"),
        ("/channels/{channel_id}/messages", 502, 0, "Discord answered 502"),
    ],
)
async def test_discord_failure_is_500_naming_the_cause_and_leaves_nothing(
    app: Rimpllee,
    emulator: DiscordEmulator,
    world: SandboxWorld,
    route: str,
    status: int,
    code: int,
    says: str,
) -> None:
    before = len(world.guild.channels)
    emulator.inject_fault("POST", route, status, code=code)
    reply = await post(app, ticket(world.members[0].id))
    assert reply[0] == 500
    err = error(reply)
    assert err["code"] == "discord_error"
    assert says in err["message"]
    await assert_nothing_left(app, emulator, world, before)
    # No budget was spent: the same user may open at once (no cooldown), as ticket #1 again
    # or the next number; either way it works.
    assert (await post(app, ticket(world.members[0].id)))[0] == 200


async def test_a_full_category_is_named(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    category = emulator.state.channels[world.category_id]
    assert category.type == GUILD_CATEGORY
    for i in range(50):
        emulator.state.add_channel(world.guild, f"old-{i}", parent_id=category.id)
    before = len(world.guild.channels)
    reply = await post(app, ticket(world.members[0].id))
    assert reply[0] == 500
    assert "is full (50 channels)" in error(reply)["message"]
    await assert_nothing_left(app, emulator, world, before)


async def test_100_parallel_opens_for_one_user_create_one_channel(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    before = len(world.guild.channels)
    async with aiohttp.ClientSession() as http:
        replies = await asyncio.gather(
            *(
                post(app, ticket(world.members[0].id, HELP_BUTTON_ID), session=http)
                for _ in range(100)
            )
        )
    # Those that overlap the first open share its answer; later ones find the ticket open.
    assert {r[0] for r in replies} <= {200, 409}
    channels = {r[1]["ticket"]["channelId"] for r in replies if r[0] == 200}
    channels |= {error(r)["channelId"] for r in replies if r[0] == 409}
    assert len(channels) == 1
    assert len(world.guild.channels) == before + 1


async def test_1000_parallel_opens_for_1000_members_create_exactly_30(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    await add_members(app, emulator, world, 1000)
    before = len(world.guild.channels)
    users = [m.id for m in world.members[:-1]][:1000]
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as http:
        replies = await asyncio.gather(*(post(app, ticket(u), session=http) for u in users))
    statuses = [r[0] for r in replies]
    assert statuses.count(200) == 30
    assert statuses.count(429) == 970
    assert {error(r)["scope"] for r in replies if r[0] == 429} == {"server"}
    assert len(world.guild.channels) == before + 30


async def test_startup_reconciles_tickets_a_crash_left_opening(
    emulator: DiscordEmulator,
    world: SandboxWorld,
    tmp_path: Path,
    clock: FakeClock,
    loop_errors: LoopErrors,
) -> None:
    database = tmp_path / "crash.db"
    survivor = emulator.state.add_channel(world.guild, "ticket-0001", parent_id=world.category_id)
    tickets = await cut_short_opens(
        database,
        world,
        world.members[:3],
        clock(),
        # the first's channel made, then the crash; the second's is gone from Discord since
        recorded=[survivor.id, 999_999],
    )

    async with running(emulator, database, loop_errors) as app:
        assert app.db is not None
        rows = await SqliteTicketStore(app.db).tickets(world.guild.id)
        assert [(t.ticket_id, t.state) for t in rows] == [(tickets[0].ticket_id, "open")]


async def test_without_the_members_intent_membership_costs_one_rest_call(
    emulator: DiscordEmulator, world: SandboxWorld, tmp_path: Path, loop_errors: LoopErrors
) -> None:
    from bot.config import config_from_mapping
    from bot.sandbox.runner import seed_database

    database = tmp_path / "no-members.db"
    await seed_database(database, world)
    config = config_from_mapping(
        {
            "discord": {
                "token": emulator.token,
                "rest_url": emulator.rest_url,
                "intents": ["GUILDS", "GUILD_MESSAGES"],
            },
            "http": {"port": 0},
            "database": {"path": str(database)},
        },
        source=Path("<test>"),
        env={},
    )
    async with running(emulator, database, loop_errors, config=config) as app:
        before = len(emulator.requests)
        assert (await post(app, ticket(world.members[0].id)))[0] == 200
        routes = [r.route for r in emulator.requests[before:]]
        assert routes == [
            "/guilds/{guild_id}/members/{user_id}",
            "/guilds/{guild_id}/channels",
            "/channels/{channel_id}/messages",
        ]
        stranger = await post(app, ticket(424242424242424242))
        assert error(stranger)["code"] == "user_not_member"


async def test_behind_a_trusted_proxy_each_client_has_its_own_auth_limit(
    emulator: DiscordEmulator, world: SandboxWorld, tmp_path: Path, loop_errors: LoopErrors
) -> None:
    import dataclasses

    from bot.sandbox.runner import sandbox_config, seed_database

    database = tmp_path / "proxied.db"
    await seed_database(database, world)
    base = sandbox_config(emulator, http_port=0, database=database)
    config = dataclasses.replace(
        base, http=dataclasses.replace(base.http, trusted_proxies=("127.0.0.1",))
    )
    bad = "rmp_" + "b" * 43
    async with running(emulator, database, loop_errors, config=config) as app:
        for _ in range(10):
            headers = {"x-api-key": bad, "X-Forwarded-For": "198.51.100.1, 203.0.113.7"}
            assert (await post(app, ticket(world.members[0].id), headers=headers))[0] == 401
        noisy = {"x-api-key": bad, "X-Forwarded-For": "203.0.113.7"}
        assert error(await post(app, ticket(1), headers=noisy))["code"] == "too_many_auth_failures"
        other = {"x-api-key": bad, "X-Forwarded-For": "203.0.113.8"}
        assert error(await post(app, ticket(1), headers=other))["code"] == "invalid_api_key"
