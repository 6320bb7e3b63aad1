"""What several test modules share, in one place: a test module never imports another.

Fixtures live in conftest.py; these are the plain functions and constants around them: the API
call, the click, the slash command and the answer a member reads.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import string
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import aiohttp
from multidict import CIMultiDict

from bot.app import Rimpllee
from bot.core.admin import Settings
from bot.core.keys import display_prefix, hash_key
from bot.core.models import Ticket
from bot.core.panel_file import load_panels
from bot.core.panels import PanelService
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.interactions import InteractionRecord
from bot.sandbox.runner import (
    DEMO_API_KEY,
    DEMO_PANEL_ID,
    DEMO_PANELS_FILE,
    HELP_BUTTON_ID,
    HELP_QUESTION,
    REPORT_BUTTON_ID,
    SandboxWorld,
    seed_database,
)
from bot.sandbox.state import (
    OVERWRITE_ROLE,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    Channel,
    Overwrite,
    Role,
    User,
)
from bot.store import Database
from bot.store.admin import SqliteKeyStore
from bot.store.cleanups import SqliteCleanupStore
from bot.store.panels import SqlitePanelStore, save_panel
from bot.store.settings import SqliteSettingsStore
from bot.store.tickets import SqliteLifecycleStore, SqliteTicketStore
from tests.conftest import FakeClock

EPHEMERAL = 64  # Discord's message flag
OPTION_TYPES = {bool: 5, int: 4, str: 3, float: 10}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_for(condition: Any, timeout: float = 10.0) -> None:
    """Until `condition()` (sync or async) is true: closing answers first, then works."""
    async with asyncio.timeout(timeout):
        while True:
            result = condition()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            await asyncio.sleep(0.02)


# -- the API --------------------------------------------------------------------------------------

HELP_ANSWER = [{"label": HELP_QUESTION, "value": "Refund request"}]
AUTH = {"Authorization": f"Bearer {DEMO_API_KEY}"}

Reply = tuple[int, dict[str, Any], dict[str, str]]
# A reply with every header as sent (repeated ones too).
FullReply = tuple[int, dict[str, Any], CIMultiDict[str]]


async def post(
    app: Rimpllee,
    body: Any,
    *,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
    session: aiohttp.ClientSession | None = None,
) -> Reply:
    hdrs = dict(AUTH if headers is None else headers)
    data = raw
    if raw is None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    own = session is None
    http = session or aiohttp.ClientSession()
    try:
        async with http.post(app.http_url + "/api/v1/tickets", data=data, headers=hdrs) as resp:
            return resp.status, await resp.json(), dict(resp.headers)
    finally:
        if own:
            await http.close()


def ticket(user_id: int, button: str = REPORT_BUTTON_ID, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"userId": str(user_id), "panelId": DEMO_PANEL_ID, "buttonId": button}
    if button == HELP_BUTTON_ID:
        body["answers"] = HELP_ANSWER
    return {**body, **extra}


def error(reply: Reply) -> dict[str, Any]:
    body = reply[1]
    assert body["ok"] is False, body
    assert set(body) == {"ok", "error"}
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    err: dict[str, Any] = body["error"]
    return err


async def open_ticket(app: Rimpllee, user_id: int, button: str = HELP_BUTTON_ID) -> int:
    """Open a ticket through the API; its channel's ID."""
    status, body, _ = await post(app, ticket(user_id, button))
    assert status == 200, body
    return int(body["ticket"]["channelId"])


async def open_numbered(app: Rimpllee, clock: FakeClock, user_id: int, button: str) -> int:
    """Open a ticket through the API (a help ticket's answer has HTML in it), then move the clock
    a minute on; the ticket's number, as the dashboard's URLs use it."""
    body = ticket(user_id, button)
    if button == HELP_BUTTON_ID:
        body["answers"] = [{"label": HELP_QUESTION, "value": "a refund <b>"}]
    status, answer, _ = await post(app, body)
    assert status == 200, answer
    clock.advance(60)
    opened = await row(app, int(answer["ticket"]["channelId"]))
    return opened.number


def tickets_url(world: SandboxWorld, rest: str = "") -> str:
    """A server's ticket list in the dashboard, or what follows it (`/12`, `?state=open`)."""
    return f"/servers/{world.guild.id}/tickets{rest}"


async def row(app: Rimpllee, channel_id: int) -> Ticket:
    assert app.db is not None
    found = await SqliteLifecycleStore(app.db).by_channel(channel_id)
    assert found is not None
    return found


# -- Discord: panels, clicks, commands and answers ------------------------------------------------


def panels(app: Rimpllee, clock: FakeClock) -> PanelService:
    assert app.db is not None
    return PanelService(SqlitePanelStore(app.db), app.discord.port, clock)


async def posted_panel(app: Rimpllee, world: SandboxWorld, clock: FakeClock) -> int:
    """Post the demo panel in the panel channel; its message's ID."""
    panel = await panels(app, clock).post_panel(
        world.guild.id, DEMO_PANEL_ID, world.panel_channel_id
    )
    assert panel.message_id is not None
    return panel.message_id


async def click(
    emulator: DiscordEmulator, world: SandboxWorld, user_id: int, message_id: int, button: str
) -> InteractionRecord:
    return await emulator.click_button(
        world.guild.id, user_id, world.panel_channel_id, message_id, f"rmp:open:{button}"
    )


def options(**values: Any) -> list[dict[str, Any]]:
    """Discord option payloads; `panel_=` etc. for names that are Python keywords or builtins.

    A sandbox `User`, `Channel` or `Role` becomes a user (6), channel (7) or role (8) option
    holding its ID, as Discord's pickers send them; the emulator resolves it.
    """
    out = []
    for key, value in values.items():
        name = key.rstrip("_")
        if isinstance(value, User):
            out.append({"name": name, "type": 6, "value": str(value.id)})
        elif isinstance(value, Channel):
            out.append({"name": name, "type": 7, "value": str(value.id)})
        elif isinstance(value, Role):
            out.append({"name": name, "type": 8, "value": str(value.id)})
        else:
            out.append({"name": name, "type": OPTION_TYPES[type(value)], "value": value})
    return out


async def command(
    emulator: DiscordEmulator,
    world: SandboxWorld,
    channel_id: int,
    name: str,
    user_id: int | None = None,
    /,
    **values: Any,
) -> InteractionRecord:
    """Run `/name` in `channel_id` as `user_id` (the admin by default); option values by name."""
    return await emulator.run_command(
        world.guild.id, user_id or world.admin.id, channel_id, name, options(**values)
    )


async def answer(record: InteractionRecord) -> str:
    """What the member reads: the ephemeral answer, or every follow-up of a deferred one, joined."""
    response = await record.wait_response()
    assert response["data"]["flags"] & EPHEMERAL, response
    if response["type"] == 5:  # deferred: the answer is the follow-up
        followups = await record.wait_followup()
        assert all(f["flags"] & EPHEMERAL for f in followups), followups
        return "\n".join(f["content"] for f in followups)
    assert response["type"] == 4
    content: str = response["data"]["content"]
    return content


async def run(
    emulator: DiscordEmulator,
    world: SandboxWorld,
    channel_id: int,
    name: str,
    user_id: int | None = None,
    /,
    **values: Any,
) -> str:
    """`command`, then the `answer` read."""
    return await answer(await command(emulator, world, channel_id, name, user_id, **values))


async def settings(
    emulator: DiscordEmulator,
    world: SandboxWorld,
    name: str,
    user_id: int | None = None,
    /,
    **v: Any,
) -> str:
    """`/settings <name>` run in the panel channel, its answer read."""
    return await run(emulator, world, world.panel_channel_id, "settings " + name, user_id, **v)


def channel_named(world: SandboxWorld, name: str) -> Channel:
    return next(c for c in world.guild.channels.values() if c.name == name)


def role_named(world: SandboxWorld, name: str) -> Role:
    return next(r for r in world.guild.roles.values() if r.name == name)


async def wait_healthy(url: str, proc: asyncio.subprocess.Process | None = None) -> dict[str, Any]:
    """Until /healthz says the bot is up and ready (its API serves, not 503 not_ready)."""
    async with aiohttp.ClientSession() as http, asyncio.timeout(30):
        while True:
            if proc is not None and proc.returncode is not None:
                raise AssertionError(f"process exited with {proc.returncode}")
            try:
                async with http.get(url) as resp:
                    body: dict[str, Any] = await resp.json()
                    if resp.status == 200 and body["ready"]:
                        return body
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)


CHANNEL_LINK = re.compile(r"<#(\d+)>")


def opened_channel(emulator: DiscordEmulator, text: str) -> Channel:
    match = CHANNEL_LINK.search(text)
    assert match is not None, text
    return emulator.state.channels[int(match.group(1))]


async def close_form(
    emulator: DiscordEmulator, world: SandboxWorld, app: Rimpllee, channel_id: int, reason: str
) -> str:
    ticket_id = (await row(app, channel_id)).ticket_id
    record = await emulator.submit_modal(
        world.guild.id, world.admin.id, channel_id, f"rmp:closeform:{ticket_id}", {"r": reason}
    )
    await record.wait_response()
    await asyncio.sleep(0.3)  # the close goes on after the first answer
    texts = [record.responses[0]["data"]["content"]] + [f["content"] for f in record.followups]
    return str(texts[-1])


async def change_settings(app: Rimpllee, world: SandboxWorld, **changes: Any) -> None:
    """Change the server's settings through the service, as `/settings` would."""
    assert app.db is not None
    await Settings(SqliteSettingsStore(app.db)).change(world.guild.id, **changes)


def write_config(path: Path, rest_url: str, port: int, *, token: str | None = None) -> Path:
    token_line = f'token = "{token}"\n' if token is not None else ""
    path.write_text(
        f'[discord]\n{token_line}rest_url = "{rest_url}"\n'
        f'[http]\nport = {port}\n[database]\npath = "{path.parent / "bot.db"}"\n'
    )
    return path


async def call(
    app: Rimpllee,
    method: str,
    path: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    timeout: float | None = None,
) -> FullReply:
    hdrs = dict(AUTH if headers is None else headers)
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with (
        aiohttp.ClientSession(timeout=client_timeout) as http,
        http.request(method, app.http_url + path, data=data, headers=hdrs) as resp,
    ):
        return resp.status, await resp.json(), CIMultiDict(resp.headers)


# -- opens cut short: a bot killed mid-open, failed opens the gateway is late to report ----------


async def cut_short_opens(
    database: Path,
    world: SandboxWorld,
    users: Sequence[User],
    now: float,
    *,
    recorded: Sequence[int | None] = (),
    thread_parent_id: int | None = None,
) -> list[Ticket]:
    """A seeded database in which each user's open (the demo report button, by the API) was
    reserved and written as `opening`, and then the bot died: `recorded[i]`, where given and not
    None, is the channel (or thread) ID the i-th open had written down before the kill."""
    await seed_database(database, world)
    db = await Database.open(database)
    try:
        store = SqliteTicketStore(db)
        made = []
        for user in users:
            async with store.reserve(world.guild.id) as tx:
                made.append(
                    await tx.insert_opening(
                        user_id=user.id,
                        panel_id=DEMO_PANEL_ID,
                        button_id=REPORT_BUTTON_ID,
                        source="api",
                        answers=[],
                        support_role_ids=[],
                        now=now,
                        thread_parent_id=thread_parent_id,
                    )
                )
        for opened, channel_id in zip(made, recorded, strict=False):
            if channel_id is not None:
                await store.set_channel(opened.ticket_id, channel_id)
    finally:
        await db.close()
    return made


def hold_events_from(emulator: DiscordEmulator, event: str) -> None:
    """The gateway lags from `event` on: REST has done it, the bot's cache doesn't know yet."""

    def observe(seen: str, _: object) -> None:
        if seen == event:
            emulator.gateway.hold_events()

    emulator.observers.append(observe)


async def outbox(app: Rimpllee) -> list[int]:
    """The channels (or threads) the bot still has to delete: its cleanup outbox."""
    assert app.db is not None
    return [c.channel.channel_id for c in await SqliteCleanupStore(app.db).pending()]


def opening(user_id: int, button: str = REPORT_BUTTON_ID) -> dict[str, Any]:
    body: dict[str, Any] = {"userId": str(user_id), "panelId": DEMO_PANEL_ID, "buttonId": button}
    if button == HELP_BUTTON_ID:
        body["answers"] = [{"label": HELP_QUESTION, "value": "Refund request"}]
    return body


# -- several servers on one database (shard-split processes) --------------------------------------


def server_key(n: int) -> str:
    """An API key of its own for seeded server `n`."""
    return "rmp_" + f"server-{n}-key-not-secret-".ljust(43, "0")


async def seed_server(database: Path, world: SandboxWorld, n: int, api_key: str) -> str:
    """The demo panel under IDs of its own (`pnl_s<n>`), and an API key; the panel's ID."""
    template = resources.files("bot.sandbox").joinpath(DEMO_PANELS_FILE).read_text("utf-8")
    text = string.Template(template).substitute(
        category_id=world.category_id, support_role_id=world.support_role_id
    )
    text = text.replace("pnl_demo", f"pnl_s{n}").replace("btn_", f"btn_s{n}")
    text = text.replace("qst_", f"qst_s{n}")
    (panel,) = load_panels(text, source=DEMO_PANELS_FILE, guild_id=world.guild.id)
    db = await Database.open(database)
    try:
        await save_panel(db, panel, time.time())
        await SqliteKeyStore(db).put_key(
            world.guild.id,
            hash_key(api_key),
            display_prefix(api_key),
            time.time(),
            None,
            replace=True,
        )
    finally:
        await db.close()
    return panel.panel_id


def threads_parent(emulator: DiscordEmulator, world: SandboxWorld) -> Channel:
    """#support as threads mode wants it: members read it and write only in threads."""
    return emulator.state.add_channel(
        world.guild,
        "support",
        overwrites=[
            Overwrite(world.guild.id, OVERWRITE_ROLE, SEND_MESSAGES_IN_THREADS, SEND_MESSAGES)
        ],
    )
