"""API keys: `rmp_` + 32 random bytes (URL-safe base64); only a SHA-256 hash is ever stored."""

from __future__ import annotations

import hashlib
import re
import secrets

KEY_PREFIX = "rmp_"
_KEY_BYTES = 32
_KEY_RE = re.compile(r"rmp_[A-Za-z0-9_-]{43}")
_DISPLAY_CHARS = 8


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(_KEY_BYTES)


def looks_like_key(candidate: str) -> bool:
    return _KEY_RE.fullmatch(candidate) is not None


# A started hash copied per key: copying skips OpenSSL's look-up of the algorithm that each new
# `sha256()` repeats (OpenSSL 3 fetches it by name every time), on every API request.
_SHA256 = hashlib.sha256()


def hash_key(key: str) -> str:
    digest = _SHA256.copy()
    digest.update(key.encode())
    return digest.hexdigest()


def display_prefix(key: str) -> str:
    """Enough of the key to recognise it in a list, far too little to use it."""
    return key[: len(KEY_PREFIX) + _DISPLAY_CHARS] + "…"
