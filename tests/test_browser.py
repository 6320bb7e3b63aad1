"""The dashboard in a real browser (Debian's Chromium driven by Playwright), against a real
`rimpllee sandbox` process: what a newcomer does, click by click, with screenshots to look at.

Without Chromium these tests are skipped, and the run's summary says how to install it.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from typing import Any

import aiohttp
import pytest

from tests.browser import (
    DESKTOP,
    PHONE,
    Sandbox,
    Watch,
    log_in,
    needs_chromium,
    shot,
)

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.browser,
    needs_chromium,
]


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
