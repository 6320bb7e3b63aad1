"""Load ``config.toml`` into frozen dataclasses, rejecting anything suspect before startup.

Every problem becomes one :class:`ConfigError` line naming the file, line and dotted key, so an
admin can fix the config without reading a traceback.  The token is never echoed.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import ipaddress
import os
import pathlib
import re
import tomllib
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import hikari

from bot.errors import StartupError

TOKEN_ENV_VAR = "RIMPLLEE_TOKEN"  # noqa: S105 - the variable's name, not a secret
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(StartupError):
    """The config file is unreadable or invalid; ``str()`` is one line for the CLI to print."""


@dataclass(frozen=True, slots=True)
class DiscordConfig:
    token: str
    rest_url: str
    intents: hikari.Intents


@dataclass(frozen=True, slots=True)
class HttpConfig:
    host: str
    port: int
    trusted_proxies: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    path: pathlib.Path


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    server_tickets_per_minute: int
    user_cooldown_seconds: int
    user_max_open: int


@dataclass(frozen=True, slots=True)
class LogConfig:
    level: str


@dataclass(frozen=True, slots=True)
class WebhooksConfig:
    allow_private_targets: bool


@dataclass(frozen=True, slots=True)
class Config:
    discord: DiscordConfig
    http: HttpConfig
    database: DatabaseConfig
    limits: LimitsConfig
    log: LogConfig
    source: pathlib.Path
    webhooks: WebhooksConfig = WebhooksConfig(allow_private_targets=False)


class _Invalid(Exception):
    """A value is wrong; the message lacks the location, which the caller adds."""


_Parser = Callable[[Any], Any]

# bool before int and datetime before date: the later ones are base classes of the earlier.
_TOML_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "float"),
    (str, "string"),
    (list, "array"),
    (Mapping, "table"),
    (datetime.datetime, "datetime"),
    (datetime.date, "date"),
    (datetime.time, "time"),
)


def _toml_type(value: object) -> str:
    return next((n for t, n in _TOML_TYPES if isinstance(value, t)), type(value).__name__)


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"expected string, got {_toml_type(value)}")
    return value


def _nonempty(value: object) -> str:
    text = _string(value)
    if not text:
        raise _Invalid("must not be empty")
    return text


def _integer(low: int, high: int | None = None) -> _Parser:
    def parse(value: object) -> int:
        # type() rather than isinstance(): TOML's `true` must not pass as 1.
        if type(value) is not int:
            raise _Invalid(f"expected integer, got {_toml_type(value)}")
        if high is not None and not low <= value <= high:
            raise _Invalid(f"must be between {low} and {high}, got {value}")
        if value < low:
            raise _Invalid(f"must be at least {low}, got {value}")
        return value

    return parse


def _url(value: object) -> str:
    url = _string(value)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _Invalid(f"expected an http:// or https:// URL, got {url!r}")
    return url.rstrip("/")


_SINGLE_INTENTS = [n for n, m in hikari.Intents.__members__.items() if int(m).bit_count() == 1]


def _intents(value: object) -> hikari.Intents:
    if not isinstance(value, list):
        raise _Invalid(f"expected a list of strings, got {_toml_type(value)}")
    intents = hikari.Intents.NONE
    for item in value:
        if not isinstance(item, str):
            raise _Invalid(f"expected a list of strings, got array containing {_toml_type(item)}")
        if item.upper() not in hikari.Intents.__members__:
            valid = ", ".join(_SINGLE_INTENTS)
            raise _Invalid(f"unknown intent {item!r} (valid: {valid})")
        intents |= hikari.Intents[item.upper()]
    if hikari.Intents.GUILDS not in intents:
        raise _Invalid("GUILDS is required: without it the bot never learns its servers")
    return intents


def _ip_addresses(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _Invalid(f"expected a list of IP addresses, got {_toml_type(value)}")
    addresses = []
    for item in value:
        if not isinstance(item, str):
            raise _Invalid(f"expected a list of strings, got array containing {_toml_type(item)}")
        try:
            addresses.append(str(ipaddress.ip_address(item.strip())))
        except ValueError:
            raise _Invalid(f"{item!r} is not an IP address") from None
    return tuple(addresses)


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"expected boolean, got {_toml_type(value)}")
    return value


def _path(value: object) -> pathlib.Path:
    return pathlib.Path(_nonempty(value))


def _log_level(value: object) -> str:
    level = _string(value).upper()
    if level not in LOG_LEVELS:
        raise _Invalid(f"expected one of {', '.join(LOG_LEVELS)}, got {value!r}")
    return level


# section -> (dataclass, key -> (default as written in TOML, parser)).  Defaults go through
# the parsers too, so a default is exactly what the same text in config.toml would give.
_SECTIONS: dict[str, tuple[type, dict[str, tuple[object, _Parser]]]] = {
    "discord": (
        DiscordConfig,
        {
            "token": ("", _string),
            "rest_url": ("https://discord.com/api/v10", _url),
            "intents": (["GUILDS", "GUILD_MEMBERS", "GUILD_MESSAGES", "MESSAGE_CONTENT"], _intents),
        },
    ),
    "http": (
        HttpConfig,
        {
            "host": ("127.0.0.1", _nonempty),
            "port": (8080, _integer(0, 65535)),
            "trusted_proxies": ([], _ip_addresses),
        },
    ),
    "database": (DatabaseConfig, {"path": ("data/rimpllee.db", _path)}),
    "limits": (
        LimitsConfig,
        {
            "server_tickets_per_minute": (30, _integer(1)),
            "user_cooldown_seconds": (20, _integer(0)),
            "user_max_open": (3, _integer(1)),
        },
    ),
    "log": (LogConfig, {"level": ("INFO", _log_level)}),
    "webhooks": (WebhooksConfig, {"allow_private_targets": (False, _boolean)}),
}

_KEY = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_DOTTED = rf"{_KEY}(?:\s*\.\s*{_KEY})*"
_HEADER_RE = re.compile(rf"\[\[?\s*({_DOTTED})\s*\]")
_ASSIGN_RE = re.compile(rf"({_DOTTED})\s*=")
_TOML_ERROR_LINE_RE = re.compile(r"\(at line (\d+), column \d+\)")


def _split_key(dotted: str) -> list[str]:
    return [part.strip("\"'") for part in re.findall(_KEY, dotted)]


def _key_lines(text: str) -> dict[str, int]:
    """Map each dotted key (and each table it implies) to its first line, since tomllib won't.

    A line scan, not a parser: a ``key =`` inside a multi-line string can fool it, which only
    costs a wrong line number in a message.
    """
    lines: dict[str, int] = {}
    table: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if header := _HEADER_RE.match(line):
            table = parts = _split_key(header[1])
        elif assign := _ASSIGN_RE.match(line):
            parts = table + _split_key(assign[1])
        else:
            continue
        for end in range(1, len(parts) + 1):
            lines.setdefault(".".join(parts[:end]), number)
    return lines


class _Locator:
    """Builds errors prefixed with ``file:line:`` for the key at fault."""

    def __init__(self, source: pathlib.Path, text: str | None) -> None:
        self.source = source
        self.lines = _key_lines(text) if text is not None else {}

    def error(self, key: str | None, message: str) -> ConfigError:
        line = None
        while key and line is None:  # a key inside an inline table: point at the table
            line = self.lines.get(key)
            key = key.rpartition(".")[0]
        where = f"{self.source}:{line}" if line is not None else str(self.source)
        return ConfigError(f"{where}: {message}")


def _token_problem(token: str) -> str | None:
    """Catch a pasted client secret or truncated token before Discord rejects it at login."""
    parts = token.split(".")
    if len(parts) != 3:
        return f"expected 3 dot-separated parts, got {len(parts)}"
    if not all(parts):
        return "a part is empty"
    first = parts[0].rstrip("=").replace("-", "+").replace("_", "/")
    try:
        user_id = base64.b64decode(first + "=" * (-len(first) % 4), validate=True)
    except binascii.Error:
        return "the first part is not base64"
    if not user_id.isdigit() or not 0 < int(user_id) < 2**64:
        return "the first part does not encode a bot user id"
    return None


def _resolve_token(
    values: dict[str, Any], env: Mapping[str, str], at: _Locator, require_token: bool
) -> None:
    env_token = env.get(TOKEN_ENV_VAR, "").strip()
    name = TOKEN_ENV_VAR if env_token else "discord.token"
    token = env_token or values["token"].strip()
    if not token:
        if require_token:
            raise at.error(
                None,
                f"no bot token: set discord.token or the {TOKEN_ENV_VAR} environment variable",
            )
    elif problem := _token_problem(token):
        key = None if env_token else "discord.token"
        raise at.error(key, f"{name} does not look like a bot token ({problem})")
    values["token"] = token


def config_from_mapping(
    data: Mapping[str, Any],
    *,
    source: pathlib.Path,
    env: Mapping[str, str] | None = None,
    require_token: bool = True,
    text: str | None = None,
) -> Config:
    """Validate an already-parsed config; ``text`` is only used to put line numbers in errors."""
    at = _Locator(source, text)
    for name, section in data.items():
        if name not in _SECTIONS:
            known = ", ".join(sorted(_SECTIONS))
            kind = "section" if isinstance(section, Mapping) else "top-level key"
            raise at.error(name, f"unknown {kind} {name!r} (known sections: {known})")
        if not isinstance(section, Mapping):
            raise at.error(name, f"{name}: expected table, got {_toml_type(section)}")
    built: dict[str, Any] = {}
    for name, (cls, fields) in _SECTIONS.items():
        section = data.get(name, {})
        for key in section:
            if key not in fields:
                known = ", ".join(fields)
                dotted = f"{name}.{key}"
                raise at.error(dotted, f"unknown key {dotted!r} (known keys in [{name}]: {known})")
        values: dict[str, Any] = {}
        for key, (default, parse) in fields.items():
            try:
                values[key] = parse(section.get(key, default))
            except _Invalid as exc:
                raise at.error(f"{name}.{key}", f"{name}.{key}: {exc}") from None
        if cls is DiscordConfig:
            _resolve_token(values, os.environ if env is None else env, at, require_token)
        built[name] = cls(**values)
    return Config(**built, source=source)


def load_config(
    path: pathlib.Path, env: Mapping[str, str] | None = None, *, require_token: bool = True
) -> Config:
    """Read and validate ``path``; ``RIMPLLEE_TOKEN`` in ``env`` (default: os.environ) wins."""
    try:
        # utf-8-sig: tolerate the BOM that Windows editors add.
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: not UTF-8 (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_ERROR_LINE_RE.search(str(exc))
        where = f"{path}:{match[1]}" if match else str(path)
        raise ConfigError(f"{where}: invalid TOML: {exc}") from None
    return config_from_mapping(data, source=path, env=env, require_token=require_token, text=text)
