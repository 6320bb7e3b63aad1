"""Sends webhook deliveries over HTTP: short timeouts, no redirects, and (unless the config
allows them) no loopback or private-range targets, checked on the addresses actually connected
to, so a DNS name that resolves to a private address is refused too."""

from __future__ import annotations

import socket
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from bot.core.webhooks import SEND_TIMEOUT_S, SendFailed, private_address

CONNECT_TIMEOUT_S = 3.0
USER_AGENT = "Rimpllee-Webhooks/1"


class _PublicOnly(AbstractResolver):
    """Resolves like aiohttp does, then drops every non-public address."""

    def __init__(self) -> None:
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        public = [r for r in found if not private_address(r["host"])]
        if not public:
            raise OSError(f"{host} resolves only to loopback or private addresses")
        return public

    async def close(self) -> None:
        await self._inner.close()


class HttpSender:
    def __init__(self, *, allow_private: bool) -> None:
        self._allow_private = allow_private
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            resolver: Any = None if self._allow_private else _PublicOnly()
            connector = aiohttp.TCPConnector(resolver=resolver, limit=32)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=SEND_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
                headers={"User-Agent": USER_AGENT},
            )
        return self._session

    async def send(self, url: str, headers: dict[str, str], body: bytes) -> int:
        host = URL(url).host or ""
        if not self._allow_private and private_address(host):
            raise SendFailed(f"{host} is a loopback or private address (not allowed by the config)")
        try:
            async with self._http().post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                await response.read()
                return response.status
        except TimeoutError:
            raise SendFailed(f"no answer within {SEND_TIMEOUT_S:.0f} s") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise SendFailed(f"cannot reach the receiver: {exc}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
