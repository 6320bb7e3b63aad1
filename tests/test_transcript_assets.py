"""`bot.core.transcript_assets`: types from bytes, safe names, limits, timeouts, concurrency.

Downloads go over real HTTP (a local aiohttp server) through the port's own `download`, into a
real transcript folder.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web

from bot.core.models import Ticket
from bot.core.transcript_assets import (
    AssetLimits,
    TranscriptAssets,
    image_type,
    safe_filename,
)
from bot.core.transcripts import TranscriptAttachment, TranscriptAuthor, TranscriptMessage
from bot.discord.transcript_messages import download
from bot.sandbox.cdn import solid_gif, solid_png
from bot.store.transcripts import TranscriptFiles, TranscriptFolder

PNG = solid_png(4, 4, (1, 2, 3))


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (PNG, "png"),
        (b"\xff\xd8\xff\xe0rest", "jpg"),
        (b"GIF89a....", "gif"),
        (solid_gif(3, 3, (1, 2, 3)), "gif"),
        (b"GIF87a....", "gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp"),
        (b"<svg onload=alert(1)>", None),
        (b"%PDF-1.4", None),
        (b"", None),
        (b"RIFF\x00\x00\x00\x00WAVE", None),
    ],
)
def test_image_type_is_read_from_the_bytes(data: bytes, kind: str | None) -> None:
    assert image_type(data) == kind


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("shot.png", "shot.png"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("/abs/path.txt", "path.txt"),
        (".hidden", "hidden"),
        ("..", "file"),
        ("", "file"),
        ("a b<c>d\"e'f.txt", "a_b_c_d_e_f.txt"),
        ("rés umé.pdf", "r_s_um_.pdf"),
        ("x..y", "x.y"),
        ("a" * 300 + ".png", "a" * 96 + ".png"),
    ],
)
def test_safe_filename(name: str, safe: str) -> None:
    assert safe_filename(name) == safe


def test_a_folder_refuses_paths_that_leave_it(tmp_path: Path) -> None:
    folder = TranscriptFolder(tmp_path / "t", "t.html")
    for bad in ("../x.png", "assets/files/../../x", "/etc/passwd", "assets/other/x", "x.png"):
        with pytest.raises(ValueError, match=r"asset path|leaves"):
            folder.write_asset(bad, b"x")
    folder.write_asset("assets/files/1-0-ok.png", PNG)
    assert (tmp_path / "t" / "assets" / "files" / "1-0-ok.png").read_bytes() == PNG
    assert not list((tmp_path / "t" / "assets").glob("**/*.tmp"))
    folder.discard()
    assert not list(tmp_path.glob("**/*.tmp"))


class Files:
    """A CDN of our own: files by name, an optional delay, and the most downloads at once."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.delay = 0.0
        self.active = 0
        self.most = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.active += 1
        self.most = max(self.most, self.active)
        try:
            await asyncio.sleep(self.delay)
            data = self.files.get(request.match_info["name"])
            if data is None:
                raise web.HTTPNotFound()
            return web.Response(body=data)
        finally:
            self.active -= 1


@pytest_asyncio.fixture
async def cdn() -> AsyncIterator[tuple[Files, str]]:
    files = Files()
    app = web.Application()
    app.router.add_get("/f/{name}", files.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield files, f"http://{host}:{port}/f"
    await runner.cleanup()


class Http:
    """The Discord port's way of fetching, without Discord around it."""

    def __init__(self, base: str) -> None:
        self.base = base

    async def fetch_file(self, url: str, max_bytes: int) -> bytes | None:
        return await download(url, max_bytes)

    def emoji_url(self, emoji_id: int, animated: bool) -> str:
        return f"{self.base}/e{emoji_id}"


def _folder(tmp_path: Path) -> TranscriptFolder:
    ticket = Ticket(
        ticket_id=1, guild_id=1, number=1, user_id=2, state="open", source="api", opened_at=0.0
    )
    return TranscriptFiles(tmp_path).open(ticket, "transcript-0001-x.html")


def _message(base: str, *names_and_sizes: tuple[str, int]) -> TranscriptMessage:
    return TranscriptMessage(
        id=10,
        author=TranscriptAuthor(5, "A", f"{base}/avatar"),
        content="<:pog:7> <:pog:7>",
        created_at=0.0,
        edited_at=None,
        attachments=tuple(
            TranscriptAttachment(name, f"{base}/{name}", size) for name, size in names_and_sizes
        ),
    )


@pytest.mark.asyncio
async def test_limits_per_file_and_per_transcript(cdn: tuple[Files, str], tmp_path: Path) -> None:
    files, base = cdn
    files.files.update(
        avatar=PNG,
        e7=PNG,
        **{"a.png": PNG, "b.bin": b"x" * 300, "liar.bin": b"y" * 5000, "c.bin": b"z" * 1000},
    )
    limits = AssetLimits(file_max_bytes=1000, total_max_bytes=1500, concurrency=1)
    assets = TranscriptAssets(Http(base), _folder(tmp_path), limits)
    # liar.bin says 10 bytes and sends 5000; missing.bin is gone; c.bin no longer fits.
    page = await assets.save_page(
        [
            _message(
                base,
                ("liar.bin", 10),
                ("a.png", len(PNG)),
                ("b.bin", 300),
                ("huge.bin", 2000),
                ("missing.bin", 5),
                ("c.bin", 1000),
            )
        ]
    )
    (msg,) = page
    results = {a.filename: (a.saved, a.not_saved) for a in msg.attachments}
    assert results["a.png"][0] is not None
    assert results["a.png"][0].image
    assert results["a.png"][0].path == "assets/files/10-1-a.png"
    assert results["b.bin"][0] is not None
    assert results["huge.bin"][1] == "over the 1000 bytes per-file limit"
    assert results["liar.bin"][1] == "over the 1000 bytes per-file limit"
    assert results["missing.bin"][1] == "the download failed"
    assert results["c.bin"][1] == "the 1.5 KB per-transcript limit"
    assert msg.author.avatar is not None
    assert msg.author.avatar.path == "assets/avatars/5.png"
    assert list(assets.emoji) == [7]
    assert assets.summary() is not None
    assert "4 attachments not saved" in str(assets.summary())


@pytest.mark.asyncio
async def test_downloads_are_bounded_in_number_and_time(
    cdn: tuple[Files, str], tmp_path: Path
) -> None:
    files, base = cdn
    files.files.update({f"f{i}.bin": b"data" for i in range(8)})
    files.delay = 0.05
    limits = AssetLimits(concurrency=2, file_timeout_s=5)
    assets = TranscriptAssets(Http(base), _folder(tmp_path), limits)
    msg = _message(base, *((f"f{i}.bin", 4) for i in range(8)))
    (saved,) = await assets.save_page([msg])
    assert all(a.saved is not None for a in saved.attachments)
    assert files.most == 2

    files.delay = 2.0
    slow = AssetLimits(concurrency=4, file_timeout_s=0.2)
    assets = TranscriptAssets(Http(base), _folder(tmp_path), slow)
    (late,) = await assets.save_page([_message(base, ("f0.bin", 4))])
    assert late.attachments[0].not_saved == "the download took too long"

    files.delay = 0.0
    ran_out = AssetLimits(total_timeout_s=0.0)
    assets = TranscriptAssets(Http(base), _folder(tmp_path), ran_out)
    (none,) = await assets.save_page([_message(base, ("f0.bin", 4))])
    assert none.attachments[0].not_saved == "the 0 s to save files ran out"
