"""The transcript part of `make bench`: a long ticket closed for real, against a short one.

The emulator holds a ticket of N messages, one in 20 with a small PNG; the real bot closes it
(reading the history through REST a page at a time, downloading each attachment and avatar from
the emulated CDN, rendering, writing the folder). Measured for the long ticket and for a baseline
ticket a tenth of its size, in the same run: the time from the close to the closed row, the HTML's
size, the saved files, and the peak of Python memory allocated while closing (tracemalloc, in a
second close of each, as it slows the run). Memory that stays flat while the ticket grows tenfold
is what "bounded" means here.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from pathlib import Path
from typing import Any

from bot.app import Rimpllee
from bot.sandbox.cdn import solid_png
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import SandboxWorld
from bot.sandbox.state import Attachment
from bot.store.tickets import SqliteLifecycleStore
from tests.browser import chromium, chromium_missing
from tests.conftest import FakeClock

LINES = (
    "plain words about the problem, nothing special",
    "**bold** and *italic* with a link https://example.com/page_(x) and <t:1700000000:R>",
    "> quoted\n- a list item\n- another",
    "```py\nprint('code block')\n```",
)


async def _ticket(
    emu: DiscordEmulator, world: SandboxWorld, bot: Rimpllee, clock: FakeClock, size: int
) -> int:
    """A ticket channel holding `size` messages (every 20th with an image) and its ticket row."""
    from tests.benchmark import open_body

    member = world.members[-1 - (size % 7)]
    clock.advance(61)  # past the server's window and the member's cooldown
    async with _Post(bot) as post:
        status, body = await post(open_body(member.id))
    assert status == 200, body
    channel_id = int(body["ticket"]["channelId"])
    channel = emu.state.channels[channel_id]
    authors = [emu.state.users[member.id], emu.state.users[world.admin.id]]
    for i in range(size):
        files = []
        if i % 20 == 0:
            png = solid_png(64 + i % 50, 48, (i % 256, 90, 160))
            files = [Attachment(filename=f"screenshot_{i}.png", data=png, content_type="image/png")]
        emu.state.add_message(
            channel, authors[(i // 3) % 2], f"{LINES[i % len(LINES)]} #{i}", attachments=files
        )
    return channel_id


class _Post:
    """POST /api/v1/tickets on the running bot."""

    def __init__(self, bot: Rimpllee) -> None:
        self._bot = bot

    async def __aenter__(self) -> Any:
        import aiohttp

        from bot.sandbox.runner import DEMO_API_KEY

        self._session = aiohttp.ClientSession()
        url = self._bot.http_url + "/api/v1/tickets"
        headers = {"Authorization": f"Bearer {DEMO_API_KEY}", "Content-Type": "application/json"}

        async def post(body: bytes) -> tuple[int, Any]:
            async with self._session.post(url, data=body, headers=headers) as response:
                return response.status, await response.json()

        return post

    async def __aexit__(self, *_: object) -> None:
        await self._session.close()


async def _close(emu: DiscordEmulator, world: SandboxWorld, bot: Rimpllee, channel_id: int) -> str:
    assert bot.db is not None
    store = SqliteLifecycleStore(bot.db)
    found = await store.by_channel(channel_id)
    assert found is not None
    submit = await emu.submit_modal(
        world.guild.id, world.admin.id, channel_id, f"rmp:closeform:{found.ticket_id}", {}
    )
    await submit.wait_response()
    async with asyncio.timeout(600):
        while (row := await store.by_id(found.ticket_id)) is None or row.state != "closed":
            await asyncio.sleep(0.01)
    assert row.transcript_path is not None
    return row.transcript_path


async def _measure(
    emu: DiscordEmulator, world: SandboxWorld, bot: Rimpllee, clock: FakeClock, size: int
) -> dict[str, Any]:
    channel_id = await _ticket(emu, world, bot, clock, size)
    started = time.perf_counter()
    path = Path(await _close(emu, world, bot, channel_id))
    seconds = time.perf_counter() - started
    files = [p for p in (path.parent / "assets").rglob("*") if p.is_file()]
    html = path.read_text("utf-8")
    browser = await _browser_load(path)
    # The same ticket again, traced (the closed channel is gone: a fresh one of the same size).
    channel_id = await _ticket(emu, world, bot, clock, size)
    tracemalloc.start()
    try:
        await _close(emu, world, bot, channel_id)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return {
        "messages": size,
        "attachments": sum(1 for i in range(size) if i % 20 == 0),
        "close_s": seconds,
        "html_mib": path.stat().st_size / 1024 / 1024,
        "saved_files": len(files),
        "saved_mib": sum(p.stat().st_size for p in files) / 1024 / 1024,
        "inline_images": html.count('<a class="image"'),
        "peak_traced_mib": peak / 1024 / 1024,
        "browser_load_s": browser,
    }


async def _browser_load(path: Path) -> float | None:
    """Seconds from navigation to the load event in Chromium (every image loaded), or None."""
    if chromium_missing():
        return None
    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(path.as_uri(), wait_until="load")
        timing = await page.evaluate(
            "() => { const t = performance.getEntriesByType('navigation')[0];"
            " return t.loadEventEnd - t.startTime; }"
        )
    return float(timing) / 1000


async def transcript_bench(
    emu: DiscordEmulator, world: SandboxWorld, bot: Rimpllee, clock: FakeClock, messages: int
) -> dict[str, Any]:
    baseline = await _measure(emu, world, bot, clock, max(1, messages // 10))
    long = await _measure(emu, world, bot, clock, messages)
    return {
        "baseline": baseline,
        "long": long,
        "memory_ratio": long["peak_traced_mib"] / max(baseline["peak_traced_mib"], 1e-9),
        "time_ratio": long["close_s"] / max(baseline["close_s"], 1e-9),
    }


def render_transcripts(numbers: dict[str, Any]) -> list[str]:
    lines = [
        "Transcripts: a ticket closed for real (history by REST, files from the emulated CDN,",
        "rendered a page at a time); baseline a tenth of the long ticket, same run",
        f"  {'ticket':<10} {'messages':>8} {'attach.':>7} {'close s':>8} {'HTML MiB':>9} "
        f"{'files':>6} {'files MiB':>9} {'peak MiB':>9} {'browser s':>9}",
    ]
    for name in ("baseline", "long"):
        row = numbers[name]
        lines.append(
            f"  {name:<10} {row['messages']:8d} {row['attachments']:7d} {row['close_s']:8.2f} "
            f"{row['html_mib']:9.2f} {row['saved_files']:6d} {row['saved_mib']:9.2f} "
            f"{row['peak_traced_mib']:9.2f} "
            + (
                f"{row['browser_load_s']:9.2f}"
                if row["browser_load_s"] is not None
                else "   (none)"
            )
        )
    lines.append(
        f"  long / baseline: time {numbers['time_ratio']:.1f}x for 10x the messages; "
        f"peak memory {numbers['memory_ratio']:.2f}x (flat = bounded)"
    )
    lines.append("  peak MiB: Python memory allocated during the close (tracemalloc, a second run)")
    lines.append("  browser s: Chromium, from opening the HTML file to its load event (all images)")
    return lines
