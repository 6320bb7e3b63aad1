"""The dashboard over real HTTP: Discord login through the emulator, sessions, CSRF, who may do
what, and every key, blacklist and settings action through the same services as the commands."""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from bot.app import Rimpllee
from bot.config import Config, config_from_mapping
from bot.core.integrations import KEPT_PER_SERVER, ApiRequestLog
from bot.core.sessions import SESSION_TTL_S
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.oauth import SANDBOX_CLIENT_SECRET
from bot.sandbox.runner import DEMO_API_KEY, SandboxWorld, offer_logins
from bot.store import Database
from bot.store.settings import SqliteSettingsStore
from bot.store.web import SqliteApiRequestStore
from tests.conftest import FakeClock, LoopErrors, running
from tests.dashboard_client import Browserless, Page

pytestmark = pytest.mark.asyncio

KEY_RE = re.compile(r'id="new-key" class="secret">(rmp_[A-Za-z0-9_-]{43})<')


@pytest_asyncio.fixture
async def visitor(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> AsyncIterator[Browserless]:
    offer_logins(emulator, world, app.public_url)
    person = Browserless(app, emulator)
    yield person
    await person.close()


def integrations(world: SandboxWorld) -> str:
    return f"/servers/{world.guild.id}/integrations"


async def api_open(app: Rimpllee, key: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            app.http_url + "/api/v1/tickets",
            json=body,
            headers={"Authorization": f"Bearer {key}"},
        ) as resp,
    ):
        return resp.status, await resp.json()


def report_ticket(user_id: int) -> dict[str, Any]:
    return {"userId": str(user_id), "panelId": "pnl_demo", "buttonId": "btn_report"}


async def test_admin_logs_in_and_sees_their_server(
    visitor: Browserless, world: SandboxWorld
) -> None:
    landing = await visitor.get("/")
    assert landing.status == 200
    assert "Log in with Discord" in landing.text
    done = await visitor.login(world.admin.id)
    assert done.status == 303
    assert done.headers["Location"] == "/"
    cookie = done.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # the public URL is http://
    picker = await visitor.get("/")
    assert world.admin.username in picker.text
    assert f'href="/servers/{world.guild.id}/integrations"' in picker.text
    assert world.guild.name in picker.text


async def test_the_authorize_url_is_the_emulators_with_state_and_redirect(
    visitor: Browserless, app: Rimpllee, emulator: DiscordEmulator
) -> None:
    url = await visitor.authorize_url()
    assert url.startswith(visitor.discord + "/oauth2/authorize?")
    assert f"client_id={emulator.state.application_id}" in url
    assert "redirect_uri=" + app.public_url.replace(":", "%3A").replace("/", "%2F") in url
    assert "state=" in url


async def test_a_state_works_once_and_a_forged_one_never(
    visitor: Browserless, world: SandboxWorld
) -> None:
    callback = await visitor.approve(await visitor.authorize_url(), world.admin.id)
    forged = re.sub(r"state=[^&]+", "state=forged", callback)
    refused = await visitor.callback(forged)
    assert refused.status == 400
    assert "expired or was already used" in refused.text
    assert (await visitor.callback(callback)).status == 303
    replay = await visitor.callback(callback)
    assert replay.status == 400
    assert "Set-Cookie" not in replay.headers


async def test_a_callback_only_works_in_the_browser_that_started_the_login(
    visitor: Browserless, world: SandboxWorld, app: Rimpllee, emulator: DiscordEmulator
) -> None:
    # Someone starts a login as themselves and sends the callback link to a victim, who would
    # then be logged in as them: the victim's browser never started that login.
    callback = await visitor.approve(await visitor.authorize_url(), world.plain_member.id)
    victim = Browserless(app, emulator)
    try:
        refused = await victim.callback(callback)
        assert refused.status == 400
        assert "Set-Cookie" not in refused.headers
    finally:
        await victim.close()


async def test_a_code_is_used_once_at_discord(
    visitor: Browserless, world: SandboxWorld, emulator: DiscordEmulator
) -> None:
    callback = await visitor.approve(await visitor.authorize_url(), world.admin.id)
    code = re.search(r"code=([^&]+)", callback)
    assert code is not None
    # Someone else redeems the code first (with a fresh state of their own).
    other = await visitor.authorize_url()
    state = re.search(r"state=([^&]+)", other)
    assert state is not None
    stolen = re.sub(r"state=[^&]+", f"state={state.group(1)}", callback)
    assert (await visitor.callback(stolen)).status == 303
    # The login that got the code first tries it: Discord refuses a used code.
    again = await visitor.login(world.admin.id)  # a fresh flow still works
    assert again.status == 303
    refused = await visitor.callback(
        re.sub(r"state=[^&]+", "state=" + _state(await visitor.authorize_url()), callback)
    )
    assert refused.status == 400
    assert "Login failed" in refused.text
    tokens = [r for r in emulator.requests if r.route == "/oauth2/token"]
    assert [r.status for r in tokens] == [200, 200, 400]


def _state(authorize_url: str) -> str:
    found = re.search(r"state=([^&]+)", authorize_url)
    assert found is not None
    return found.group(1)


async def test_after_login_only_a_local_path_is_followed(
    visitor: Browserless, world: SandboxWorld
) -> None:
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:1"):
        done = await visitor.login(world.admin.id, next_path=evil)
        assert done.headers["Location"] == "/", evil
    done = await visitor.login(world.admin.id, next_path=integrations(world))
    assert done.headers["Location"] == integrations(world)


async def test_a_page_asks_for_login_and_comes_back_to_it(
    visitor: Browserless, world: SandboxWorld
) -> None:
    page = await visitor.get(integrations(world))
    assert page.status == 303
    assert page.headers["Location"].startswith("/login?next=%2Fservers%2F")
    done = await visitor.callback(
        await visitor.approve(await visitor.authorize_url(integrations(world)), world.admin.id)
    )
    assert done.headers["Location"] == integrations(world)


async def test_a_plain_member_sees_no_admin_page(visitor: Browserless, world: SandboxWorld) -> None:
    await visitor.login(world.plain_member.id)
    picker = await visitor.get("/")
    assert picker.status == 200
    assert world.guild.name not in picker.text
    assert "No server to manage" in picker.text
    for path in ("integrations", "blacklist", "settings"):
        page = await visitor.get(f"/servers/{world.guild.id}/{path}")
        assert page.status == 403, path
        assert "Manage Server" in page.text
        assert page.headers["Content-Type"].startswith("text/html")
    page = await visitor.get(integrations(world))
    refused = await visitor.post(
        f"/servers/{world.guild.id}/integrations/revoke", {"csrf": page.csrf, "confirm": "yes"}
    )
    assert refused.status == 403
    status, _ = await api_open_demo(visitor, world)
    assert status == 200  # the key was not revoked


async def api_open_demo(visitor: Browserless, world: SandboxWorld) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            visitor.base + "/api/v1/tickets",
            json=report_ticket(world.members[3].id),
            headers={"x-api-key": DEMO_API_KEY},
        ) as resp,
    ):
        return resp.status, await resp.json()


async def test_a_support_member_without_manage_server_is_refused_too(
    visitor: Browserless, world: SandboxWorld
) -> None:
    await visitor.login(world.support_member.id)
    assert (await visitor.get(integrations(world))).status == 403


async def test_losing_manage_server_takes_effect_on_the_next_request(
    visitor: Browserless, world: SandboxWorld, emulator: DiscordEmulator, app: Rimpllee
) -> None:
    await visitor.login(world.admin.id)
    assert (await visitor.get(integrations(world))).status == 200
    # The Admins role is taken away: GUILD_MEMBER_UPDATE reaches the bot's member index.
    await emulator.member_update(world.guild.id, world.admin.id, roles=[world.support_role_id])
    members = app.discord.members

    def indexed_roles() -> tuple[int, ...]:
        entry = members.get(world.guild.id, world.admin.id)
        return entry.role_ids if entry else ()

    async with asyncio.timeout(5):
        while indexed_roles() != (world.support_role_id,):
            await asyncio.sleep(0.01)
    assert (await visitor.get(integrations(world))).status == 403
    assert world.guild.name not in (await visitor.get("/")).text


async def test_state_changes_without_the_csrf_token_are_refused(
    visitor: Browserless, world: SandboxWorld, app: Rimpllee
) -> None:
    await visitor.login(world.admin.id)
    path = f"/servers/{world.guild.id}/integrations/revoke"
    for form in ({"confirm": "yes"}, {"confirm": "yes", "csrf": "forged"}):
        refused = await visitor.post(path, form)
        assert refused.status == 403
        assert "CSRF" in refused.text
    assert (await api_open_demo(visitor, world))[0] == 200  # still the same key


async def test_generate_regenerate_revoke_with_the_api_and_the_log_channel(
    visitor: Browserless, world: SandboxWorld, app: Rimpllee, emulator: DiscordEmulator
) -> None:
    await visitor.login(world.admin.id)
    # A log channel, picked by name on the settings page.
    settings = await visitor.get(f"/servers/{world.guild.id}/settings")
    general = next(c for c in world.guild.channels.values() if c.name == "general")
    assert "#general" in settings.text
    saved = await visitor.post(
        f"/servers/{world.guild.id}/settings",
        {
            "csrf": settings.csrf,
            "log_channel_id": str(general.id),
            "close_mode": "delete",
            "opener_can_close": "on",
        },
    )
    assert saved.status == 303
    # The seeded key is revoked first (with confirmation), then a new one is generated.
    page = await visitor.get(integrations(world))
    confirm = await visitor.get(f"/servers/{world.guild.id}/integrations/revoke")
    assert "Revoke the API key?" in confirm.text
    revoked = await visitor.post(
        f"/servers/{world.guild.id}/integrations/revoke", {"csrf": page.csrf, "confirm": "yes"}
    )
    assert "API key revoked" in revoked.text
    assert (await api_open(app, DEMO_API_KEY, report_ticket(world.members[1].id)))[0] == 401
    generated = await visitor.post(
        f"/servers/{world.guild.id}/integrations/generate", {"csrf": page.csrf}
    )
    key = _key(generated)
    assert f"Bearer {key}" in html.unescape(generated.text)  # the curl is ready to paste
    assert generated.headers["Cache-Control"] == "no-store"
    again = await visitor.get(integrations(world))
    assert key not in again.text  # shown once
    assert key[:12] in again.text  # its display prefix
    status, body = await api_open(app, key, report_ticket(world.members[1].id))
    assert status == 200, body
    # Regenerate: the old key is refused from the next request, the new one works.
    unconfirmed = await visitor.post(
        f"/servers/{world.guild.id}/integrations/regenerate", {"csrf": page.csrf}
    )
    assert "Regenerate the API key?" in unconfirmed.text
    assert (await api_open(app, key, report_ticket(world.members[2].id)))[0] != 401
    new_key = _key(
        await visitor.post(
            f"/servers/{world.guild.id}/integrations/regenerate",
            {"csrf": page.csrf, "confirm": "yes"},
        )
    )
    assert (await api_open(app, key, report_ticket(world.members[4].id)))[0] == 401
    assert (await api_open(app, new_key, report_ticket(world.members[4].id)))[0] == 200
    await visitor.post(
        f"/servers/{world.guild.id}/integrations/revoke", {"csrf": page.csrf, "confirm": "yes"}
    )
    assert (await api_open(app, new_key, report_ticket(world.members[5].id)))[0] == 401
    # Every action is announced in the log channel, naming who did it.
    async with asyncio.timeout(5):
        while len(_log_lines(emulator, general.id)) < 4:
            await asyncio.sleep(0.01)
    lines = [line for line in _log_lines(emulator, general.id) if "API key" in line]
    assert len(lines) == 4
    assert all(f"<@{world.admin.id}>" in line for line in lines)
    assert [line.split("API key ")[1].split(" ")[0] for line in lines] == [
        "revoked:",
        "generated",
        "regenerated",
        "revoked:",
    ]


def _key(page: Page) -> str:
    found = KEY_RE.search(page.text)
    assert found is not None, page.text
    return found.group(1)


def _log_lines(emulator: DiscordEmulator, channel_id: int) -> list[str]:
    return [m.content for m in emulator.state.messages.get(channel_id, {}).values()]


async def test_the_page_lists_the_keys_requests_without_secrets(
    visitor: Browserless, world: SandboxWorld, app: Rimpllee, clock: FakeClock
) -> None:
    member = world.members[1]
    assert (await api_open(app, DEMO_API_KEY, report_ticket(member.id)))[0] == 200
    clock.advance(1)
    await api_open(app, DEMO_API_KEY, {**report_ticket(member.id), "panelId": "pnl_nope"})
    await api_open(app, "rmp_" + "x" * 43, report_ticket(member.id))  # not this server's key
    await visitor.login(world.admin.id)
    page = await visitor.get(integrations(world))
    rows = re.findall(r"<tr class=\"(ok|bad)\">(.*?)</tr>", page.text, re.S)
    cells = [re.findall(r"<td>(.*?)</td>", row) for _, row in rows]
    assert [c[1:6] for c in cells] == [  # then the request ID (tests/test_webhook_pages.py)
        ["404", "panel_not_found", str(member.id), "pnl_nope", "btn_report"],
        ["200", "", str(member.id), "pnl_demo", "btn_report"],
    ]
    assert "Last used" in page.text
    assert "2027-01-15 08:00:01 UTC" in page.text  # the clock's time of the last request
    assert DEMO_API_KEY not in page.text


async def test_the_request_log_keeps_the_last_200_per_server(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "log.db")
    try:
        clock = FakeClock()
        log = ApiRequestLog(SqliteApiRequestStore(db), clock)
        for i in range(KEPT_PER_SERVER + 25):
            clock.advance(1)
            log.record(1, 200, None, str(i), "pnl_a", "btn_a")
            if i == 10:
                await log.flush()  # one batch of 11, then one of 214 with server 2's
        log.record(2, 401, "x", None, None, None)
        kept = await log.recent(1)
        assert len(kept) == KEPT_PER_SERVER
        assert kept[0].user_id == str(KEPT_PER_SERVER + 24)  # newest first
        assert kept[-1].user_id == "25"
        assert len(await log.recent(2)) == 1
        log.record(1, 400, "invalid_field", "9" * 500, {"a": 1}, None)
        await log.drain()  # what shutdown does: nothing recorded is lost
        newest = (await ApiRequestLog(SqliteApiRequestStore(db)).recent(1, 1))[0]
        assert newest.user_id == "9" * 40
        assert newest.panel_id == "{'a': 1}"
        assert len(await log.recent(1)) == KEPT_PER_SERVER
    finally:
        await db.close()


async def newest_request_id(db: Database) -> int:
    row = await db.fetchone("SELECT max(request_id) AS n FROM api_requests")
    assert row is not None
    return int(row["n"])


async def test_a_flood_writes_at_most_the_kept_rows_per_server_per_batch(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "log.db")
    try:
        clock = FakeClock()
        log = ApiRequestLog(SqliteApiRequestStore(db), clock)
        log.record(1, 200, None, "first", None, None)
        await log.flush()
        first = await newest_request_id(db)
        for i in range(5 * KEPT_PER_SERVER):  # one batch: a flood between two flushes
            clock.advance(0.001)
            log.record(1, 429, "rate_limited", str(i), "pnl_a", "btn_a")
        log.record(2, 401, "invalid_api_key", None, None, None)
        await log.flush()
        last = await newest_request_id(db)
        assert last - first == KEPT_PER_SERVER + 1  # rows inserted: server 1's newest, server 2's
        kept = await log.recent(1)
        assert [r.user_id for r in kept] == [str(i) for i in reversed(range(800, 1000))]
        assert [r.error_code for r in await log.recent(2)] == ["invalid_api_key"]
    finally:
        await db.close()


async def test_blacklist_by_name_through_the_same_service(
    visitor: Browserless, world: SandboxWorld, app: Rimpllee
) -> None:
    await visitor.login(world.admin.id)
    target = world.members[6]
    page = await visitor.get(f"/servers/{world.guild.id}/blacklist")
    assert f'<option value="{target.id}">{target.username}</option>' in page.text
    added = await visitor.post(
        f"/servers/{world.guild.id}/blacklist/add",
        {"csrf": page.csrf, "user_id": str(target.id), "reason": "spam <b>"},
    )
    assert added.status == 303
    listed = await visitor.get(added.headers["Location"])
    assert "Added to the blacklist." in listed.text
    assert "spam &lt;b&gt;" in listed.text  # escaped
    status, body = await api_open(app, DEMO_API_KEY, report_ticket(target.id))
    assert (status, body["error"]["code"]) == (403, "blacklisted")
    not_a_member = await visitor.post(
        f"/servers/{world.guild.id}/blacklist/add", {"csrf": page.csrf, "user_id": "123"}
    )
    assert not_a_member.status == 400
    assert "pick a member from the list" in not_a_member.text
    removed = await visitor.post(
        f"/servers/{world.guild.id}/blacklist/remove",
        {"csrf": page.csrf, "user_id": str(target.id)},
    )
    assert removed.status == 303
    assert (await api_open(app, DEMO_API_KEY, report_ticket(target.id)))[0] == 200


async def test_settings_are_the_same_as_the_commands(
    visitor: Browserless, world: SandboxWorld, app: Rimpllee
) -> None:
    await visitor.login(world.admin.id)
    page = await visitor.get(f"/servers/{world.guild.id}/settings")
    assert "Tickets</option>" in page.text  # the category, by name
    form = {
        "csrf": page.csrf,
        "close_mode": "archive",
        "archive_category_id": str(world.category_id),
        "dm_transcript": "on",
        "user_max_open": "5",
    }
    assert (await visitor.post(f"/servers/{world.guild.id}/settings", form)).status == 303
    assert app.db is not None
    saved = await SqliteSettingsStore(app.db).get(world.guild.id)
    assert saved.close_mode == "archive"
    assert saved.archive_category_id == world.category_id
    assert saved.dm_transcript is True
    assert saved.opener_can_close is False
    assert saved.user_max_open == 5
    for bad, message in (
        ({"user_max_open": "99"}, "between 1 and 25"),
        ({"log_channel_id": str(world.category_id)}, "pick a channel from the list"),
        ({"close_mode": "delete"}, "only applies when closing archives"),
    ):
        refused = await visitor.post(f"/servers/{world.guild.id}/settings", form | bad)
        assert refused.status == 400, bad
        assert message in refused.text


async def test_logout_ends_the_session(visitor: Browserless, world: SandboxWorld) -> None:
    done = await visitor.login(world.admin.id)
    session_id = done.headers["Set-Cookie"].split("=", 1)[1].split(";", 1)[0]
    page = await visitor.get(integrations(world))
    out = await visitor.post("/logout", {"csrf": page.csrf})
    assert out.status == 303
    assert (
        "rimpllee_session=;" in out.headers["Set-Cookie"]
        or "Max-Age=0" in out.headers["Set-Cookie"]
    )
    # The old session ID no longer works even if a client kept it.
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            visitor.base + integrations(world),
            headers={"Cookie": f"rimpllee_session={session_id}"},
            allow_redirects=False,
        ) as resp,
    ):
        assert resp.status == 303
        assert resp.headers["Location"].startswith("/login")


async def test_a_session_expires(
    visitor: Browserless, world: SandboxWorld, clock: FakeClock
) -> None:
    await visitor.login(world.admin.id)
    assert (await visitor.get(integrations(world))).status == 200
    clock.advance(SESSION_TTL_S + 1)
    assert (await visitor.get(integrations(world))).status == 303


async def test_pages_carry_a_strict_policy_and_unknown_pages_are_html(
    visitor: Browserless, world: SandboxWorld
) -> None:
    page = await visitor.get("/nope")
    assert page.status == 404
    assert page.headers["Content-Type"].startswith("text/html")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    api = await visitor.get("/api/v1/nope")
    assert json.loads(api.text)["error"]["code"] == "not_found"
    assert "<script>" not in (await visitor.get("/")).text  # no inline script anywhere


def _config(emulator: DiscordEmulator, database: Path, **dashboard: str) -> Config:
    return config_from_mapping(
        {
            "discord": {"token": emulator.token, "rest_url": emulator.rest_url},
            "http": {"host": "127.0.0.1", "port": 0},
            "database": {"path": str(database)},
            "dashboard": dashboard,
        },
        source=Path("<test>"),
        env={},
    )


async def test_behind_https_the_cookie_is_secure(
    emulator: DiscordEmulator, world: SandboxWorld, loop_errors: LoopErrors, tmp_path: Path
) -> None:
    config = _config(
        emulator,
        tmp_path / "r.db",
        client_secret=SANDBOX_CLIENT_SECRET,
        public_url="https://tickets.example.com",
    )
    async with running(emulator, tmp_path / "r.db", loop_errors, config=config) as app:
        person = Browserless(app, emulator)
        try:
            started = await person.get("/login")
            authorize = started.headers["Location"]
            assert "redirect_uri=https%3A%2F%2Ftickets.example.com%2Flogin%2Fcallback" in authorize
            login_cookie = started.headers["Set-Cookie"]
            assert "Secure" in login_cookie
            callback = await person.approve(authorize, world.admin.id)
            assert callback.startswith("https://tickets.example.com/login/callback?")
            # The proxy forwards it to the bot as is; the browser sends its Secure cookie.
            async with person.http.get(
                person.base + callback.removeprefix("https://tickets.example.com"),
                headers={"Cookie": login_cookie.split(";")[0]},
                allow_redirects=False,
            ) as done:
                assert done.status == 303
                assert "Secure" in done.headers["Set-Cookie"]
        finally:
            await person.close()


async def test_without_a_client_secret_the_dashboard_says_how_to_log_in(
    emulator: DiscordEmulator, world: SandboxWorld, loop_errors: LoopErrors, tmp_path: Path
) -> None:
    config = _config(emulator, tmp_path / "r.db")
    async with running(emulator, tmp_path / "r.db", loop_errors, config=config) as app:
        person = Browserless(app, emulator)
        try:
            assert "RIMPLLEE_CLIENT_SECRET" in (await person.get("/")).text
            page = await person.get("/login")
            assert page.status == 503
            assert "dashboard.client_secret" in page.text
        finally:
            await person.close()


async def test_cancelling_on_discord_logs_nobody_in(
    visitor: Browserless, world: SandboxWorld
) -> None:
    callback = await visitor.approve(await visitor.authorize_url(), 0)  # 0: "Cancel"
    assert "error=access_denied" in callback
    page = await visitor.callback(callback)
    assert page.status == 400
    assert "Login cancelled" in page.text
    assert "Set-Cookie" not in page.headers
