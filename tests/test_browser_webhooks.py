"""The Integrations page's webhooks in a real browser against a real `rimpllee sandbox`: an admin
adds an endpoint (its secret shown once), a ticket opened through the API is delivered, the
delivery shows on the page, and "Send again" sends it again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from bot.sandbox.runner import DEMO_API_KEY
from tests.browser import DESKTOP, PHONE, Sandbox, Watch, log_in, needs_chromium, shot
from tests.webhook_receiver import Receiver

pytestmark = [pytest.mark.asyncio, pytest.mark.browser, needs_chromium]


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver()
    await hook.start()
    yield hook
    await hook.stop()


async def open_ticket(sandbox: Sandbox, request_id: str) -> None:
    body = {
        "userId": sandbox.state["member_ids"][4],
        "panelId": "pnl_demo",
        "buttonId": "btn_report",
    }
    headers = {"Authorization": f"Bearer {DEMO_API_KEY}", "X-Request-Id": request_id}
    async with (
        aiohttp.ClientSession() as http,
        http.post(sandbox.api_url + "/tickets", json=body, headers=headers) as resp,
    ):
        assert resp.status == 200, await resp.text()


async def test_an_admin_adds_a_webhook_sees_its_delivery_and_sends_it_again(
    sandbox: Sandbox, browser: Any, receiver: Receiver
) -> None:
    watch = Watch(sandbox.origins())
    context = await browser.new_context(viewport=DESKTOP)
    page = await context.new_page()
    watch.attach(page)
    await log_in(page, sandbox, "sandbox-admin")
    await page.get_by_role("link", name="Rimpllee Sandbox").click()
    await page.get_by_role("heading", name="Webhooks").wait_for()

    await page.get_by_label("Endpoint URL").fill(receiver.url)
    await page.get_by_label("ticket.deleted").uncheck()
    await page.get_by_role("button", name="Add endpoint").click()
    secret = await page.locator("#new-webhook-secret").inner_text()
    assert secret.startswith("whsec_")
    receiver.secret = secret
    await shot(page, "webhook-added")

    await open_ticket(sandbox, "shop-checkout-17")
    (event,) = await receiver.wait_for(1)
    assert event["type"] == "ticket.opened"
    await page.get_by_role("link", name="Integrations").click()
    assert secret not in await page.content()  # shown once, never again
    row = page.locator("table.deliveries tbody tr").first
    async with asyncio.timeout(30):  # delivered in the background; the page shows what is stored
        while "delivered" not in await row.inner_text():
            await page.reload()
    cells = [c.strip() for c in await row.locator("td").all_inner_texts()]
    assert cells[1:7] == ["delivered", f"ticket.opened\n{event['id']}", "204", "1", "", ""]
    assert "shop-checkout-17" in await page.locator("#requests tbody tr").first.inner_text()
    await shot(page, "webhook-deliveries")

    await row.get_by_role("button", name="Send again").click()
    await page.get_by_text("Delivery queued").wait_for()
    async with asyncio.timeout(30):
        while len(receiver.received) < 2:
            await asyncio.sleep(0.05)
    assert [e["id"] for e in receiver.received] == [event["id"]] * 2  # one ID: dedup works
    async with asyncio.timeout(30):
        while (await page.locator("table.deliveries tbody tr td").nth(4).inner_text()) != "2":
            await page.reload()

    await page.set_viewport_size(PHONE)
    await shot(page, "webhook-deliveries-phone")
    await context.close()
    assert not watch.problems, watch.problems
