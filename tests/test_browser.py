"""The dashboard in a real browser (Debian's Chromium driven by Playwright), against a real
`rimpllee sandbox` process: what a newcomer does, click by click, with screenshots to look at.

Without Chromium these tests are skipped, and the run's summary says how to install it.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import signal
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.browser import chromium, needs_chromium
from tests.conftest import CLI

SCREENSHOTS = Path(__file__).resolve().parent.parent / "data" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.browser,
    needs_chromium,
]


@dataclass
class Sandbox:
    dashboard_url: str
    state: dict[str, Any]
    output: list[str] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return str(self.state["api_url"])

    def origins(self) -> set[str]:
        """Where the sandbox's pages may load from: the dashboard and the emulated Discord."""
        discord = urllib.parse.urlsplit(self.state["discord_rest_url"])
        return {urllib.parse.urlsplit(self.dashboard_url).netloc, discord.netloc}


@pytest_asyncio.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    """`rimpllee sandbox` as a newcomer runs it; the dashboard URL is read from what it prints."""
    state_file = tmp_path / "sandbox.json"
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        "sandbox",
        "--port",
        "0",  # free ports, picked by the OS: the URLs are read from what it prints
        "--discord-port",
        "0",
        "--state-file",
        str(state_file),
        "--data-dir",
        str(tmp_path),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    url = None
    try:
        async with asyncio.timeout(60):
            while url is None:
                line = (await proc.stdout.readline()).decode()
                assert line, "the sandbox exited before printing its dashboard URL"
                lines.append(line)
                if found := re.match(r"\s*Dashboard:\s+(\S+)", line):
                    url = found.group(1)
        drain = asyncio.create_task(_drain(proc.stdout, lines))
        state = json.loads(state_file.read_text())
        assert state["dashboard_url"] == url
        yield Sandbox(url, state, lines)
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 30)
    await drain


async def _drain(stream: asyncio.StreamReader, lines: list[str]) -> None:
    while line := await stream.readline():
        lines.append(line.decode())


class Watch:
    """Everything a page did that it shouldn't: console errors (CSP violations are reported
    there), uncaught exceptions, failed requests, and requests that leave the sandbox."""

    def __init__(self, allowed_hosts: set[str]) -> None:
        self.allowed = allowed_hosts
        self.problems: list[str] = []

    def attach(self, page: Any) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("request", self._request)
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _failed(self, request: Any) -> None:
        # A click that navigates on cancels what the old page was still loading (its icon, say):
        # that is the browser moving on, not the page failing.
        if request.failure != "net::ERR_ABORTED":
            self.problems.append(f"failed: {request.url} ({request.failure})")

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.problems.append(f"answered {response.status}: {response.url}")

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text}")

    def _request(self, request: Any) -> None:
        if urllib.parse.urlsplit(request.url).netloc not in self.allowed:
            self.problems.append(f"external request: {request.url}")


async def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    width = await page.evaluate("document.documentElement.scrollWidth")
    viewport = await page.evaluate("window.innerWidth")
    assert width <= viewport, (
        f"{name}: the page is wider ({width}px) than the screen ({viewport}px)"
    )


async def log_in(page: Any, sandbox: Sandbox, who: str) -> None:
    await page.goto(sandbox.dashboard_url)
    await page.get_by_role("link", name="Log in with Discord").click()
    await page.get_by_role("button", name=who, exact=True).click()
    await page.wait_for_url(sandbox.dashboard_url)


async def api_status(api_url: str, key: str, body: dict[str, Any]) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            api_url + "/tickets", json=body, headers={"Authorization": f"Bearer {key}"}
        ) as resp,
    ):
        return resp.status


async def run_in_terminal(command: str) -> dict[str, Any]:
    """The copied text, pasted into a shell as is."""
    proc = await asyncio.create_subprocess_exec(
        "bash", "-c", command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    answer: dict[str, Any] = json.loads(out)
    return answer


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Any]:
    async with chromium() as launched:
        yield launched


@pytest.mark.skipif(shutil.which("curl") is None, reason="browser test: curl is not installed")
async def test_newcomer_generates_a_key_and_the_pasted_curl_opens_a_ticket(
    sandbox: Sandbox, browser: Any
) -> None:
    watch = Watch(sandbox.origins())
    context = await browser.new_context(viewport=DESKTOP)
    await context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = await context.new_page()
    watch.attach(page)
    await page.goto(sandbox.dashboard_url)
    await shot(page, "login")
    await page.get_by_role("link", name="Log in with Discord").click()
    await shot(page, "emulated-discord-authorize")
    await page.get_by_role("button", name="sandbox-admin", exact=True).click()
    await page.wait_for_url(sandbox.dashboard_url)
    await shot(page, "servers")
    await page.get_by_role("link", name="Rimpllee Sandbox").click()
    await page.get_by_role("heading", name="Integrations").wait_for()
    assert await page.locator("#key-prefix").inner_text() == "rmp_sandbox-…"

    # The seeded demo key goes first (revoked, after a confirmation), then a new one is made.
    await page.get_by_role("link", name="Revoke").click()
    await shot(page, "revoke-confirm")
    await page.get_by_role("button", name="Revoke").click()
    await page.get_by_text("API key revoked").wait_for()
    await page.get_by_role("button", name="Generate API key").click()
    key = await page.locator("#new-key").inner_text()
    assert re.fullmatch(r"rmp_[A-Za-z0-9_-]{43}", key)
    await shot(page, "integrations-new-key")
    await page.locator("button[data-copy=new-key]").click()
    assert await page.evaluate("navigator.clipboard.readText()") == key

    # Copy the page's curl and paste it into a terminal: the ticket opens.
    await page.locator("button[data-copy=curl]").click()
    await page.locator("button[data-copy=curl]", has_text="Copied").wait_for()
    curl = await page.evaluate("navigator.clipboard.readText()")
    assert key in curl
    answer = await run_in_terminal(curl)
    assert answer["ok"] is True, answer
    assert answer["ticket"]["channelId"].isdigit()
    await page.get_by_role("link", name="Integrations").click()
    assert "200" in await page.locator("#requests tbody tr").first.inner_text()
    assert key not in await page.content()  # shown once, never again
    await shot(page, "integrations")

    # Regenerate: the old key is refused from the next request, the new one opens tickets.
    await page.get_by_role("link", name="Regenerate").click()
    await page.get_by_role("button", name="Regenerate").click()
    new_key = await page.locator("#new-key").inner_text()
    member = sandbox.state["member_ids"][5]
    body = {"userId": member, "panelId": "pnl_demo", "buttonId": "btn_report"}
    assert await api_status(sandbox.api_url, key, body) == 401
    assert await api_status(sandbox.api_url, new_key, body) == 200
    await page.get_by_role("link", name="Revoke").click()
    await page.get_by_role("button", name="Revoke").click()
    await page.get_by_text("API key revoked").wait_for()
    assert await api_status(sandbox.api_url, new_key, body) == 401

    # A forged request (the session's cookie, no CSRF token) is refused and changes nothing.
    guild = sandbox.state["guild_id"]
    forged = await page.request.post(
        f"{sandbox.dashboard_url}servers/{guild}/integrations/generate", form={"x": "1"}
    )
    assert forged.status == 403
    await page.get_by_role("link", name="Integrations").click()
    assert await page.get_by_text("No key").count() == 1

    # Blacklist and settings, picked by name.
    await page.get_by_role("link", name="Blacklist").click()
    await page.get_by_label("Member").select_option(label="member03")
    await page.get_by_label("Reason").fill("testing the dashboard")
    await page.get_by_role("button", name="Add to the blacklist").click()
    await page.get_by_text("Added to the blacklist.").wait_for()
    await shot(page, "blacklist")
    await page.get_by_role("link", name="Settings").click()
    await page.get_by_label("Log channel").select_option(label="#general")
    await page.get_by_role("button", name="Save settings").click()
    await page.get_by_text("Settings saved.").wait_for()
    await shot(page, "settings")

    # At a phone's width every page still fits the screen.
    await page.set_viewport_size(PHONE)
    for tab, name in (
        ("Settings", "settings"),
        ("Blacklist", "blacklist"),
        ("Integrations", "integrations"),
    ):
        await page.get_by_role("link", name=tab).click()
        await shot(page, f"phone-{name}")

    # Logout ends the session: the pages ask for a login again.
    await page.get_by_role("button", name="Log out").click()
    await page.get_by_role("link", name="Log in with Discord").wait_for()
    await page.goto(f"{sandbox.dashboard_url}servers/{guild}/integrations")
    assert "/login" in page.url or "authorize" in page.url
    await context.close()
    assert watch.problems == []


async def test_a_plain_member_gets_a_403_page(sandbox: Sandbox, browser: Any) -> None:
    watch = Watch(sandbox.origins())
    context = await browser.new_context(viewport=PHONE)
    page = await context.new_page()
    watch.attach(page)
    await log_in(page, sandbox, "member01")
    assert await page.get_by_text("No server to manage").count() == 1
    await shot(page, "phone-no-servers")
    response = await page.goto(
        f"{sandbox.dashboard_url}servers/{sandbox.state['guild_id']}/integrations"
    )
    assert response is not None
    assert response.status == 403
    assert await page.get_by_role("heading", name="Not allowed").count() == 1
    await shot(page, "phone-403")
    await context.close()
    # The 403 itself is reported on the console by Chromium; nothing else may be.
    assert [p for p in watch.problems if "403" not in p] == []
