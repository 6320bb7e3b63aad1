"""Real-browser tests: the system's Chromium driven by Playwright, or a clean skip saying why.

`needs_chromium` is the one condition every browser test uses (Debian's `chromium` package;
Playwright never downloads a browser here). `.ci/run` installs Chromium before the tests.
The dashboard's browser tests share the rest: a real `rimpllee sandbox` process, what a page
must not do (`Watch`), screenshots, the emulated login.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Browser

CHROMIUM = Path(os.environ.get("RIMPLLEE_CHROMIUM", "/usr/bin/chromium"))
INSTALL = "apt-get update && apt-get install -y chromium fonts-noto-color-emoji"
# conftest's summary finds these skips by the "browser test:" prefix and names them at the end.
SKIP_REASON = f"browser test: no Chromium at {CHROMIUM} (install it, as root: {INSTALL})"


def chromium_missing() -> bool:
    return not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK))


needs_chromium = pytest.mark.skipif(chromium_missing(), reason=SKIP_REASON)


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A headless Chromium."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"]
        )
        try:
            yield browser
        finally:
            await browser.close()


SCREENSHOTS = Path(__file__).resolve().parent.parent / "data" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


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


@contextlib.asynccontextmanager
async def running_sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    """`rimpllee sandbox` as a newcomer runs it; the dashboard URL is read from what it prints."""
    from tests.conftest import CLI  # conftest imports this module: not at the top

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
