"""`rimpllee sandbox`: the emulator, the real bot connected to it, and the HTTP API, on loopback.

The emulated Discord lives in memory, so each run starts from a fresh seed and a fresh sandbox
database; the state file tells scripts and people where everything is.
"""

from __future__ import annotations

import json
import logging
import string
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from bot.config import Config, config_from_mapping
from bot.core.admin import Blacklist
from bot.core.keys import display_prefix, hash_key
from bot.core.models import Panel
from bot.core.panel_file import load_panels
from bot.process import shutdown_signals, start_or_stop
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.oauth import SANDBOX_CLIENT_SECRET
from bot.sandbox.state import (
    ATTACH_FILES,
    CREATE_PRIVATE_THREADS,
    DM,
    EMBED_LINKS,
    GUILD_CATEGORY,
    JSON,
    MANAGE_CHANNELS,
    MANAGE_GUILD,
    MANAGE_MESSAGES,
    MANAGE_ROLES,
    MANAGE_THREADS,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    VIEW_CHANNEL,
    DiscordState,
    Guild,
    User,
)
from bot.store import Database
from bot.store.admin import SqliteBlacklistStore, SqliteKeyStore
from bot.store.panels import save_panel

_LOG = logging.getLogger("rimpllee.sandbox")

MEMBER_COUNT = 50

# What the README tells admins to grant the bot; the sandbox grants exactly that, not Administrator.
BOT_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | READ_MESSAGE_HISTORY
    | EMBED_LINKS
    | ATTACH_FILES
    | MANAGE_MESSAGES
    | MANAGE_CHANNELS
    | MANAGE_ROLES
    | CREATE_PRIVATE_THREADS
    | SEND_MESSAGES_IN_THREADS
    | MANAGE_THREADS
)


# Fixed so the seeded IDs (and the README's examples) are the same on every run.
SANDBOX_EPOCH_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z
# A published, sandbox-only key: the emulated server is on loopback and holds no secrets.
DEMO_API_KEY = "rmp_sandbox-demo-key-not-secret-000000000000000"
DEMO_PANEL_ID = "pnl_demo"
HELP_BUTTON_ID = "btn_help"
REPORT_BUTTON_ID = "btn_report"
HELP_QUESTION = "What do you need help with?"
DEMO_PANELS_FILE = "demo_panels.toml"
SUPPORT_MEMBER_COUNTER = 1 << 21


@dataclass(frozen=True)
class SandboxWorld:
    """The seeded server: who and what a demo or a test can act with."""

    guild: Guild
    owner: User
    admin: User
    members: list[User]
    support_role_id: int
    category_id: int
    panel_channel_id: int
    support_member: User  # on the Support team, without Manage Server

    @property
    def plain_member(self) -> User:
        return self.members[0]

    @property
    def blacklisted(self) -> User:
        return self.members[-1]


def seed(
    state: DiscordState,
    *,
    member_count: int = MEMBER_COUNT,
    name: str = "Rimpllee Sandbox",
    shard: tuple[int, int] | None = None,
) -> SandboxWorld:
    """The demo server; `shard` (ID, count) puts it on that gateway shard."""
    owner = state.add_user("sandbox-owner")
    guild = state.add_guild(name, owner, bot_permissions=BOT_PERMISSIONS, shard=shard)
    support = state.add_role(guild, "Support", MANAGE_MESSAGES, position=5)
    admins = state.add_role(guild, "Admins", MANAGE_GUILD, position=6)
    admin = state.add_user("sandbox-admin")
    state.add_member(guild, admin, roles=[admins.id, support.id])
    members = []
    for i in range(1, member_count + 1):
        user = state.add_user(f"member{i:02d}")
        state.add_member(guild, user)
        members.append(user)
    category = state.add_channel(guild, "Tickets", type=GUILD_CATEGORY)
    panels = state.add_channel(guild, "panels", topic="Open a ticket here")
    state.add_channel(guild, "general")
    # Outside the ID sequence (counter 2^21, which the sandbox never reaches), so every ID
    # made after the seed (the README's ticket channels) stays the same.
    helper = User(id=guild.id | SUPPORT_MEMBER_COUNTER, username="support01")
    state.add_member(guild, helper, roles=[support.id])
    return SandboxWorld(
        guild=guild,
        owner=owner,
        admin=admin,
        members=members,
        support_role_id=support.id,
        category_id=category.id,
        panel_channel_id=panels.id,
        support_member=helper,
    )


def offer_logins(emu: DiscordEmulator, world: SandboxWorld, dashboard_url: str) -> None:
    """The emulated authorize page: who you can log in as, and the one redirect URI it takes."""
    emu.oauth.redirect_uris.add(dashboard_url + "/login/callback")
    emu.oauth.featured = [
        (world.admin.id, "the admin: Manage Server, on the Support team"),
        (world.support_member.id, "a support member: on the Support team only"),
        (world.plain_member.id, "a plain member"),
    ]


def demo_panel(world: SandboxWorld) -> Panel:
    """One panel, two buttons: one with an intake question (max 1 open), one without (max 3)."""
    template = resources.files("bot.sandbox").joinpath(DEMO_PANELS_FILE).read_text("utf-8")
    text = string.Template(template).substitute(
        category_id=world.category_id, support_role_id=world.support_role_id
    )
    (panel,) = load_panels(text, source=DEMO_PANELS_FILE, guild_id=world.guild.id)
    return panel


async def seed_database(
    path: Path | str, world: SandboxWorld, api_key: str = DEMO_API_KEY
) -> Panel:
    """The demo panel, API key and one blacklisted member, written before the bot starts."""
    panel = demo_panel(world)
    db = await Database.open(path)
    try:
        await save_panel(db, panel, time.time())
        await SqliteKeyStore(db).put_key(
            world.guild.id,
            hash_key(api_key),
            display_prefix(api_key),
            time.time(),
            world.owner.id,
            replace=True,
        )
        await Blacklist(SqliteBlacklistStore(db)).add(
            world.guild.id, world.blacklisted.id, world.owner.id, "sandbox demo"
        )
    finally:
        await db.close()
    return panel


def sandbox_config(emu: DiscordEmulator, *, http_port: int, database: Path) -> Config:
    return config_from_mapping(
        {
            "discord": {"token": emu.token, "rest_url": emu.rest_url, "cdn_url": emu.cdn_url},
            "http": {"host": "127.0.0.1", "port": http_port},
            "database": {"path": str(database)},
            "dashboard": {"client_secret": SANDBOX_CLIENT_SECRET},
            "webhooks": {"allow_private_targets": True},
        },
        source=Path("<sandbox>"),
        env={},
    )


def state_document(
    world: SandboxWorld, emu: DiscordEmulator, api_url: str, panel: Panel
) -> dict[str, Any]:
    return {
        "dashboard_url": api_url.removesuffix("/api/v1") + "/",
        "api_url": api_url,
        "healthz_url": api_url.removesuffix("/api/v1") + "/healthz",
        "api_key": DEMO_API_KEY,
        "discord_rest_url": emu.rest_url,
        "discord_faults_url": emu.rest_url.removesuffix("/api/v10") + "/_sandbox/faults",
        "guild_id": str(world.guild.id),
        "bot_user_id": str(emu.state.bot.id),
        "owner_id": str(world.owner.id),
        "admin_id": str(world.admin.id),
        "support_member_id": str(world.support_member.id),
        "support_role_id": str(world.support_role_id),
        "category_id": str(world.category_id),
        "panel_channel_id": str(world.panel_channel_id),
        "member_ids": [str(m.id) for m in world.members],
        "blacklisted_user_ids": [str(world.blacklisted.id)],
        "panels": [
            {
                "id": panel.panel_id,
                "title": panel.title,
                "buttons": [
                    {
                        "id": b.button_id,
                        "label": b.label,
                        "max_open": b.max_open,
                        "questions": [
                            {"id": q.question_id, "label": q.label, "required": q.required}
                            for q in b.questions
                        ],
                    }
                    for b in panel.buttons
                ],
            }
        ],
    }


def example_curl(api_url: str, user_id: int) -> str:
    body = (
        f'{{"userId": "{user_id}", "panelId": "{DEMO_PANEL_ID}", "buttonId": "{HELP_BUTTON_ID}", '
        f'"answers": [{{"label": "{HELP_QUESTION}", "value": "Refund request"}}]}}'
    )
    return (
        f"curl -s -X POST {api_url}/tickets \\\n"
        f'  -H "Authorization: Bearer {DEMO_API_KEY}" \\\n'
        f'  -H "Content-Type: application/json" \\\n'
        f"  -d '{body}'"
    )


class Narrator:
    """Prints every change the bot makes in the emulated Discord, so a person can see it without a
    client: channels created, renamed, moved, re-permissioned and deleted; messages (with their
    attachments) sent, edited and deleted; DMs with the recipient's name."""

    def __init__(self, state: DiscordState) -> None:
        self._state = state
        self._channels: dict[str, JSON] = {
            str(c.id): c.payload() for c in state.channels.values() if c.type != DM
        }

    def _name(self, target_id: int, guild: Guild) -> str:
        if target_id == guild.id:
            return "@everyone"
        if role := guild.roles.get(target_id):
            return f"@{role.name}"
        user = self._state.users.get(target_id)
        return f"@{user.username}" if user else str(target_id)

    def __call__(self, event: str, payload: JSON) -> None:
        bot = str(self._state.bot.id)
        if event == "CHANNEL_CREATE":
            self._channels[payload["id"]] = payload
            self._channel(payload)
        elif event == "CHANNEL_UPDATE":
            before = self._channels.get(payload["id"])
            self._channels[payload["id"]] = payload
            if before is not None:
                self._channel_update(before, payload)
        elif event == "MESSAGE_CREATE" and payload["author"]["id"] == bot:
            self._message(payload)
        elif event == "CHANNEL_DELETE":
            self._channels.pop(payload["id"], None)
            print(f"[discord] #{payload['name']} deleted", flush=True)
        elif event == "MESSAGE_UPDATE" and payload["author"]["id"] == bot:
            print(
                f"[discord] message {payload['id']} edited: {payload['content']!r}"
                + self._attachments(payload),
                flush=True,
            )
        elif event == "MESSAGE_DELETE":
            channel = self._state.channels.get(int(payload["channel_id"]))
            where = f" in #{channel.name}" if channel else ""
            print(f"[discord] message {payload['id']} deleted{where}", flush=True)

    def _overwrite_line(self, ow: JSON, guild: Guild) -> str:
        allow, deny = _perm_names(int(ow["allow"])), _perm_names(int(ow["deny"]))
        parts = ([f"allow {allow}"] if allow else []) + ([f"deny {deny}"] if deny else [])
        return f"          {self._name(int(ow['id']), guild)}: {'; '.join(parts) or 'nothing'}"

    def _channel(self, payload: JSON) -> None:
        guild = self._state.guilds[int(payload["guild_id"])]
        parent = guild.channels.get(int(payload["parent_id"] or 0))
        where = f" in category {parent.name!r}" if parent else ""
        lines = [f"[discord] #{payload['name']} created{where}"]
        lines += [self._overwrite_line(ow, guild) for ow in payload["permission_overwrites"]]
        print("\n".join(lines), flush=True)

    def _channel_update(self, before: JSON, after: JSON) -> None:
        guild = self._state.guilds[int(after["guild_id"])]
        name = after["name"]
        lines = []
        if before["name"] != name:
            lines.append(f"[discord] #{before['name']} renamed to #{name}")
        if before.get("parent_id") != after.get("parent_id"):
            parent = guild.channels.get(int(after["parent_id"] or 0))
            where = f"to category {parent.name!r}" if parent else "out of its category"
            lines.append(f"[discord] #{name} moved {where}")
        if before.get("topic") != after.get("topic"):
            lines.append(f"[discord] #{name} topic set to {after.get('topic')!r}")
        old = {ow["id"]: ow for ow in before["permission_overwrites"]}
        new = {ow["id"]: ow for ow in after["permission_overwrites"]}
        changed = [ow for key, ow in new.items() if old.get(key) != ow]
        removed = [key for key in old if key not in new]
        if changed or removed:
            lines.append(f"[discord] #{name} permissions changed")
            lines += [self._overwrite_line(ow, guild) for ow in changed]
            lines += [f"          {self._name(int(key), guild)}: removed" for key in removed]
        if lines:
            print("\n".join(lines), flush=True)

    @staticmethod
    def _attachments(payload: JSON) -> str:
        return "".join(
            f"\n          attachment {a['filename']} ({a['size']} bytes)"
            for a in payload.get("attachments", [])
        )

    def _message(self, payload: JSON) -> None:
        channel = self._state.channels.get(int(payload["channel_id"]))
        if channel is not None and channel.type == DM:
            user = self._state.users.get(channel.recipient_id)
            where = f"DM to @{user.username if user else channel.recipient_id}"
        else:
            where = f"in #{channel.name if channel else payload['channel_id']}"
        lines = [f"[discord] message {payload['id']} {where}: {payload['content']!r}"]
        message = self._state.messages.get(int(payload["channel_id"]), {}).get(int(payload["id"]))
        if message is not None and message.allowed_mentions is not None:
            lines.append(f"          allowed mentions: {json.dumps(message.allowed_mentions)}")
        for embed in payload["embeds"]:
            lines.append(f"          embed {embed.get('title')!r}: {embed.get('description')!r}")
            lines += [f"            {f['name']}: {f['value']}" for f in embed.get("fields", [])]
        buttons = [c.get("label") for row in payload["components"] for c in row["components"]]
        if buttons:
            lines.append(f"          buttons: {buttons}")
        print("\n".join(lines) + self._attachments(payload), flush=True)


_PERMISSION_NAMES = {
    VIEW_CHANNEL: "View Channel",
    SEND_MESSAGES: "Send Messages",
    READ_MESSAGE_HISTORY: "Read Message History",
    EMBED_LINKS: "Embed Links",
    ATTACH_FILES: "Attach Files",
    MANAGE_MESSAGES: "Manage Messages",
    MANAGE_CHANNELS: "Manage Channels",
    MANAGE_ROLES: "Manage Roles",
}


def _perm_names(bits: int) -> str:
    return ", ".join(name for bit, name in _PERMISSION_NAMES.items() if bits & bit)


def fresh_database(data_dir: Path) -> Path:
    """The emulated Discord starts empty each run, so its database does too."""
    for stale in data_dir.glob("sandbox.db*"):
        stale.unlink()
    return data_dir / "sandbox.db"


def write_state_file(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")


async def run_sandbox(
    *, state_file: Path, http_port: int, discord_port: int, data_dir: Path
) -> None:
    from bot.app import Rimpllee  # noqa: PLC0415 - bot.app imports the CLI's neighbours

    emu = DiscordEmulator(DiscordState(fixed_ids_ms=SANDBOX_EPOCH_MS))
    world = seed(emu.state)
    emu.owner_id = world.owner.id
    emu.observers.append(Narrator(emu.state))
    await emu.start(port=discord_port)
    database = fresh_database(data_dir)
    panel = await seed_database(database, world)
    app = Rimpllee(sandbox_config(emu, http_port=http_port, database=database))
    with shutdown_signals() as stop:
        try:
            if not await start_or_stop(app.start(), stop):
                return
            api_url = app.http_url + "/api/v1"
            offer_logins(emu, world, app.public_url)
            write_state_file(state_file, state_document(world, emu, api_url, panel))
            faults = emu.rest_url.removesuffix("/api/v10") + "/_sandbox/faults"
            print(
                f"Rimpllee sandbox is up.\n"
                f"  Dashboard:    {app.public_url}/  (log in as sandbox-admin)\n"
                f"  API:          {api_url}\n"
                f"  API key:      {DEMO_API_KEY}\n"
                f"  Health:       {app.http_url}/healthz\n"
                f"  Fail Discord: curl -s -X POST {faults}\n"
                f"  State file:   {state_file}\n\n"
                f"Open a ticket for member01:\n{example_curl(api_url, world.members[0].id)}\n\n"
                "Press Ctrl+C to stop.",
                flush=True,
            )
            await stop.wait()
        finally:
            await app.stop()
            await emu.stop()


def emulator_config(emu: DiscordEmulator, *, http_port: int, database: Path) -> str:
    """A config.toml for `rimpllee run` against this emulator (JSON strings are TOML strings)."""
    return (
        "# Written by `rimpllee emulator`: the bot against the emulated Discord.\n"
        f"[discord]\ntoken = {json.dumps(emu.token)}\nrest_url = {json.dumps(emu.rest_url)}\n"
        f'[http]\nhost = "127.0.0.1"\nport = {http_port}\n'
        f"[database]\npath = {json.dumps(str(database))}\n"
    )


def _fresh_bot_database(data_dir: Path) -> Path:
    """Each run seeds a fresh database for the bot, as the emulated server starts fresh."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for stale in data_dir.glob("bot.db*"):
        stale.unlink()
    return (data_dir / "bot.db").absolute()


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


async def run_emulator(*, state_file: Path, port: int, http_port: int, data_dir: Path) -> None:
    """The emulated Discord alone, seeded like the sandbox, for `rimpllee run` in another process:
    it writes the bot's config (token, REST URL, a seeded database) and a state file."""
    emu = DiscordEmulator(DiscordState(fixed_ids_ms=SANDBOX_EPOCH_MS))
    world = seed(emu.state)
    emu.owner_id = world.owner.id
    emu.observers.append(Narrator(emu.state))
    with shutdown_signals() as stop:
        await emu.start(port=port)
        try:
            database = _fresh_bot_database(data_dir)
            panel = await seed_database(database, world)
            config = data_dir / "config.toml"
            write_text(config, emulator_config(emu, http_port=http_port, database=database))
            api_url = f"http://127.0.0.1:{http_port}/api/v1"
            document = state_document(world, emu, api_url, panel)
            base = emu.rest_url.removesuffix("/api/v10")
            document |= {
                "discord_token": emu.token,
                "control_url": base + "/_sandbox",
                "config_path": str(config),
                "database_path": str(database),
            }
            write_state_file(state_file, document)
            print(
                f"Emulated Discord is up.\n"
                f"  REST:        {emu.rest_url}\n"
                f"  Control:     {base}/_sandbox\n"
                f"  State file:  {state_file}\n\n"
                f"Run the bot against it:\n  rimpllee run --config {config}\n\n"
                "Press Ctrl+C to stop.",
                flush=True,
            )
            await stop.wait()
        finally:
            await emu.stop()
