"""Dashboard logins and sessions: random secrets handed out once, only their hashes stored.

A login state is good for one callback within `STATE_TTL_S`; a session for `SESSION_TTL_S`. Both
are decided from the database on every use, so logging out ends a session at once everywhere.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Protocol

from bot.core.limits import Clock

STATE_TTL_S = 10 * 60
SESSION_TTL_S = 7 * 24 * 3600
_SECRET_BYTES = 32


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def safe_next_path(candidate: str | None) -> str:
    """Where to go after login: a path on this site only, never another host (no open redirect)."""
    if (
        not candidate
        or not candidate.startswith("/")
        or candidate.startswith("//")
        or "\\" in candidate
        or any(ord(c) < 0x20 for c in candidate)
    ):
        return "/"
    return candidate


class LoginFailed(Exception):
    """Discord did not vouch for the user (a used or forged code, a wrong secret, no answer)."""


@dataclass(frozen=True, slots=True)
class DiscordUser:
    user_id: int
    username: str


class DiscordLogin(Protocol):
    """Discord's OAuth2 authorization-code login, as the Discord side implements it."""

    @property
    def configured(self) -> bool:
        """False without a client secret: nobody can log in."""
        ...

    def authorize_url(self, client_id: int, redirect_uri: str, state: str) -> str: ...

    async def user_for_code(self, client_id: int, code: str, redirect_uri: str) -> DiscordUser:
        """Who the one-time code belongs to; `LoginFailed` if Discord won't say."""
        ...


@dataclass(frozen=True, slots=True)
class Session:
    user_id: int
    username: str
    csrf_token: str
    expires_at: float


class SessionStore(Protocol):
    async def put_state(self, state_hash: str, next_path: str, now: float) -> None: ...

    async def take_state(self, state_hash: str, not_before: float) -> str | None:
        """Delete the state and return its next path, if it exists and is not older."""
        ...

    async def put_session(
        self,
        session_hash: str,
        user_id: int,
        username: str,
        csrf_token: str,
        now: float,
        expires_at: float,
    ) -> None: ...

    async def session(self, session_hash: str, now: float) -> Session | None: ...

    async def delete_session(self, session_hash: str) -> None: ...


class Sessions:
    def __init__(self, store: SessionStore, clock: Clock = time.time) -> None:
        self._store = store
        self._clock = clock

    async def begin_login(self, next_path: str | None) -> str:
        """A new `state` for Discord's authorize URL, remembering where the user was going."""
        state = secrets.token_urlsafe(_SECRET_BYTES)
        await self._store.put_state(_hash(state), safe_next_path(next_path), self._clock())
        return state

    async def take_state(self, state: str) -> str | None:
        """The path to return to, once per state; None for an unknown, used or stale state."""
        if not state:
            return None
        return await self._store.take_state(_hash(state), self._clock() - STATE_TTL_S)

    async def start(self, user_id: int, username: str) -> str:
        """A session for a user Discord vouched for; returns the ID for the cookie."""
        session_id = secrets.token_urlsafe(_SECRET_BYTES)
        now = self._clock()
        await self._store.put_session(
            _hash(session_id),
            user_id,
            username,
            secrets.token_urlsafe(_SECRET_BYTES),
            now,
            now + SESSION_TTL_S,
        )
        return session_id

    async def find(self, session_id: str) -> Session | None:
        if not session_id:
            return None
        return await self._store.session(_hash(session_id), self._clock())

    async def end(self, session_id: str) -> None:
        await self._store.delete_session(_hash(session_id))
