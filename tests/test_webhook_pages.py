"""The Integrations page's webhooks over real HTTP: endpoints added through the page (the secret
shown once), every delivery with its state, HTTP answer, attempts, next retry and last error, and
"send again" through the same service and access checks as the rest of the page. Also the request
log's request IDs."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.app import Rimpllee
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import SandboxWorld, offer_logins
from tests.dashboard_client import Browserless, Page
from tests.helpers import AUTH, call, opening
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.asyncio

SECRET_RE = re.compile(r'id="new-webhook-secret" class="secret">(whsec_[A-Za-z0-9+/=]+)<')
SEND_AGAIN_RE = re.compile(
    r'action="(/servers/\d+/integrations/webhooks/deliveries/(\d+)/send-again)"'
)


@pytest_asyncio.fixture
async def visitor(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> AsyncIterator[Browserless]:
    offer_logins(emulator, world, app.public_url)
    person = Browserless(app, emulator)
    yield person
    await person.close()


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver()
    await hook.start()
    yield hook
    await hook.stop()


def page_of(world: SandboxWorld) -> str:
    return f"/servers/{world.guild.id}/integrations"


async def add_on_the_page(visitor: Browserless, world: SandboxWorld, url: str) -> Page:
    page = await visitor.get(page_of(world))
    form = {"csrf": page.csrf, "url": url}
    async with visitor.http.post(
        visitor.base + page_of(world) + "/webhooks",
        data=[*form.items(), ("events", "ticket.opened"), ("events", "ticket.closed")],
        allow_redirects=False,
    ) as resp:
        return Page(resp.status, await resp.text(), dict(resp.headers))


def delivery_rows(text: str) -> list[list[str]]:
    """Each delivery row's cells, as text."""
    rows = re.findall(r'<tr class="(?:ok|bad)" data-delivery="\d+">(.*?)</tr>', text, re.S)
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<td>(.*?)</td>", r, re.S)
        ]
        for r in rows
    ]


async def until_page(visitor: Browserless, world: SandboxWorld, check: str) -> Page:
    """The page once `check` shows in it (deliveries happen in the background)."""
    for _ in range(300):
        page = await visitor.get(page_of(world))
        if check in page.text:
            return page
        await asyncio.sleep(0.05)
    raise AssertionError(f"{check!r} never showed on the page")


async def test_an_endpoint_added_on_the_page_gets_events_and_a_delivery_can_be_sent_again(
    app: Rimpllee, visitor: Browserless, world: SandboxWorld, receiver: Receiver
) -> None:
    await visitor.login(world.admin.id)
    added = await add_on_the_page(visitor, world, receiver.url)
    assert added.status == 200, added.text
    found = SECRET_RE.search(added.text)
    assert found is not None
    receiver.secret = found.group(1)  # the receiver verifies every signature with it
    assert "ticket.opened, ticket.closed" in added.text
    # Shown once: the page never shows it again.
    assert receiver.secret not in (await visitor.get(page_of(world))).text

    status, _, _ = await call(app, "POST", "/api/v1/tickets", opening(world.members[1].id))
    assert status == 200
    (event,) = await receiver.wait_for(1)
    page = await until_page(visitor, world, "delivered")
    (row,) = delivery_rows(page.text)
    # Time, state, event, HTTP answer, attempts, next retry, last error.
    assert row[1:7] == ["delivered", f"ticket.opened{event['id']}", "204", "1", "", ""]

    (action, _) = SEND_AGAIN_RE.findall(page.text)[0]
    resent = await visitor.post(action, {"csrf": page.csrf})
    assert resent.status == 303
    assert resent.headers["Location"].endswith("?done=resent#webhooks")
    async with asyncio.timeout(15):
        while len(receiver.received) < 2:
            await asyncio.sleep(0.05)
    assert [e["id"] for e in receiver.received] == [event["id"], event["id"]]  # same ID: dedup
    after = await until_page(visitor, world, "<td>2</td>")
    assert "Delivery queued" in (await visitor.get(page_of(world) + "?done=resent")).text
    (row,) = delivery_rows(after.text)
    assert row[1] == "delivered"
    assert row[4] == "2"


async def test_a_failing_receiver_shows_its_answer_the_next_retry_and_the_error(
    app: Rimpllee, visitor: Browserless, world: SandboxWorld, receiver: Receiver
) -> None:
    await visitor.login(world.admin.id)
    added = await add_on_the_page(visitor, world, receiver.url)
    found = SECRET_RE.search(added.text)
    assert found is not None
    receiver.secret = found.group(1)
    receiver.status = 503
    await call(app, "POST", "/api/v1/tickets", opening(world.members[1].id))
    page = await until_page(visitor, world, "the receiver answered 503")
    (row,) = delivery_rows(page.text)
    assert row[1] == "pending"
    assert row[2].startswith("ticket.openedevt_")
    assert row[3:5] == ["503", "1"]
    assert row[5].endswith(" UTC")  # the next retry, 5 s after the failure
    assert row[6] == "the receiver answered 503"


async def test_send_again_needs_the_csrf_token_and_manage_server(
    app: Rimpllee,
    emulator: DiscordEmulator,
    visitor: Browserless,
    world: SandboxWorld,
    receiver: Receiver,
) -> None:
    await visitor.login(world.admin.id)
    found = SECRET_RE.search((await add_on_the_page(visitor, world, receiver.url)).text)
    assert found is not None
    receiver.secret = found.group(1)
    await call(app, "POST", "/api/v1/tickets", opening(world.members[1].id))
    await receiver.wait_for(1)
    page = await until_page(visitor, world, "delivered")
    (action, delivery_id) = SEND_AGAIN_RE.findall(page.text)[0]

    forged = await visitor.post(action, {"csrf": "not-the-token"})
    assert forged.status == 403
    assert "CSRF" in forged.text

    member = Browserless(app, emulator)
    try:
        await member.login(world.plain_member.id)
        token = (await member.get("/")).csrf
        refused = await member.post(action, {"csrf": token})
        assert refused.status == 403
        assert "Manage Server" in refused.text
    finally:
        await member.close()

    unknown = await visitor.post(
        action.replace(f"/{delivery_id}/", "/999999/"), {"csrf": page.csrf}
    )
    assert unknown.status == 404
    assert "has no webhook delivery 999999" in unknown.text
    assert len(receiver.received) == 1  # nothing refused was sent again
    assert delivery_rows((await visitor.get(page_of(world))).text)[0][4] == "1"


async def test_an_endpoint_is_removed_on_the_page_and_a_bad_url_is_refused(
    visitor: Browserless, world: SandboxWorld, receiver: Receiver
) -> None:
    await visitor.login(world.admin.id)
    refused = await add_on_the_page(visitor, world, "ftp://example.com/hooks")
    assert refused.status == 400
    assert "must be an http(s):// URL" in html.unescape(refused.text)
    added = await add_on_the_page(visitor, world, receiver.url)
    endpoint = re.search(
        r'action="(/servers/\d+/integrations/webhooks/(whe_[0-9a-f]+)/remove)"', added.text
    )
    assert endpoint is not None
    page = await visitor.get(page_of(world))
    removed = await visitor.post(endpoint.group(1), {"csrf": page.csrf})
    assert removed.status == 303
    after = await visitor.get(removed.headers["Location"])
    assert "Webhook endpoint removed" in after.text
    assert endpoint.group(2) not in after.text


async def test_the_request_log_shows_each_requests_id(
    app: Rimpllee, visitor: Browserless, world: SandboxWorld
) -> None:
    await visitor.login(world.admin.id)
    mine = {**AUTH, "X-Request-Id": "site-order-4711"}
    status, _, headers = await call(
        app, "POST", "/api/v1/tickets", opening(world.members[2].id), headers=mine
    )
    assert (status, headers["X-Request-Id"]) == (200, "site-order-4711")
    _, _, generated = await call(app, "POST", "/api/v1/tickets", {"userId": "nope"})
    page = await visitor.get(page_of(world))
    table = page.text.split('id="requests"', 1)[1]
    assert "<code>site-order-4711</code>" in table
    assert f"<code>{generated['X-Request-Id']}</code>" in table
    assert table.index(generated["X-Request-Id"]) < table.index("site-order-4711")  # newest first
