"""The README's sandbox examples, run as written against a real `rimpllee sandbox` process.

The sandbox's IDs are fixed, so the README can show real responses; this keeps them true.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.conftest import CLI
from tests.helpers import free_port

pytestmark = pytest.mark.asyncio

README = (Path(__file__).parent.parent / "README.md").read_text("utf-8")
API = "http://127.0.0.1:8080"
DISCORD = "http://127.0.0.1:8081"


def section(title: str) -> str:
    start = README.index(title)
    return README[start : README.index("\n#", start + len(title))]


class Sandbox:
    def __init__(self, api: str, discord: str) -> None:
        self.api = api
        self.discord = discord

    def url(self, readme_url: str) -> str:
        return readme_url.replace(API, self.api).replace(DISCORD, self.discord)


@pytest_asyncio.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    api_port, discord_port = free_port(), free_port()
    state = tmp_path / "sandbox.json"
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        "sandbox",
        "--port",
        str(api_port),
        "--discord-port",
        str(discord_port),
        "--state-file",
        str(state),
        "--data-dir",
        str(tmp_path),
        cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(30):
            while not state.exists():
                assert proc.returncode is None, "the sandbox exited"
                await asyncio.sleep(0.1)
        yield Sandbox(f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{discord_port}")
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 30)


async def post(url: str, body: str, headers: dict[str, str]) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as resp:
        return resp.status, await resp.json()


async def test_the_first_curl_answers_what_the_readme_shows(sandbox: Sandbox) -> None:
    block = README[README.index("The sandbox prints a ready-to-paste `curl`") :]
    body = re.search(r"-d '(\{.*?\})'\n", block)
    shown = re.search(r"\n# (\{\"ok\": true.*\})\n", block)
    assert body is not None
    assert shown is not None
    headers = {
        "Authorization": "Bearer rmp_sandbox-demo-key-not-secret-000000000000000",
        "Content-Type": "application/json",
    }
    status, answer = await post(sandbox.url(API + "/api/v1/tickets"), body.group(1), headers)
    assert status == 200
    assert answer == json.loads(shown.group(1))


async def test_every_status_the_readme_lists_is_what_the_sandbox_answers(
    sandbox: Sandbox,
) -> None:
    headers = {
        "x-api-key": "rmp_sandbox-demo-key-not-secret-000000000000000",
        "Content-Type": "application/json",
    }
    checked = 0
    for line in section("### Try every status in the sandbox").splitlines():
        expected = re.search(r"#\s+(\d{3})(?: (\w+))?", line)
        if line.startswith("curl") and "_sandbox/faults" in line:
            async with aiohttp.ClientSession() as http:
                await http.post(sandbox.url(DISCORD + "/_sandbox/faults"))
            continue
        if expected is None or "after 20 s" in line:
            continue
        if line.startswith("open '"):
            body = line[len("open '") : line.index("'", len("open '"))]
            status, answer = await post(sandbox.url(API + "/api/v1/tickets"), body, headers)
        else:
            key = re.search(r'x-api-key: (\S+)"', line)
            assert key is not None, line
            url = sandbox.url(API + "/api/v1/tickets")
            status, answer = await post(url, "{}", {"x-api-key": key.group(1)})
        assert status == int(expected.group(1)), (line, answer)
        if expected.group(2) and status != 200:
            assert answer["error"]["code"] == expected.group(2), (line, answer)
        checked += 1
    assert checked == 7  # 200, 429, 400, 403, 404, 401, 500 (409 needs the 20 s wait)
