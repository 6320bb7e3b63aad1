"""The emulated CDN, shaped like Discord's: attachments behind signed links that expire, avatars
(custom and default) and custom emoji.

Discord signs attachment links with three query parameters: `ex` (expiry, unix seconds in hex),
`is` (issued) and `hm` (an HMAC over the path and both). A message fetched later carries a freshly
signed link; an old link stops working once `ex` has passed. The emulator does the same, with a
clock the tests can move (`advance`), so they can prove what survives the expiry.

Routes live outside `/api/v10`, at Discord's CDN paths:
    GET /attachments/{channel_id}/{attachment_id}/{filename}?ex=…&is=…&hm=…
    GET /avatars/{user_id}/{hash}.{png|jpg|webp|gif}
    GET /embed/avatars/{index}.png
    GET /emojis/{emoji_id}.{png|gif|webp}
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import struct
import time
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import quote

from aiohttp import web

if TYPE_CHECKING:
    from bot.sandbox.state import DiscordState

LINK_TTL_S = 24 * 3600  # Discord's attachment links last about a day
DEFAULT_AVATAR_COLOURS = (
    (88, 101, 242),
    (117, 126, 138),
    (59, 165, 93),
    (250, 166, 26),
    (237, 66, 69),
    (235, 69, 158),
)
GONE = "This content is no longer available."


def solid_png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A plain PNG of one colour (the emulator's stand-in for every picture)."""
    row = b"\x00" + bytes(rgb) * width
    raw = row * height

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def solid_gif(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A plain GIF of one colour. Its LZW data sends a clear code every two pixels, so every
    code stays 3 bits wide and no table is needed to write it."""
    codes: list[int] = []
    pixels = width * height
    for start in range(0, pixels, 2):
        codes += [4] + [0] * min(2, pixels - start)  # clear, then colour 0
    codes.append(5)  # end of information
    data = bytearray()
    bits = count = 0
    for code in codes:
        bits |= code << count
        count += 3
        while count >= 8:
            data.append(bits & 0xFF)
            bits >>= 8
            count -= 8
    if count:
        data.append(bits)
    blocks = b"".join(
        bytes([len(data[i : i + 255])]) + data[i : i + 255] for i in range(0, len(data), 255)
    )
    screen = struct.pack("<HHBBB", width, height, 0x80, 0, 0) + bytes(rgb) + b"\x00\x00\x00"
    image = b"," + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02" + blocks + b"\x00"
    return b"GIF89a" + screen + image + b";"


class CdnSigner:
    """Signs and checks attachment links; `base_url` is set when the emulator starts."""

    def __init__(
        self, *, ttl_s: float = LINK_TTL_S, clock: Callable[[], float] = time.time
    ) -> None:
        self.base_url = ""
        self.ttl_s = ttl_s
        self._clock = clock
        self._skew = 0.0
        self._key = secrets.token_bytes(32)

    def now(self) -> float:
        return self._clock() + self._skew

    def advance(self, seconds: float) -> None:
        """Move the CDN's clock on: links signed before may expire."""
        self._skew += seconds

    def _mac(self, path: str, ex: str, issued: str) -> str:
        message = f"{path}?ex={ex}&is={issued}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def attachment_url(self, channel_id: int, attachment_id: int, filename: str) -> str:
        path = f"/attachments/{channel_id}/{attachment_id}/{quote(filename, safe='')}"
        if not self.base_url:  # not serving: a link shaped like Discord's, that goes nowhere
            return f"https://cdn.discordapp.com{path}"
        now = int(self.now())
        ex, issued = f"{now + int(self.ttl_s):x}", f"{now:x}"
        return f"{self.base_url}{path}?ex={ex}&is={issued}&hm={self._mac(path, ex, issued)}&"

    def valid(self, path: str, query: dict[str, str]) -> bool:
        ex, issued, mac = query.get("ex", ""), query.get("is", ""), query.get("hm", "")
        try:
            expires = int(ex, 16)
        except ValueError:
            return False
        expected = self._mac(path, ex, issued)
        return hmac.compare_digest(mac, expected) and self.now() < expires


class Cdn:
    """The CDN's routes over the emulator's state."""

    def __init__(self, state: DiscordState) -> None:
        self._state = state

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/attachments/{channel_id}/{attachment_id}/{filename}", self.attachment),
            web.get("/avatars/{user_id}/{file}", self.avatar),
            web.get("/embed/avatars/{file}", self.default_avatar),
            web.get("/emojis/{file}", self.emoji),
        ]

    async def attachment(self, request: web.Request) -> web.Response:
        signer = self._state.cdn
        if not signer.valid(request.raw_path.split("?", 1)[0], dict(request.query)):
            raise web.HTTPNotFound(text=GONE)
        channel_id = _number(request.match_info["channel_id"])
        attachment_id = _number(request.match_info["attachment_id"])
        for message in self._state.messages.get(channel_id, {}).values():
            for attachment in message.attachments:
                if attachment.id == attachment_id:
                    return web.Response(body=attachment.data, content_type=attachment.content_type)
        raise web.HTTPNotFound(text=GONE)

    async def avatar(self, request: web.Request) -> web.Response:
        user = self._state.users.get(_number(request.match_info["user_id"]))
        avatar_hash, _, _ = request.match_info["file"].partition(".")
        if user is None or user.avatar is None or user.avatar_hash != avatar_hash:
            raise web.HTTPNotFound()
        return web.Response(body=user.avatar, content_type="image/png")

    async def default_avatar(self, request: web.Request) -> web.Response:
        index, _, ext = request.match_info["file"].partition(".")
        if ext != "png" or not index.isdigit() or int(index) >= len(DEFAULT_AVATAR_COLOURS):
            raise web.HTTPNotFound()
        png = solid_png(32, 32, DEFAULT_AVATAR_COLOURS[int(index)])
        return web.Response(body=png, content_type="image/png")

    async def emoji(self, request: web.Request) -> web.Response:
        emoji_id, _, _ = request.match_info["file"].partition(".")
        for guild in self._state.guilds.values():
            emoji = guild.emojis.get(_number(emoji_id))
            if emoji is not None:
                return web.Response(body=emoji.image, content_type="image/png")
        raise web.HTTPNotFound()


def _number(raw: str) -> int:
    if not raw.isdigit():
        raise web.HTTPNotFound()
    return int(raw)
