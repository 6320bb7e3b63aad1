"""The emulated Discord in its own process, for tests that kill the bot and start it again.

`python -m tests.emulator_process STATE_FILE DATABASE` seeds the emulator and the bot's database,
posts a panel message members can click, writes STATE_FILE (URLs, token, IDs) and serves, beside
the emulator, a small inspection API the test reads Discord's state through:

- `GET  /state`  every text channel (topic, the bot's messages' button custom_ids) and the
  emulator's own failures;
- `POST /click`  `{"user_id", "custom_id"}`: a member clicks the panel's button (not awaited);
- `POST /fault`  `{"method", "route", "status", "delay", "times"}`: fail or slow a route;
- `POST /delete` `{"channel_ids"}`: channels deleted by hand (the bot gets CHANNEL_DELETE).

It runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import DEMO_PANEL_ID, HELP_BUTTON_ID, REPORT_BUTTON_ID, seed, seed_database

MEMBERS = 40


def _custom_ids(message: Any) -> list[str]:
    return [c.get("custom_id", "") for row in message.components for c in row["components"]]


class Inspector:
    def __init__(self, emu: DiscordEmulator, guild_id: int, panel_channel_id: int) -> None:
        self.emu = emu
        self.guild_id = guild_id
        self.panel_channel_id = panel_channel_id
        self.panel_message_id = 0
        self._clicks: set[asyncio.Task[object]] = set()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/state", self.state)
        app.router.add_post("/click", self.click)
        app.router.add_post("/fault", self.fault)
        app.router.add_post("/delete", self.delete)
        return app

    async def state(self, request: web.Request) -> web.Response:
        state = self.emu.state
        bot_id = state.bot.id
        channels = [
            {
                "id": str(c.id),
                "topic": c.topic,
                "member_overwrites": [str(o.id) for o in c.overwrites.values() if o.type == 1],
                "bot_messages": [
                    {"id": str(m.id), "custom_ids": _custom_ids(m)}
                    for m in state.messages.get(c.id, {}).values()
                    if m.author.id == bot_id
                ],
            }
            for c in state.guilds[self.guild_id].channels.values()
            if c.type == 0
        ]
        # A connection the killed bot left is reset under a write: that is the kill, not a bug.
        errors = [repr(e) for e in self.emu.internal_errors if not isinstance(e, ConnectionError)]
        resets = len(self.emu.internal_errors) - len(errors)
        return web.json_response(
            {"channels": channels, "internal_errors": errors, "connection_resets": resets}
        )

    async def click(self, request: web.Request) -> web.Response:
        body = await request.json()
        record = await self.emu.click_button(
            self.guild_id,
            int(body["user_id"]),
            self.panel_channel_id,
            self.panel_message_id,
            str(body["custom_id"]),
        )
        return web.json_response({"ok": True, "interaction": str(record.id)})

    async def fault(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.emu.inject_fault(
            str(body["method"]),
            str(body["route"]),
            body.get("status"),
            code=int(body.get("code", 0)),
            delay=float(body.get("delay", 0.0)),
            times=int(body.get("times", 1)),
        )
        return web.json_response({"ok": True})

    async def delete(self, request: web.Request) -> web.Response:
        body = await request.json()
        for channel_id in body["channel_ids"]:
            if int(channel_id) in self.emu.state.channels:
                await self.emu.delete_channel_by_hand(int(channel_id))
        return web.json_response({"ok": True})


async def main(state_file: Path, database: Path) -> None:
    emu = DiscordEmulator()
    world = seed(emu.state, member_count=MEMBERS)
    emu.owner_id = world.owner.id
    await emu.start()
    await seed_database(database, world)
    inspector = Inspector(emu, world.guild.id, world.panel_channel_id)
    buttons = [
        {"type": 2, "id": i, "style": 1, "label": label, "custom_id": f"rmp:open:{button}"}
        for i, (label, button) in enumerate(
            (("Get help", HELP_BUTTON_ID), ("Report", REPORT_BUTTON_ID)), start=2
        )
    ]
    panel_message = emu.state.add_message(
        emu.state.channels[world.panel_channel_id],
        emu.state.bot,
        "",
        components=[{"type": 1, "id": 1, "components": buttons}],
    )
    inspector.panel_message_id = panel_message.id
    runner = web.AppRunner(inspector.app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    document = {
        "rest_url": emu.rest_url,
        "token": emu.token,
        "inspect_url": f"http://{host}:{port}",
        "guild_id": str(world.guild.id),
        "panel_id": DEMO_PANEL_ID,
        "member_ids": [str(m.id) for m in world.members[:-1]],  # the last one is blacklisted
    }
    # Written aside, then renamed: the test waits for the file to exist and must never read it
    # half-written.
    partial = state_file.with_name(state_file.name + ".partial")
    partial.write_text(json.dumps(document))
    partial.replace(state_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    await emu.stop()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))
