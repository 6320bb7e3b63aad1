"""`rimpllee sandbox`: the emulator, the real bot connected to it, and the HTTP API, on loopback.

The emulated Discord lives in memory, so each run starts from a fresh seed and a fresh sandbox
database; the state file tells scripts and people where everything is.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.cli import wait_for_shutdown_signal
from bot.config import Config, config_from_mapping
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.state import (
    ATTACH_FILES,
    EMBED_LINKS,
    GUILD_CATEGORY,
    MANAGE_CHANNELS,
    MANAGE_GUILD,
    MANAGE_MESSAGES,
    MANAGE_ROLES,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    DiscordState,
    Guild,
    User,
)

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
)


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


def seed(state: DiscordState, *, member_count: int = MEMBER_COUNT) -> SandboxWorld:
    owner = state.add_user("sandbox-owner")
    guild = state.add_guild("Rimpllee Sandbox", owner, bot_permissions=BOT_PERMISSIONS)
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
    return SandboxWorld(
        guild=guild,
        owner=owner,
        admin=admin,
        members=members,
        support_role_id=support.id,
        category_id=category.id,
        panel_channel_id=panels.id,
    )


def sandbox_config(emu: DiscordEmulator, *, http_port: int, database: Path) -> Config:
    return config_from_mapping(
        {
            "discord": {"token": emu.token, "rest_url": emu.rest_url},
            "http": {"host": "127.0.0.1", "port": http_port},
            "database": {"path": str(database)},
        },
        source=Path("<sandbox>"),
        env={},
    )


def state_document(world: SandboxWorld, emu: DiscordEmulator, api_url: str) -> dict[str, Any]:
    return {
        "api_url": api_url,
        "healthz_url": api_url.removesuffix("/api/v1") + "/healthz",
        "discord_rest_url": emu.rest_url,
        "guild_id": str(world.guild.id),
        "bot_user_id": str(emu.state.bot.id),
        "owner_id": str(world.owner.id),
        "admin_id": str(world.admin.id),
        "support_role_id": str(world.support_role_id),
        "category_id": str(world.category_id),
        "panel_channel_id": str(world.panel_channel_id),
        "member_ids": [str(m.id) for m in world.members],
    }


def fresh_database(data_dir: Path) -> Path:
    """The emulated Discord starts empty each run, so its database does too."""
    for stale in data_dir.glob("sandbox.db*"):
        stale.unlink()
    return data_dir / "sandbox.db"


def write_state_file(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")


async def run_sandbox(*, state_file: Path, http_port: int, data_dir: Path) -> None:
    from bot.app import Rimpllee  # noqa: PLC0415 - bot.app imports the CLI's neighbours

    emu = DiscordEmulator()
    world = seed(emu.state)
    emu.owner_id = world.owner.id
    await emu.start()
    database = fresh_database(data_dir)
    app = Rimpllee(sandbox_config(emu, http_port=http_port, database=database))
    try:
        await app.start()
        api_url = app.http_url + "/api/v1"
        write_state_file(state_file, state_document(world, emu, api_url))
        print(f"Rimpllee sandbox is up.\n  API:        {api_url}", flush=True)
        print(f"  Health:     {app.http_url}/healthz", flush=True)
        print(f"  State file: {state_file}\nPress Ctrl+C to stop.", flush=True)
        await wait_for_shutdown_signal()
    finally:
        await app.stop()
        await emu.stop()
