"""`rimpllee emulator` + `rimpllee run`: the emulated Discord and the bot as two processes, as an
integrator runs them in their own CI (README, "Test against the emulator")."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import CLI
from tests.helpers import free_port, wait_healthy

pytestmark = pytest.mark.asyncio


async def _stop(proc: asyncio.subprocess.Process) -> tuple[str, str]:
    proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert "Traceback" not in err.decode()
    return out.decode(), err.decode()


async def test_the_bot_runs_against_the_standalone_emulator(
    tmp_path: Path, spawned: list[asyncio.subprocess.Process]
) -> None:
    state_file = tmp_path / "emulator.json"
    http_port = free_port()
    emulator = await asyncio.create_subprocess_exec(
        *CLI, "emulator", "--port", "0", "--http-port", str(http_port),
        "--state-file", str(state_file), "--data-dir", str(tmp_path / "emulator"),
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    spawned.append(emulator)
    async with asyncio.timeout(30):
        while not state_file.exists():
            assert emulator.returncode is None
            await asyncio.sleep(0.05)
    state: dict[str, Any] = json.loads(state_file.read_text())
    (panel,) = state["panels"]
    help_button = next(b for b in panel["buttons"] if b["id"] == "btn_help")
    (question,) = help_button["questions"]
    assert question["id"] == "qst_help_topic"

    bot = await asyncio.create_subprocess_exec(
        *CLI, "run", "--config", state["config_path"],
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    spawned.append(bot)
    health = await wait_healthy(state["healthz_url"], bot)
    assert health["gateway"] == "connected"

    member = state["member_ids"][0]
    async with aiohttp.ClientSession() as http:
        async with asyncio.timeout(30):
            while True:  # healthy, but 503 not_ready until the server's guild is in its cache
                opened = await http.post(
                    state["api_url"] + "/tickets",
                    headers={"Authorization": f"Bearer {state['api_key']}"},
                    json={
                        "userId": member,
                        "panelId": panel["id"],
                        "buttonId": help_button["id"],
                        "answers": [{"label": question["label"], "value": "Refund"}],
                    },
                )
                ticket = await opened.json()
                if opened.status != 503 or ticket["error"]["code"] != "not_ready":
                    break
                await asyncio.sleep(0.1)
        assert opened.status == 200, ticket
        channel = await http.get(
            f"{state['discord_rest_url']}/channels/{ticket['ticket']['channelId']}",
            headers={"Authorization": f"Bot {state['discord_token']}"},
        )
        assert (await channel.json())["name"] == "ticket-0001"
        posted = await http.post(
            state["control_url"] + "/command",
            json={
                "command": "panel post",
                "options": {"panel": panel["id"], "channel": state["panel_channel_id"]},
            },
        )
        answer = await posted.json()
        assert posted.status == 200, answer
        assert "Posted panel" in answer["response"]["data"]["content"]

    await _stop(bot)
    out, _ = await _stop(emulator)
    assert "[discord] #ticket-0001 created in category 'Tickets'" in out
    assert f"rimpllee run --config {state['config_path']}" in out
