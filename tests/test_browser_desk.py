"""Tickets, transcripts and panels in a real browser (Debian's Chromium through Playwright),
against a real `rimpllee sandbox` process, with screenshots at desktop and phone width."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.test_browser import (
    CHROMIUM,
    DESKTOP,
    INSTALL,
    PHONE,
    Sandbox,
    Watch,
    browser,  # noqa: F401 - a fixture
    log_in,
    sandbox,  # noqa: F401 - a fixture
    shot,
)

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"browser test: Chromium is not installed (as root: {INSTALL})",
    ),
]


async def emulated(box: Sandbox, action: str, body: dict[str, Any]) -> dict[str, Any]:
    """A member acting in the emulated Discord (clicks, forms, messages)."""
    url = box.state["discord_rest_url"].removesuffix("/api/v10") + f"/_sandbox/{action}"
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as resp:
        assert resp.status == 200, await resp.text()
        answer: dict[str, Any] = await resp.json()
        return answer


async def api_open(box: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            box.api_url + "/tickets",
            json=body,
            headers={"Authorization": f"Bearer {box.state['api_key']}"},
        ) as resp,
    ):
        answer: dict[str, Any] = await resp.json()
        assert resp.status == 200, answer
        return answer


async def test_staff_work_a_ticket_and_only_its_opener_reads_the_transcript(
    sandbox: Sandbox,  # noqa: F811 - the imported fixture
    browser: Any,  # noqa: F811
) -> None:
    opener = sandbox.state["member_ids"][0]  # member01
    opened = await api_open(
        sandbox,
        {
            "userId": opener,
            "panelId": "pnl_demo",
            "buttonId": "btn_help",
            "answers": [{"label": "What do you need help with?", "value": "My order never came"}],
        },
    )
    channel = opened["ticket"]["channelId"]
    await emulated(
        sandbox, "say", {"user_id": opener, "channel_id": channel, "content": "Any news?"}
    )
    support = sandbox.state["support_member_id"]
    await emulated(
        sandbox,
        "say",
        {"user_id": support, "channel_id": channel, "content": "On it, **checking** now."},
    )

    # A support member finds it from "My tickets" → their desk, claims it and closes it.
    watch = Watch(sandbox.origins())
    staff = await browser.new_context(viewport=DESKTOP)
    page = await staff.new_page()
    watch.attach(page)
    await log_in(page, sandbox, "support01")
    await page.get_by_role("link", name="My tickets").click()
    await page.get_by_role("link", name="Rimpllee Sandbox").click()
    await page.get_by_role("heading", name="Tickets").wait_for()
    assert "Integrations" not in await page.locator("nav.server").inner_text()
    row = page.locator("#tickets tbody tr").first
    assert "member01" in await row.inner_text()
    assert "Get help" in await row.inner_text()
    await shot(page, "tickets")
    await page.get_by_label("Search").fill("member01")
    await page.get_by_role("button", name="Show").click()
    await page.locator("#tickets").wait_for()
    await row.get_by_role("link").click()
    await page.get_by_role("heading", name="Ticket #").wait_for()
    assert "My order never came" in await page.locator(".answers").inner_text()
    await page.get_by_role("button", name="Claim").click()
    await page.get_by_text("You handle this ticket now.").wait_for()
    assert "support01" in await page.locator("#details").inner_text()
    await page.get_by_label("Reason for closing").fill("Refund sent")
    await page.get_by_role("button", name="Close ticket").click()
    await page.get_by_text("Ticket closed.").wait_for()
    ticket_url = page.url.split("?")[0]
    frame = page.frame_locator("#transcript")
    await frame.get_by_text("On it,").wait_for()
    assert await frame.locator("strong", has_text="checking").count() == 1
    await shot(page, "ticket-closed")
    await staff.close()

    # The opener logs in on a phone and reads it from "My tickets".
    member = await browser.new_context(viewport=PHONE)
    page = await member.new_page()
    watch.attach(page)
    await log_in(page, sandbox, "member01")
    await page.get_by_role("link", name="My tickets").click()
    await shot(page, "phone-my-tickets")
    await page.get_by_role("link", name="Ticket #").first.click()
    assert page.url.split("?")[0] == ticket_url
    await page.frame_locator("#transcript").get_by_text("Any news?").wait_for()
    assert await page.locator("#staff-actions").count() == 0
    await shot(page, "phone-ticket")
    async with member.expect_page() as opened_tab:
        await page.get_by_role("link", name="Open the transcript in its own tab").click()
    tab = await opened_tab.value
    await tab.get_by_text("Refund sent").first.wait_for()
    await member.close()
    assert watch.problems == []

    # Another member: the same URL is a 404, as for a ticket that does not exist.
    other = await browser.new_context(viewport=PHONE)
    page = await other.new_page()
    await page.goto(sandbox.dashboard_url)
    await page.get_by_role("link", name="Log in with Discord").click()
    await page.get_by_label("Someone else").select_option(label="member02")
    await page.get_by_role("button", name="Log in as this user").click()
    await page.wait_for_url(sandbox.dashboard_url)
    response = await page.goto(ticket_url)
    assert response is not None
    assert response.status == 404
    assert await page.get_by_role("heading", name="Not found").count() == 1
    transcript = await page.goto(ticket_url + "/transcript/")
    assert transcript is not None
    assert transcript.status == 404
    await shot(page, "phone-ticket-404")
    await other.close()
