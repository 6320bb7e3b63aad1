"""`rimpllee run` and `rimpllee sandbox` as an admin starts them: real processes, real sockets."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
from pathlib import Path

import aiohttp
import pytest

from bot.app import Rimpllee
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import SandboxWorld
from tests.conftest import CLI, FAKE_TOKEN, run_cli
from tests.helpers import free_port, wait_healthy, write_config

pytestmark = pytest.mark.asyncio


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got:\n{stderr}"
    assert "Traceback" not in stderr
    return lines[0]


async def test_no_token_is_one_line_and_exit_1(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.toml", "http://127.0.0.1:9/api/v10", free_port())
    code, _, err = await run_cli("run", "--config", str(config), cwd=tmp_path)
    assert code == 1
    assert "discord.token" in one_line(err)
    assert "RIMPLLEE_TOKEN" in err


async def test_broken_config_names_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[discord]\ntoken = "{FAKE_TOKEN}"\n[http]\nport = "eighty"\n')
    code, _, err = await run_cli("run", "--config", str(config), cwd=tmp_path)
    assert code == 1
    line = one_line(err)
    assert f"{config}:4:" in line
    assert "http.port" in line


async def test_missing_config_file(tmp_path: Path) -> None:
    code, _, err = await run_cli("run", cwd=tmp_path)
    assert code == 1
    assert "config.toml" in one_line(err)


async def test_port_in_use_is_one_line(
    tmp_path: Path, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path / "c.toml", emulator.rest_url, port, token=emulator.token)
        code, _, err = await run_cli("run", "--config", str(config), cwd=tmp_path)
    assert code == 1
    line = one_line(err)
    assert f"127.0.0.1:{port}" in line
    assert "address already in use" in line


async def test_rejected_token_is_one_line(
    tmp_path: Path, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    config = write_config(tmp_path / "c.toml", emulator.rest_url, free_port(), token=FAKE_TOKEN)
    code, _, err = await run_cli("run", "--config", str(config), cwd=tmp_path)
    assert code == 1
    assert "401" in one_line(err)


async def test_unreachable_rest_url_is_one_line(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/api/v10"
    config = write_config(tmp_path / "c.toml", dead, free_port(), token=FAKE_TOKEN)
    code, _, err = await run_cli("run", "--config", str(config), cwd=tmp_path)
    assert code == 1
    assert "cannot reach Discord" in one_line(err)


async def test_run_connects_to_emulator_reports_healthy_and_stops_on_sigterm(
    tmp_path: Path,
    emulator: DiscordEmulator,
    world: SandboxWorld,
    spawned: list[asyncio.subprocess.Process],
) -> None:
    port = free_port()
    config = write_config(tmp_path / "c.toml", emulator.rest_url, port, token=emulator.token)
    proc = await asyncio.create_subprocess_exec(
        *CLI, "run", "--config", str(config), cwd=tmp_path, stderr=asyncio.subprocess.PIPE
    )
    spawned.append(proc)
    health = await wait_healthy(f"http://127.0.0.1:{port}/healthz", proc)
    members = health.pop("members")
    ready = health.pop("ready")
    assert health == {"ok": True, "gateway": "connected", "database": "open"}
    assert ready in (False, True)  # true once start-up's last steps are done
    assert members["servers"] == 1  # "known" turns 1 once the member chunks are in
    assert members["known"] in (0, 1)
    assert emulator.gateway.connected == 1
    proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert "Traceback" not in err.decode()
    assert emulator.gateway.connected == 0
    assert (tmp_path / "bot.db").exists()


async def test_sandbox_boots_serves_healthz_and_writes_its_state_file(
    tmp_path: Path, spawned: list[asyncio.subprocess.Process]
) -> None:
    state_file = tmp_path / "state" / "sandbox.json"
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        "sandbox",
        "--port",
        "0",
        "--discord-port",
        "0",
        "--state-file",
        str(state_file),
        "--data-dir",
        str(tmp_path / "data"),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    spawned.append(proc)
    async with asyncio.timeout(30):
        while not state_file.exists():
            assert proc.returncode is None
            await asyncio.sleep(0.1)
    state = json.loads(state_file.read_text())
    assert state["api_url"].endswith("/api/v1")
    assert state["guild_id"].isdigit()
    health = await wait_healthy(state["healthz_url"], proc)
    assert health["ok"] is True
    proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert state["api_url"] in out.decode()


async def test_healthz_reports_a_lost_gateway(app: Rimpllee, emulator: DiscordEmulator) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(app.http_url + "/healthz") as resp:
            assert resp.status == 200
        await app.discord.bot.close()
        async with http.get(app.http_url + "/healthz") as resp:
            assert resp.status == 503
            assert await resp.json() == {
                "ok": False,
                "gateway": "disconnected",
                "database": "open",
                "ready": False,  # a process that lost its gateway is taken out of rotation
                "members": {"servers": 1, "known": 1},
            }


async def test_unknown_path_and_wrong_method_are_json(app: Rimpllee) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(app.http_url + "/api/v1/nope") as resp:  # "/…" is the dashboard's
            assert resp.status == 404
            body = await resp.json()
            assert body["ok"] is False
            assert body["error"]["code"] == "not_found"
        async with http.post(app.http_url + "/healthz") as resp:
            assert resp.status == 405
            assert (await resp.json())["error"]["code"] == "method_not_allowed"
            assert resp.headers["Allow"] == "GET, HEAD"


async def test_a_failed_command_registration_stops_start_up_with_one_reason(
    emulator: DiscordEmulator, world: SandboxWorld, tmp_path: Path
) -> None:
    from bot.errors import StartupError
    from bot.sandbox.runner import sandbox_config

    emulator.inject_fault("PUT", "/applications/{app_id}/commands", 500)
    app = Rimpllee(sandbox_config(emulator, http_port=0, database=tmp_path / "r.db"), max_retries=0)
    with pytest.raises(StartupError, match="could not register slash commands"):
        await app.start()
    assert emulator.gateway.connected == 0  # nothing left running
    assert app.db is None


async def test_sigterm_under_load_exits_within_the_documented_bound(
    tmp_path: Path,
    emulator: DiscordEmulator,
    world: SandboxWorld,
    spawned: list[asyncio.subprocess.Process],
) -> None:
    """Opens stuck on a Discord that doesn't answer: SIGTERM still exits within 8 s (the
    default 5 s grace, then the gateway and the database), and the next start settles them."""
    from bot.sandbox.runner import DEMO_API_KEY, seed_database

    database = tmp_path / "bot.db"
    await seed_database(database, world)
    port = free_port()
    config = write_config(tmp_path / "c.toml", emulator.rest_url, port, token=emulator.token)
    proc = await asyncio.create_subprocess_exec(
        *CLI, "run", "--config", str(config), cwd=tmp_path, stderr=asyncio.subprocess.PIPE
    )
    spawned.append(proc)
    await wait_healthy(f"http://127.0.0.1:{port}/healthz", proc)
    url = f"http://127.0.0.1:{port}/api/v1/tickets"
    async with aiohttp.ClientSession() as http:
        # /healthz is up before start-up's last steps (settling opens, leavers): the API answers
        # 503 not_ready until they are done, and these opens must reach Discord.
        async with asyncio.timeout(30):
            while True:
                panels = f"http://127.0.0.1:{port}/api/v1/panels"
                async with http.get(panels, headers={"x-api-key": DEMO_API_KEY}) as ready:
                    if ready.status != 503:
                        break
                await asyncio.sleep(0.05)
        stuck = emulator.inject_fault(
            "POST", "/guilds/{guild_id}/channels", None, delay=60, times=20
        )

        async def open_one(user_id: int) -> int:
            body = {"userId": str(user_id), "panelId": "pnl_demo", "buttonId": "btn_report"}
            try:
                async with http.post(url, json=body, headers={"x-api-key": DEMO_API_KEY}) as r:
                    return r.status
            except aiohttp.ClientError:
                return 0

        load = [asyncio.ensure_future(open_one(m.id)) for m in world.members[:9]]
        async with asyncio.timeout(10):
            while stuck.remaining == 20:  # the opens are waiting on Discord (hikari queues
                # them behind the first on the route's rate-limit bucket)
                assert not any(job.done() for job in load), [j.result() for j in load if j.done()]
                await asyncio.sleep(0.02)
        began = asyncio.get_running_loop().time()
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
        took = asyncio.get_running_loop().time() - began
        statuses = await asyncio.gather(*load)
    assert proc.returncode == 0, err.decode()
    assert "Traceback" not in err.decode()
    assert took <= 8, f"took {took:.1f} s: {err.decode()}"
    assert set(statuses) <= {0, 503}
    print(f"\nSIGTERM with 9 opens stuck on Discord: exited in {took:.2f} s")
