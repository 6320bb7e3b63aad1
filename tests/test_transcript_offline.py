"""Transcripts that outlive Discord: made in the sandbox, opened offline after the links expired.

A member sends screenshots, a PDF and a custom emoji through the sandbox's control endpoint (the
emulated CDN signs their links, which expire after a day); the ticket is closed; the CDN's clock
moves two days on, so every link Discord gave is dead; the transcript's folder is copied elsewhere
and opened from disk in Chromium with the network cut off. Every image must show, every file be
linked, nothing be fetched from anywhere but the folder.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import shutil
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import Rimpllee
from bot.core.models import Ticket
from bot.core.transcript_assets import MB
from bot.sandbox.cdn import solid_gif, solid_png
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import HELP_BUTTON_ID, SandboxWorld
from bot.sandbox.state import Attachment
from bot.store.tickets import SqliteLifecycleStore
from tests.browser import chromium, needs_chromium
from tests.helpers import post, ticket

pytestmark = pytest.mark.asyncio

# A small but real PDF.
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
DAY = 24 * 3600


def _file(name: str, data: bytes, content_type: str) -> dict[str, str]:
    return {"name": name, "data": base64.b64encode(data).decode(), "content_type": content_type}


async def say(emulator: DiscordEmulator, **body: Any) -> dict[str, Any]:
    url = emulator.cdn_url + "/_sandbox/say"
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as response:
        answer: dict[str, Any] = await response.json()
        assert response.status == 200, answer
        return answer


async def closed_ticket(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld, channel_id: int
) -> Ticket:
    assert app.db is not None
    store = SqliteLifecycleStore(app.db)
    found = await store.by_channel(channel_id)
    assert found is not None
    submit = await emulator.submit_modal(
        world.guild.id,
        world.admin.id,
        channel_id,
        f"rmp:closeform:{found.ticket_id}",
        {"reason": "sorted"},
    )
    await submit.wait_response()
    ticket_id = found.ticket_id
    async with asyncio.timeout(20):
        while (now := await store.by_id(ticket_id)) is None or now.state != "closed":
            await asyncio.sleep(0.02)
    return now


async def a_conversation(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> tuple[int, list[str]]:
    """A ticket with images, a PDF, a custom emoji, avatars, a reply; its attachment links."""
    opener, staff = world.members[0], world.admin
    opener.avatar = solid_png(64, 64, (220, 60, 60))  # a custom avatar; the others are defaults
    pog = emulator.state.add_emoji(world.guild, "pog", solid_png(32, 32, (250, 200, 0)))
    status, body, _ = await post(app, ticket(opener.id, HELP_BUTTON_ID))
    assert status == 200, body
    channel_id = int(body["ticket"]["channelId"])
    shots = await say(
        emulator,
        user_id=str(opener.id),
        channel_id=str(channel_id),
        content=(
            f"# What happened\nHere is my base after the attack <:pog:{pog.id}>\n- before\n- after"
        ),
        files=[
            _file("base before.png", solid_png(320, 180, (40, 120, 220)), "image/png"),
            _file("tnt.gif", solid_gif(120, 80, (200, 40, 160)), "image/gif"),
            _file("receipt.pdf", PDF, "application/pdf"),
        ],
    )
    await say(
        emulator,
        user_id=str(staff.id),
        channel_id=str(channel_id),
        content="Thanks, I can see it. -# checked at <t:1700000000:R>",
        reply_to=shots["message_id"],
    )
    return channel_id, [a["url"] for a in shots["attachments"]]


@needs_chromium
async def test_a_transcript_opened_offline_after_the_links_expired_shows_everything(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld, tmp_path: Path
) -> None:
    channel_id, links = await a_conversation(app, emulator, world)
    closed = await closed_ticket(app, emulator, world, channel_id)
    assert closed.transcript_path is not None

    emulator.state.cdn.advance(2 * DAY)  # every link Discord handed out has expired
    async with aiohttp.ClientSession() as http:
        for link in links:
            async with http.get(link) as response:
                assert response.status == 404, link

    folder = Path(closed.transcript_path).parent
    copy = tmp_path / "elsewhere" / folder.name
    shutil.copytree(folder, copy)  # the folder is the transcript: it travels whole
    page_file = copy / Path(closed.transcript_path).name
    shot = tmp_path / "transcript.png"

    async with chromium() as browser:
        context = await browser.new_context(
            timezone_id="America/New_York", viewport={"width": 1100, "height": 1400}
        )
        requests: list[str] = []
        problems: list[str] = []
        context.on("request", lambda r: requests.append(r.url))
        await context.route(
            "**/*",
            lambda route: (
                route.continue_() if route.request.url.startswith("file://") else route.abort()
            ),
        )
        page = await context.new_page()
        page.on(
            "console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None
        )
        page.on("pageerror", lambda e: problems.append(str(e)))
        await page.goto(page_file.as_uri())
        await page.wait_for_load_state("load")
        images = await page.eval_on_selector_all(
            "img",
            "els => els.map(e => [e.getAttribute('src'), e.className, e.naturalWidth])",
        )
        pdf = await page.get_attribute("a.filename", "href")
        footer = await page.text_content("footer")
        reply = await page.text_content(".reply")
        heading = await page.text_content(".content h3")
        await page.screenshot(path=str(shot), full_page=True)
        if keep := os.environ.get("RIMPLLEE_SCREENSHOTS"):
            shutil.copy(shot, Path(keep) / "transcript-offline.png")
        no_script = await browser.new_context(java_script_enabled=False, timezone_id="Asia/Tokyo")
        plain = await no_script.new_page()
        await plain.goto(page_file.as_uri())
        plain_footer = await plain.text_content("footer")
        await no_script.close()
        await context.close()

    assert problems == []  # no CSP violation, no failed load, no script error
    assert all(url.startswith("file://") for url in requests), requests
    by_class: dict[str, list[Any]] = {}
    for src, cls, width in images:
        assert width > 0, (src, "did not load")
        assert (copy / src).is_file()
        by_class.setdefault(cls, []).append(src)
    assert len(by_class["avatar"]) >= 2  # the opener's own, and a default one for the staff
    assert any(f"/{world.members[0].id}." in src for src in by_class["avatar"])
    assert [Path(src).parent.name for src in by_class["emoji"]] == ["emoji"]
    attachments = [src for src in by_class[""] if "/files/" in src]
    assert len(attachments) == 2  # the PNG and the GIF, inline
    assert any(src.endswith("-base_before.png") for src in attachments)
    assert any(src.endswith("-tnt.gif") for src in attachments)
    assert pdf is not None
    assert pdf.endswith("-receipt.pdf")
    assert (copy / pdf).read_bytes() == PDF
    assert "America/New_York" in str(footer)
    assert "times in UTC" in str(plain_footer)
    assert "What happened" in str(reply)  # the quoted line above the reply
    assert heading == "What happened"
    assert shot.stat().st_size > 10_000


async def _ticket_with_files(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld, files: list[dict[str, str]]
) -> int:
    opener = world.members[0]
    status, body, _ = await post(app, ticket(opener.id, HELP_BUTTON_ID))
    assert status == 200, body
    channel_id = int(body["ticket"]["channelId"])
    await say(
        emulator, user_id=str(opener.id), channel_id=str(channel_id), content="files", files=files
    )
    return channel_id


async def test_files_over_the_limit_stay_links_and_active_files_are_kept_as_text(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    channel_id = await _ticket_with_files(
        app,
        emulator,
        world,
        [
            _file("notes.txt", b"hello", "text/plain"),
            _file("page.html", b"<script>alert(1)</script>", "text/html"),
            _file("fake.png", b"<svg onload=alert(1)>", "image/png"),
        ],
    )
    huge = Attachment(
        filename="huge.png",
        data=solid_png(8, 8, (1, 2, 3)) + bytes(11 * MB),
        content_type="image/png",
    )
    message = await emulator.send_user_message(channel_id, world.members[0].id, "big", files=[huge])
    closed = await closed_ticket(app, emulator, world, channel_id)
    assert closed.transcript_path is not None
    html = Path(closed.transcript_path).read_text("utf-8")
    folder = Path(closed.transcript_path).parent
    saved = sorted(p.name for p in (folder / "assets" / "files").iterdir())
    assert sorted(re.sub(r"^\d+-\d+-", "", name) for name in saved) == [
        "fake.png.txt",  # not a PNG by its bytes, and markup: kept as text, shown as a file
        "notes.txt",
        "page.html.txt",
    ]
    assert not re.search(r'<img src="assets/files/', html)  # none of them is shown as an image
    assert f'id="m-{message.id}"' in html
    assert "not saved: over the 10.0 MB per-file limit" in html
    assert "1 attachment not saved with this transcript" in html
    assert re.search(r'href="http://127\.0\.0\.1:\d+/attachments/\d+/\d+/huge\.png\?ex=', html)


async def test_a_failed_download_leaves_a_link_and_the_ticket_closes(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    channel_id = await _ticket_with_files(
        app, emulator, world, [_file("shot.png", solid_png(4, 4, (9, 9, 9)), "image/png")]
    )
    emulator.inject_fault("GET", "/attachments/{channel_id}/{attachment_id}/{filename}", 500)
    closed = await closed_ticket(app, emulator, world, channel_id)
    assert closed.state == "closed"
    assert closed.transcript_path is not None
    html = Path(closed.transcript_path).read_text("utf-8")
    assert "shot.png" in html
    assert "not saved: the download failed" in html
    assert not (Path(closed.transcript_path).parent / "assets" / "files").exists()


async def test_replies_forwards_stickers_and_pins_reach_the_transcript(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> None:
    opener = world.members[0].id
    status, body, _ = await post(app, ticket(opener, HELP_BUTTON_ID))
    assert status == 200, body
    channel_id = int(body["ticket"]["channelId"])
    first = await emulator.send_user_message(channel_id, opener, "## My order <b>42</b>")
    await emulator.send_user_message(channel_id, world.admin.id, "Found it", reply_to=first.id)
    elsewhere = world.panel_channel_id
    quoted = await emulator.send_user_message(elsewhere, opener, "the receipt, forwarded")
    await emulator.send_user_message(channel_id, opener, "", forward=(elsewhere, quoted.id))
    await emulator.send_user_message(channel_id, opener, "", stickers=["Thank You"])
    await emulator.send_user_message(channel_id, world.admin.id, "", type=6)
    closed = await closed_ticket(app, emulator, world, channel_id)
    assert closed.transcript_path is not None
    html = Path(closed.transcript_path).read_text("utf-8")
    assert '<h4 class="md">My order &lt;b&gt;42&lt;/b&gt;</h4>' in html
    assert f'<a class="reply-text" href="#m-{first.id}">My order &lt;b&gt;42&lt;/b&gt;</a>' in html
    assert "↱ Forwarded" in html
    assert "the receipt, forwarded" in html
    assert "Sticker: Thank You" in html
    assert "pinned a message to this channel." in html
    assert "First staff reply" in html
    assert "by sandbox-admin" in html
