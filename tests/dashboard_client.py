"""A person at the dashboard without a browser: real HTTP, real cookies, emulated Discord login."""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

import aiohttp

from bot.app import Rimpllee
from bot.sandbox.emulator import DiscordEmulator

CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Page:
    status: int
    text: str
    headers: dict[str, str]

    @property
    def csrf(self) -> str:
        found = CSRF_RE.search(self.text)
        assert found is not None, "the page has no CSRF token"
        return found.group(1)


class Browserless:
    """One visitor: a cookie jar and the app's and the emulated Discord's addresses."""

    def __init__(self, app: Rimpllee, emulator: DiscordEmulator) -> None:
        self.base = app.http_url
        self.discord = emulator.rest_url.removesuffix("/api/v10")
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def close(self) -> None:
        await self.http.close()

    async def get(self, path: str) -> Page:
        async with self.http.get(self.base + path, allow_redirects=False) as resp:
            return Page(resp.status, await resp.text(), dict(resp.headers))

    async def post(self, path: str, form: dict[str, str]) -> Page:
        async with self.http.post(self.base + path, data=form, allow_redirects=False) as resp:
            return Page(resp.status, await resp.text(), dict(resp.headers))

    async def authorize_url(self, next_path: str | None = None) -> str:
        query = "?" + urllib.parse.urlencode({"next": next_path}) if next_path else ""
        page = await self.get("/login" + query)
        assert page.status == 303, page.text
        return page.headers["Location"]

    async def approve(self, authorize_url: str, user_id: int) -> str:
        """On the emulated authorize page, pick `user_id` (0: Cancel); returns the callback URL."""
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(authorize_url).query))
        async with self.http.post(
            self.discord + "/oauth2/authorize",
            data={**params, "user_id": str(user_id) if user_id else "cancel"},
            allow_redirects=False,
        ) as resp:
            assert resp.status == 302, await resp.text()
            return resp.headers["Location"]

    async def callback(self, url: str) -> Page:
        async with self.http.get(url, allow_redirects=False) as resp:
            return Page(resp.status, await resp.text(), dict(resp.headers))

    async def login(self, user_id: int, next_path: str | None = None) -> Page:
        return await self.callback(await self.approve(await self.authorize_url(next_path), user_id))
