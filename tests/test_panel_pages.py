"""The panels editor over real HTTP: every change through the slash commands' PanelService, its
messages under the field at fault, posting and refreshing in the emulated Discord, and the panels
file exported and imported from the page."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.app import Rimpllee
from bot.core.panel_file import dump_panels
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import SandboxWorld, offer_logins
from bot.sandbox.state import Message
from bot.store.panels import SqlitePanelStore
from tests.dashboard_client import Browserless, Page

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def admin(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> AsyncIterator[Browserless]:
    offer_logins(emulator, world, app.public_url)
    person = Browserless(app, emulator)
    assert (await person.login(world.admin.id)).status == 303
    yield person
    await person.close()


def panels_url(world: SandboxWorld) -> str:
    return f"/servers/{world.guild.id}/panels"


async def follow(person: Browserless, answer: Page) -> Page:
    assert answer.status == 303, answer.text
    return await person.get(answer.headers["Location"])


def error_under(page: Page, field: str) -> str:
    found = re.search(rf'id="error-{field}">([^<]*)<', page.text)
    assert found is not None, f"no message under {field}"
    return html.unescape(found.group(1))


def posted(emulator: DiscordEmulator, channel_id: int) -> Message:
    messages = list(emulator.state.messages.get(channel_id, {}).values())
    assert len(messages) == 1
    return messages[0]


async def make_panel(admin: Browserless, world: SandboxWorld) -> tuple[str, str]:
    """A panel with one button; returns (panel URL, button URL)."""
    page = await admin.get(panels_url(world))
    answer = await admin.post(
        panels_url(world),
        {"csrf": page.csrf, "title": "Billing desk", "description": "", "colour": "#248046"},
    )
    created = await follow(admin, answer)
    assert "Panel created." in created.text
    panel_url = answer.headers["Location"].split("?")[0]
    button = await admin.post(panel_url + "/button", {"csrf": page.csrf, "label": "Refunds"})
    assert button.status == 303
    return panel_url, button.headers["Location"].split("?")[0]


async def test_build_post_and_refresh_a_panel(
    admin: Browserless, world: SandboxWorld, emulator: DiscordEmulator, app: Rimpllee
) -> None:
    panel_url, button_url = await make_panel(admin, world)
    page = await admin.get(button_url)
    saved = await admin.post(
        button_url,
        {
            "csrf": page.csrf,
            "label": "Refunds",
            "emoji": "💸",
            "style": "success",
            "category_id": str(world.category_id),
            "support_role_ids": str(world.support_role_id),
            "name_pattern": "refund-{number}",
            "max_open": "2",
            "welcome_text": "Tell us the order number.",
        },
    )
    page = await follow(admin, saved)
    assert "Saved." in page.text
    added = await admin.post(
        button_url + "/questions",
        {"csrf": page.csrf, "label": "Order number", "style": "short", "required": "on"},
    )
    page = await follow(admin, added)
    assert "Question added." in page.text
    assert re.search(r'data-preview="qst_[a-z0-9]+-label">Order number<', page.text)

    assert app.db is not None
    (panel,) = [
        p
        for p in await SqlitePanelStore(app.db).list_panels(world.guild.id)
        if p.title == "Billing desk"
    ]
    (button,) = panel.buttons
    assert (button.emoji, button.style, button.category_id) == ("💸", "success", world.category_id)
    assert button.support_role_ids == (world.support_role_id,)
    assert (button.name_pattern, button.max_open) == ("refund-{number}", 2)
    assert [q.label for q in button.questions] == ["Order number"]

    # Post it: the emulated Discord shows the message with its button.
    page = await admin.get(panel_url)
    posted_page = await follow(
        admin,
        await admin.post(
            panel_url + "/post", {"csrf": page.csrf, "channel_id": str(world.panel_channel_id)}
        ),
    )
    assert "Posted" in posted_page.text
    message = posted(emulator, world.panel_channel_id)
    assert message.embeds[0]["title"] == "Billing desk"
    assert [c["label"] for row in message.components for c in row["components"]] == ["Refunds"]

    # A change refreshes the posted message in place.
    await follow(
        admin,
        await admin.post(
            panel_url,
            {"csrf": page.csrf, "title": "Billing", "description": "Money", "colour": "#ff0000"},
        ),
    )
    message = posted(emulator, world.panel_channel_id)
    assert message.embeds[0]["title"] == "Billing"
    assert message.embeds[0]["color"] == 0xFF0000

    # A second button, moved before the first.
    second = await admin.post(panel_url + "/button", {"csrf": page.csrf, "label": "Invoices"})
    second_url = second.headers["Location"].split("?")[0]
    await follow(
        admin, await admin.post(second_url + "/move", {"csrf": page.csrf, "direction": "up"})
    )
    message = posted(emulator, world.panel_channel_id)
    labels = [c["label"] for row in message.components for c in row["components"]]
    assert labels == ["Invoices", "Refunds"]

    # Deleting the panel deletes its message.
    refused = await admin.post(panel_url + "/delete", {"csrf": page.csrf})
    assert refused.status == 400
    assert error_under(refused, "delete-confirm") == "tick the box to confirm"
    gone = await follow(
        admin, await admin.post(panel_url + "/delete", {"csrf": page.csrf, "confirm": "on"})
    )
    assert "Panel deleted." in gone.text
    assert emulator.state.messages.get(world.panel_channel_id, {}) == {}


async def test_the_services_messages_show_under_the_field_at_fault(
    admin: Browserless, world: SandboxWorld
) -> None:
    panel_url, button_url = await make_panel(admin, world)
    page = await admin.get(panel_url)
    long_title = await admin.post(
        panel_url, {"csrf": page.csrf, "title": "x" * 300, "description": "", "colour": ""}
    )
    assert long_title.status == 400
    assert error_under(long_title, "title").endswith(
        "the title is 300 characters; Discord allows at most 256"
    )
    assert 'value="' + "x" * 300 + '"' in long_title.text  # what was typed stays in the form
    colour = await admin.post(
        panel_url, {"csrf": page.csrf, "title": "Ok", "description": "", "colour": "teal"}
    )
    assert (
        error_under(colour, "colour") == "'teal' is not a colour; use six hex digits like #5865F2"
    )

    base = {
        "csrf": page.csrf,
        "label": "Refunds",
        "style": "primary",
        "name_pattern": "ticket-{number}",
        "max_open": "1",
    }
    for change, field, message in (
        ({"label": "y" * 81}, "label", "Discord allows at most 80"),
        ({"emoji": "smile"}, "emoji", "is not an emoji"),
        ({"max_open": "lots"}, "max_open", "max_open must be a whole number"),
        ({"max_open": "99"}, "max_open", "max_open must be between 1 and 25"),
        ({"name_pattern": " "}, "name_pattern", "the channel name pattern must not be empty"),
        ({"support_role_ids": "123"}, "support_role_ids", "pick the support roles from the list"),
    ):
        refused = await admin.post(button_url, base | change)
        assert refused.status == 400, change
        assert message in error_under(refused, field), change

    added = await admin.post(
        button_url + "/questions",
        {"csrf": page.csrf, "label": "z" * 46, "style": "short"},
    )
    assert added.status == 400
    assert "Discord allows at most 45" in error_under(added, "new-label")
    await follow(
        admin,
        await admin.post(button_url + "/questions", {"csrf": page.csrf, "label": "Order"}),
    )
    page = await admin.get(button_url)
    question_id = re.search(r'/questions/(qst_[a-z0-9]+)"', page.text)
    assert question_id is not None
    qid = question_id.group(1)
    bounds = await admin.post(
        f"{button_url}/questions/{qid}",
        {"csrf": page.csrf, "label": "Order", "min_length": "9", "max_length": "3"},
    )
    assert bounds.status == 400
    assert "min_length (9) is more than max_length (3)" in error_under(bounds, f"{qid}-min_length")

    # A second question, moved up: the form asks it first (the preview and the stored button).
    await follow(
        admin,
        await admin.post(button_url + "/questions", {"csrf": page.csrf, "label": "Date"}),
    )
    page = await admin.get(button_url)
    assert questions_shown(page.text) == ["Order", "Date"]
    date_id = re.findall(r'/questions/(qst_[a-z0-9]+)"', page.text)[-1]
    assert date_id != qid
    assert f"/questions/{qid}/move" in page.text  # "Down" on the first, "Up" on the last
    moved = await follow(
        admin,
        await admin.post(
            f"{button_url}/questions/{date_id}/move", {"csrf": page.csrf, "direction": "up"}
        ),
    )
    assert "Moved." in moved.text
    assert questions_shown(moved.text) == ["Date", "Order"]
    assert moves_offered(moved.text, qid) == ["up"]  # the last one can only go up
    # Up from the top stays at the top; another button's question is not found here.
    await follow(
        admin,
        await admin.post(
            f"{button_url}/questions/{date_id}/move", {"csrf": page.csrf, "direction": "up"}
        ),
    )
    assert questions_shown((await admin.get(button_url)).text) == ["Date", "Order"]
    elsewhere = await admin.post(
        f"{button_url}/questions/qst_elsewhere/move", {"csrf": page.csrf, "direction": "up"}
    )
    assert elsewhere.status == 404
    no_csrf = await admin.post(f"{button_url}/questions/{date_id}/move", {"direction": "down"})
    assert no_csrf.status == 403
    assert questions_shown((await admin.get(button_url)).text) == ["Date", "Order"]
    await follow(
        admin, await admin.post(f"{button_url}/questions/{date_id}/remove", {"csrf": page.csrf})
    )

    removed = await follow(
        admin, await admin.post(f"{button_url}/questions/{qid}/remove", {"csrf": page.csrf})
    )
    assert qid not in removed.text


def questions_shown(text: str) -> list[str]:
    """The question forms' labels, top to bottom."""
    return re.findall(
        r'<label>Question \d+\s*<input type="text" name="label" value="([^"]*)"', text
    )


def moves_offered(text: str, question_id: str) -> list[str]:
    """The directions the page offers to move a question."""
    return re.findall(rf'/questions/{question_id}/move" name="direction" value="(up|down)"', text)


async def test_export_and_import_the_panels_file(
    admin: Browserless, world: SandboxWorld, emulator: DiscordEmulator, app: Rimpllee
) -> None:
    assert app.db is not None
    store = SqlitePanelStore(app.db)
    exported = await admin.get(panels_url(world) + "/export")
    assert exported.status == 200
    assert exported.headers["Content-Disposition"].startswith("attachment;")
    assert exported.text == dump_panels(await store.list_panels(world.guild.id))

    page = await admin.get(panels_url(world))
    broken = exported.text.replace('label = "Get help"', "label = 42")
    refused = await admin.post(panels_url(world) + "/import", {"csrf": page.csrf, "text": broken})
    assert refused.status == 400
    assert "panels.toml:" in refused.text
    assert "expected string, got integer" in refused.text
    assert exported.text == dump_panels(await store.list_panels(world.guild.id))  # unchanged

    # Post the demo panel, then import the file with a new title: the message follows.
    await admin.post(
        panels_url(world) + "/pnl_demo/post",
        {"csrf": page.csrf, "channel_id": str(world.panel_channel_id)},
    )
    text = (await admin.get(panels_url(world) + "/export")).text
    imported = await admin.post(
        panels_url(world) + "/import",
        {"csrf": page.csrf, "text": text.replace('"Need a hand?"', '"How can we help?"')},
    )
    assert imported.status == 200
    assert "Imported 1 panel(s)." in imported.text
    (panel,) = await store.list_panels(world.guild.id)
    assert panel.title == "How can we help?"
    assert posted(emulator, world.panel_channel_id).embeds[0]["title"] == "How can we help?"


async def test_only_managers_edit_panels(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    offer_logins(emulator, world, app.public_url)
    support = Browserless(app, emulator)
    try:
        await support.login(world.support_member.id)
        assert (await support.get(panels_url(world))).status == 403
        assert (await support.get(panels_url(world) + "/export")).status == 403
        assert (await support.get(panels_url(world) + "/pnl_demo")).status == 403
    finally:
        await support.close()
