"""The dashboard's settings page edits the automation settings (inactivity auto-close, the opener
leaving, feedback) through the same service as `/settings`: over real HTTP with each refusal under
its field, and in a real browser."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from bot.app import Rimpllee
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import SandboxWorld, offer_logins
from bot.store.settings import SqliteSettingsStore
from tests.browser import DESKTOP, Sandbox, Watch, log_in, needs_chromium, shot
from tests.dashboard_client import Browserless, Page
from tests.helpers import settings

pytestmark = pytest.mark.asyncio


def error_under(page: Page, field: str) -> str:
    found = re.search(rf'id="error-{field}">([^<]*)<', page.text)
    assert found is not None, f"no message under {field}"
    return html.unescape(found.group(1))


async def test_the_settings_page_edits_the_automation_settings(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    offer_logins(emulator, world, app.public_url)
    admin = Browserless(app, emulator)
    try:
        await admin.login(world.admin.id)
        url = f"/servers/{world.guild.id}/settings"
        # What `/settings` set shows on the page.
        await settings(emulator, world, "inactivity", warn_hours=2.0, close_hours=1.5)
        page = await admin.get(url)
        assert 'name="inactivity_warn_hours" min="0" max="8760" step="any" value="2"' in page.text
        assert (
            'name="inactivity_close_hours" min="0" max="8760" step="any" value="1.5"' in page.text
        )
        form: dict[str, Any] = {
            "csrf": page.csrf,
            "close_mode": "delete",
            "opener_can_close": "on",
            "inactivity_warn_hours": "48",
            "inactivity_close_hours": "12",
            "opener_left": "close",
            "feedback": "on",
        }
        assert (await admin.post(url, form)).status == 303
        assert app.db is not None
        saved = await SqliteSettingsStore(app.db).get(world.guild.id)
        assert (saved.inactivity_warn_hours, saved.inactivity_close_hours) == (48.0, 12.0)
        assert (saved.opener_left, saved.feedback) == ("close", True)
        # The same values as `/settings show` reports them.
        shown = await settings(emulator, world, "show")
        assert "warn after 48 h without the opener, close 12 h later" in shown
        assert "When the opener leaves: close the ticket" in shown
        for bad, field, message in (
            ({"inactivity_warn_hours": "soon"}, "inactivity_warn_hours", "must be a number"),
            ({"inactivity_warn_hours": "9999"}, "inactivity_warn_hours", "from 0 (off) to 8760"),
            ({"inactivity_close_hours": "0"}, "inactivity_close_hours", "more than 0"),
            ({"opener_left": "ban"}, "opener_left", "pick keep or close"),
        ):
            refused = await admin.post(url, form | bad)
            assert refused.status == 400, bad
            assert message in error_under(refused, field), bad
        # Off again: an empty (or 0) warning turns inactivity auto-close off.
        off = form | {"inactivity_warn_hours": "0", "opener_left": "keep"}
        del off["feedback"]
        assert (await admin.post(url, off)).status == 303
        saved = await SqliteSettingsStore(app.db).get(world.guild.id)
        assert (saved.inactivity_warn_hours, saved.opener_left, saved.feedback) == (
            None,
            "keep",
            False,
        )
    finally:
        await admin.close()


@pytest.mark.browser
@needs_chromium
async def test_an_admin_turns_on_inactivity_auto_close_in_the_browser(
    sandbox: Sandbox, browser: Any
) -> None:
    watch = Watch(sandbox.origins())
    context = await browser.new_context(viewport=DESKTOP)
    page = await context.new_page()
    watch.attach(page)
    await log_in(page, sandbox, "sandbox-admin")
    await page.goto(f"{sandbox.dashboard_url}servers/{sandbox.state['guild_id']}/settings")
    await page.get_by_label("Inactivity: warn after").fill("36")
    await page.get_by_label("and close it").fill("6")
    await page.get_by_label("close it (reason “opener left”)").check()
    await page.get_by_label("Ask openers by DM to rate").check()
    await page.get_by_role("button", name="Save settings").click()
    await page.wait_for_url(re.compile(r".*/settings\?done=saved$"))
    assert await page.get_by_label("Inactivity: warn after").input_value() == "36"
    assert await page.get_by_label("and close it").input_value() == "6"
    assert await page.get_by_label("close it (reason “opener left”)").is_checked()
    assert await page.get_by_label("Ask openers by DM to rate").is_checked()
    await shot(page, "desktop-settings-automation")
    # The sandbox is shared with the other browser tests: back to the defaults.
    await page.get_by_label("Inactivity: warn after").fill("")
    await page.get_by_label("and close it").fill("24")
    await page.get_by_label("keep the ticket and say so in it").check()
    await page.get_by_label("Ask openers by DM to rate").uncheck()
    await page.get_by_role("button", name="Save settings").click()
    await page.wait_for_url(re.compile(r".*/settings\?done=saved$"))
    assert await page.get_by_label("Inactivity: warn after").input_value() == ""
    await context.close()
    assert watch.problems == []
