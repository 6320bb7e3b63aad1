"""Load ``config.toml`` into frozen dataclasses, rejecting anything suspect before startup.

Every problem becomes one :class:`ConfigError` line naming the file, line and dotted key, so an
admin can fix the config without reading a traceback.  The token is never echoed.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import pathlib
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import hikari

from bot.core.numbers import SNOWFLAKE_MAX
from bot.core.shards import Shards
from bot.core.toml_reader import (
    Invalid,
    Locator,
    boolean,
    did_you_mean,
    integer,
    join,
    read_toml,
    string,
    toml_type,
)
from bot.errors import StartupError

TOKEN_ENV_VAR = "RIMPLLEE_TOKEN"  # noqa: S105 - the variable's name, not a secret
CLIENT_SECRET_ENV_VAR = "RIMPLLEE_CLIENT_SECRET"  # noqa: S105 - the variable's name
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(StartupError):
    """The config file is unreadable or invalid; ``str()`` is one line for the CLI to print."""


@dataclass(frozen=True, slots=True)
class DiscordConfig:
    token: str
    rest_url: str
    intents: hikari.Intents
    cdn_url: str = "https://cdn.discordapp.com"
    shard_ids: tuple[int, ...] = ()  # empty: every shard of shard_count
    shard_count: int = 0  # 0: as many as Discord recommends (GET /gateway/bot)

    @property
    def shards(self) -> Shards:
        return Shards(frozenset(self.shard_ids), self.shard_count)


@dataclass(frozen=True, slots=True)
class HttpConfig:
    host: str
    port: int
    trusted_proxies: tuple[str, ...]
    header_timeout_seconds: int = 15
    body_timeout_seconds: int = 10
    shutdown_grace_seconds: int = 5


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    path: pathlib.Path
    url: str = ""

    @property
    def target(self) -> pathlib.Path | str:
        """What the bot opens: the PostgreSQL URL when one is set, else the SQLite file."""
        return self.url or self.path


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    server_tickets_per_minute: int
    user_cooldown_seconds: int
    user_max_open: int


@dataclass(frozen=True, slots=True)
class TranscriptsConfig:
    file_max_mb: int = 10
    total_max_mb: int = 100


@dataclass(frozen=True, slots=True)
class LogConfig:
    level: str


@dataclass(frozen=True, slots=True)
class DashboardConfig:
    client_id: int  # 0: the bot's own application ID
    client_secret: str  # empty: login is off (the dashboard says how to turn it on)
    public_url: str  # empty: http://<http.host>:<http.port>


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
    transcripts: TranscriptsConfig = TranscriptsConfig()
    dashboard: DashboardConfig = DashboardConfig(0, "", "")
    webhooks: WebhooksConfig = WebhooksConfig(allow_private_targets=False)


_Parser = Callable[[Any], Any]


def _nonempty(value: object) -> str:
    text = string(value)
    if not text:
        raise Invalid("must not be empty")
    return text


def _integer(low: int, high: int | None = None) -> _Parser:
    def parse(value: object) -> int:
        value = integer(value)
        if high is not None and not low <= value <= high:
            raise Invalid(f"must be between {low} and {high}, got {value}")
        if value < low:
            raise Invalid(f"must be at least {low}, got {value}")
        return value

    return parse


def _url(value: object) -> str:
    url = string(value)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Invalid(f"expected an http:// or https:// URL, got {url!r}")
    return url.rstrip("/")


_SINGLE_INTENTS = [n for n, m in hikari.Intents.__members__.items() if int(m).bit_count() == 1]


def _intents(value: object) -> hikari.Intents:
    if not isinstance(value, list):
        raise Invalid(f"expected a list of strings, got {toml_type(value)}")
    intents = hikari.Intents.NONE
    for item in value:
        if not isinstance(item, str):
            raise Invalid(f"expected a list of strings, got array containing {toml_type(item)}")
        if item.upper() not in hikari.Intents.__members__:
            valid = ", ".join(_SINGLE_INTENTS)
            raise Invalid(f"unknown intent {item!r} (valid: {valid})")
        intents |= hikari.Intents[item.upper()]
    if hikari.Intents.GUILDS not in intents:
        raise Invalid("GUILDS is required: without it the bot never learns its servers")
    return intents


def _ip_addresses(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise Invalid(f"expected a list of IP addresses, got {toml_type(value)}")
    addresses = []
    for item in value:
        if not isinstance(item, str):
            raise Invalid(f"expected a list of strings, got array containing {toml_type(item)}")
        try:
            addresses.append(str(ipaddress.ip_address(item.strip())))
        except ValueError:
            raise Invalid(f"{item!r} is not an IP address") from None
    return tuple(addresses)


MAX_SHARDS = 65_536  # far beyond any bot's need; a typo'd count fails here, not at Discord


def _shard_ids(value: object) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise Invalid(f"expected a list of shard IDs (integers), got {toml_type(value)}")
    ids: list[int] = []
    for item in value:
        shard_id = _integer(0, MAX_SHARDS - 1)(item)
        if shard_id in ids:
            raise Invalid(f"shard {shard_id} is listed twice")
        ids.append(shard_id)
    return tuple(sorted(ids))


def _check_shards(values: dict[str, Any]) -> tuple[str, str] | None:
    """(key, problem) when shard_ids and shard_count don't fit together."""
    ids, count = values["shard_ids"], values["shard_count"]
    if ids and count == 0:
        return "shard_ids", "needs discord.shard_count (the total over every process) to be set"
    if outside := [i for i in ids if i >= count > 0]:
        return "shard_ids", (
            f"shard {outside[0]} is outside discord.shard_count = {count} "
            f"(shards are numbered 0 to {count - 1})"
        )
    return None


def _optional_url(value: object) -> str:
    return "" if value == "" else _url(value)


def _database_url(value: object) -> str:
    """Empty (SQLite at database.path) or a PostgreSQL connection URL."""
    url = string(value)
    if url and not url.startswith(("postgresql://", "postgres://")):
        raise Invalid(f'expected a postgresql:// URL (or "" for SQLite), got {url!r}')
    return url


def _path(value: object) -> pathlib.Path:
    return pathlib.Path(_nonempty(value))


def _log_level(value: object) -> str:
    level = string(value).upper()
    if level not in LOG_LEVELS:
        raise Invalid(f"expected one of {', '.join(LOG_LEVELS)}, got {value!r}")
    return level


# section -> (dataclass, key -> (default as written in TOML, parser)).  Defaults go through
# the parsers too, so a default is exactly what the same text in config.toml would give.
_SECTIONS: dict[str, tuple[type, dict[str, tuple[object, _Parser]]]] = {
    "discord": (
        DiscordConfig,
        {
            "token": ("", string),
            "rest_url": ("https://discord.com/api/v10", _url),
            "intents": (["GUILDS", "GUILD_MEMBERS", "GUILD_MESSAGES", "MESSAGE_CONTENT"], _intents),
            "cdn_url": ("https://cdn.discordapp.com", _url),
            "shard_ids": ([], _shard_ids),
            "shard_count": (0, _integer(0, MAX_SHARDS)),
        },
    ),
    "http": (
        HttpConfig,
        {
            "host": ("127.0.0.1", _nonempty),
            "port": (8080, _integer(0, 65535)),
            "trusted_proxies": ([], _ip_addresses),
            "header_timeout_seconds": (15, _integer(1, 3600)),
            "body_timeout_seconds": (10, _integer(1, 3600)),
            "shutdown_grace_seconds": (5, _integer(0, 600)),
        },
    ),
    "database": (
        DatabaseConfig,
        {"path": ("data/rimpllee.db", _path), "url": ("", _database_url)},
    ),
    "limits": (
        LimitsConfig,
        {
            "server_tickets_per_minute": (30, _integer(1)),
            "user_cooldown_seconds": (20, _integer(0)),
            "user_max_open": (3, _integer(1)),
        },
    ),
    "transcripts": (
        TranscriptsConfig,
        {"file_max_mb": (10, _integer(0, 1024)), "total_max_mb": (100, _integer(0, 1_000_000))},
    ),
    "log": (LogConfig, {"level": ("INFO", _log_level)}),
    "dashboard": (
        DashboardConfig,
        {
            "client_id": (0, _integer(0)),
            "client_secret": ("", string),
            "public_url": ("", _optional_url),
        },
    ),
    "webhooks": (WebhooksConfig, {"allow_private_targets": (False, boolean)}),
}


def _error(at: Locator, key: str | None, message: str) -> ConfigError:
    """``file:line: message``, the line being the key's (or its table's) when known."""
    return ConfigError(f"{at.where(key or '')}: {message}")


def _first_part(token: str) -> bytes | None:
    first = token.split(".", maxsplit=1)[0].rstrip("=").replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(first + "=" * (-len(first) % 4), validate=True)
    except binascii.Error:
        return None


def token_user_id(token: str) -> int | None:
    """The bot's user ID, which a bot token's first part is the base64 of; None if it is not.

    For a bot it is also the application ID (what an invite link names as ``client_id``).
    """
    user_id = _first_part(token)
    if user_id is None or not user_id.isdigit() or not 0 < int(user_id) <= SNOWFLAKE_MAX:
        return None
    return int(user_id)


def _token_problem(token: str) -> str | None:
    """Catch a pasted client secret or truncated token before Discord rejects it at login."""
    parts = token.split(".")
    if len(parts) != 3:
        return f"expected 3 dot-separated parts, got {len(parts)}"
    if not all(parts):
        return "a part is empty"
    if _first_part(token) is None:
        return "the first part is not base64"
    if token_user_id(token) is None:
        return "the first part does not encode a bot user id"
    return None


def _resolve_token(
    values: dict[str, Any], env: Mapping[str, str], at: Locator, require_token: bool
) -> None:
    env_token = env.get(TOKEN_ENV_VAR, "").strip()
    name = TOKEN_ENV_VAR if env_token else "discord.token"
    token = env_token or values["token"].strip()
    if not token:
        if require_token:
            raise _error(
                at,
                None,
                f"no bot token: set discord.token or the {TOKEN_ENV_VAR} environment variable",
            )
    elif problem := _token_problem(token):
        key = None if env_token else "discord.token"
        raise _error(at, key, f"{name} does not look like a bot token ({problem})")
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
    at = Locator(str(source), text)
    for name, section in data.items():
        if name not in _SECTIONS:
            known = ", ".join(sorted(_SECTIONS))
            kind = "section" if isinstance(section, Mapping) else "top-level key"
            hint = did_you_mean(name, _SECTIONS)
            raise _error(
                at, join("", name), f"unknown {kind} {name!r} (known sections: {known}){hint}"
            )
        if not isinstance(section, Mapping):
            raise _error(at, join("", name), f"{name}: expected table, got {toml_type(section)}")
    built: dict[str, Any] = {}
    for name, (cls, fields) in _SECTIONS.items():
        section = data.get(name, {})
        for key in section:
            if key not in fields:
                known = ", ".join(fields)
                dotted = f"{name}.{key}"
                hint = did_you_mean(key, fields)
                raise _error(
                    at,
                    join(name, key),
                    f"unknown key {dotted!r} (known keys in [{name}]: {known}){hint}",
                )
        values: dict[str, Any] = {}
        for key, (default, parse) in fields.items():
            try:
                values[key] = parse(section.get(key, default))
            except Invalid as exc:
                raise _error(at, join(name, key), f"{name}.{key}: {exc}") from None
        if cls is DiscordConfig:
            if problem := _check_shards(values):
                key, message = problem
                raise _error(at, join(name, key), f"{name}.{key}: {message}")
            _resolve_token(values, os.environ if env is None else env, at, require_token)
        if cls is DashboardConfig:
            secret = (os.environ if env is None else env).get(CLIENT_SECRET_ENV_VAR, "").strip()
            values["client_secret"] = secret or values["client_secret"].strip()
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
    data = read_toml(text, source=str(path), error=ConfigError)
    return config_from_mapping(data, source=path, env=env, require_token=require_token, text=text)
