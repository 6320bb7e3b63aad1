"""Login with Discord: the OAuth2 authorization-code exchange, through hikari's REST client.

The authorize page lives at the REST URL's site (`https://discord.com/oauth2/authorize` for the
default `https://discord.com/api/v10`), so a REST URL pointing at the emulator logs in there.
"""

from __future__ import annotations

import logging
import urllib.parse

import aiohttp
import hikari

from bot.core.sessions import DiscordUser, LoginFailed

_LOG = logging.getLogger("rimpllee.dashboard")


def authorize_base(rest_url: str) -> str:
    """Discord's site for a REST URL: `https://discord.com/api/v10` → `https://discord.com`."""
    parts = urllib.parse.urlsplit(rest_url)
    path = parts.path.rstrip("/")
    for suffix in ("/api/v10", "/api"):
        if path.endswith(suffix):
            path = path.removesuffix(suffix)
            break
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


class HikariLogin:
    """`bot.core.sessions.DiscordLogin` through hikari's REST client."""

    def __init__(self, rest_url: str, client_secret: str) -> None:
        self._rest_url = rest_url
        self._secret = client_secret

    @property
    def configured(self) -> bool:
        return bool(self._secret)

    def authorize_url(self, client_id: int, redirect_uri: str, state: str) -> str:
        query = urllib.parse.urlencode(
            {
                "response_type": "code",
                "client_id": str(client_id),
                "scope": "identify",
                "redirect_uri": redirect_uri,
                "state": state,
            }
        )
        return f"{authorize_base(self._rest_url)}/oauth2/authorize?{query}"

    async def user_for_code(self, client_id: int, code: str, redirect_uri: str) -> DiscordUser:
        """Trade the one-time code for a token, then ask who it belongs to (`/users/@me`)."""
        rest = hikari.RESTApp(url=self._rest_url, max_retries=0)
        await rest.start()
        try:
            async with rest.acquire(None) as client:
                token = await client.authorize_access_token(
                    client_id, self._secret, code, redirect_uri
                )
            async with rest.acquire(token.access_token, hikari.TokenType.BEARER) as client:
                me = await client.fetch_my_user()
        except hikari.BadRequestError as exc:
            raise LoginFailed("Discord refused the login code (used already, or expired)") from exc
        except hikari.UnauthorizedError as exc:
            raise LoginFailed(
                "Discord refused the dashboard's client secret: check dashboard.client_secret"
            ) from exc
        except (hikari.HTTPError, aiohttp.ClientError, OSError) as exc:
            _LOG.warning("login: could not reach Discord: %s", exc)
            raise LoginFailed("could not reach Discord to finish the login") from exc
        finally:
            await rest.close()
        return DiscordUser(int(me.id), me.username)
