"""Config loading: defaults, token precedence, and one-line errors that point at file:line:key."""

import base64
import dataclasses
import pathlib

import hikari
import pytest

from bot.config import (
    Config,
    ConfigError,
    DatabaseConfig,
    DiscordConfig,
    HttpConfig,
    LimitsConfig,
    LogConfig,
    config_from_mapping,
    load_config,
)
from bot.errors import StartupError

TOKEN = base64.b64encode(b"123456789012345678").decode() + ".Gx.yy"
OTHER_TOKEN = base64.urlsafe_b64encode(b"987654321098765432").decode().rstrip("=") + ".Ab.cd"
ENV = {"RIMPLLEE_TOKEN": TOKEN}
EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "config.example.toml"


def write(tmp_path: pathlib.Path, text: str) -> pathlib.Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path: pathlib.Path, env: dict[str, str] | None = None) -> str:
    """The error for ``path``, checked to be one line that never leaks a token."""
    with pytest.raises(ConfigError) as info:
        load_config(path, ENV if env is None else env)
    message = str(info.value)
    assert "\n" not in message
    assert TOKEN not in message
    assert OTHER_TOKEN not in message
    return message


def defaults(source: pathlib.Path, token: str = TOKEN) -> Config:
    return Config(
        discord=DiscordConfig(
            token=token,
            rest_url="https://discord.com/api/v10",
            intents=hikari.Intents.GUILDS
            | hikari.Intents.GUILD_MEMBERS
            | hikari.Intents.GUILD_MESSAGES
            | hikari.Intents.MESSAGE_CONTENT,
        ),
        http=HttpConfig(host="127.0.0.1", port=8080, trusted_proxies=()),
        database=DatabaseConfig(path=pathlib.Path("data/rimpllee.db")),
        limits=LimitsConfig(
            server_tickets_per_minute=30, user_cooldown_seconds=20, user_max_open=3
        ),
        log=LogConfig(level="INFO"),
        source=source,
    )


# --- valid configs ---------------------------------------------------------------------------


def test_empty_file_gives_defaults(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "")
    assert load_config(path, ENV) == defaults(path)


def test_example_file_is_exactly_the_defaults() -> None:
    assert 'token = ""' in EXAMPLE.read_text(encoding="utf-8").splitlines()
    assert load_config(EXAMPLE, ENV) == defaults(EXAMPLE)


def test_token_from_file(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, f'[discord]\ntoken = "{OTHER_TOKEN}"\n')
    assert load_config(path, {}).discord.token == OTHER_TOKEN


def test_env_token_wins_over_file(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, f'[discord]\ntoken = "{OTHER_TOKEN}"\n')
    assert load_config(path, ENV).discord.token == TOKEN


def test_empty_env_token_falls_back_to_file(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, f'[discord]\ntoken = "{OTHER_TOKEN}"\n')
    assert load_config(path, {"RIMPLLEE_TOKEN": ""}).discord.token == OTHER_TOKEN


def test_env_defaults_to_os_environ(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RIMPLLEE_TOKEN", TOKEN)
    assert load_config(write(tmp_path, "")).discord.token == TOKEN


def test_token_not_required(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "")
    assert load_config(path, {}, require_token=False) == defaults(path, token="")


def test_values_are_normalised(tmp_path: pathlib.Path) -> None:
    path = write(
        tmp_path,
        """
        [discord]
        rest_url = "http://localhost:9000/api/"
        intents = ["guilds", "GUILD_MESSAGES"]
        [http]
        host = "::1"
        port = 0
        [database]
        path = "/var/lib/rimpllee/db.sqlite"
        [limits]
        server_tickets_per_minute = 1
        user_cooldown_seconds = 0
        user_max_open = 1
        [log]
        level = "debug"
        """,
    )
    config = load_config(path, ENV)
    assert config.discord.rest_url == "http://localhost:9000/api"
    assert config.discord.intents == hikari.Intents.GUILDS | hikari.Intents.GUILD_MESSAGES
    assert config.http == HttpConfig(host="::1", port=0, trusted_proxies=())
    assert config.database.path == pathlib.Path("/var/lib/rimpllee/db.sqlite")
    assert config.limits == LimitsConfig(1, 0, 1)
    assert config.log.level == "DEBUG"


def test_dotted_and_inline_keys(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, 'http.port = 9000\nlog = { level = "error" }\n')
    config = load_config(path, ENV)
    assert config.http.port == 9000
    assert config.log.level == "ERROR"


def test_config_is_frozen(tmp_path: pathlib.Path) -> None:
    config = load_config(write(tmp_path, ""), ENV)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.http.port = 1  # type: ignore[misc]


def test_config_from_mapping(tmp_path: pathlib.Path) -> None:
    source = tmp_path / "sandbox.toml"
    config = config_from_mapping({"http": {"port": 0}}, source=source, env=ENV)
    assert config == dataclasses.replace(defaults(source), http=HttpConfig("127.0.0.1", 0, ()))


# --- errors ------------------------------------------------------------------------------------


def test_config_error_is_a_startup_error() -> None:
    assert issubclass(ConfigError, StartupError)


def test_file_not_found(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "missing.toml"
    assert load_error(path) == f"{path}: file not found"


def test_toml_syntax_error_names_line(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "[http]\nport = 1\nhost x\n")
    assert load_error(path) == (
        f"{path}:3: invalid TOML: "
        "Expected '=' after a key in a key/value pair (at line 3, column 6)"
    )


def test_unknown_key_names_key_and_line(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "[log]\nlevel = 'INFO'\n\n[http]\nhost = 'x'\n# comment\nprot = 1\n")
    assert load_error(path) == (
        f"{path}:7: unknown key 'http.prot' (known keys in [http]: host, port, trusted_proxies, "
        "header_timeout_seconds, body_timeout_seconds, shutdown_grace_seconds)"
        "; did you mean 'port'?"
    )


def test_an_unknown_key_far_from_every_known_one_gets_no_guess(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "[limits]\nbananas = 1\n")
    assert load_error(path) == (
        f"{path}:2: unknown key 'limits.bananas' (known keys in [limits]: "
        "server_tickets_per_minute, user_cooldown_seconds, user_max_open)"
    )


def test_an_unknown_dotted_key_is_guessed_on_its_line(tmp_path: pathlib.Path) -> None:
    path = write(
        tmp_path, "[log]\nlevel = 'INFO'\n\n[limits]\nuser_max_open = 2\nuser_max_opn = 1\n"
    )
    assert load_error(path).endswith("; did you mean 'user_max_open'?")
    assert load_error(path).startswith(f"{path}:6: unknown key 'limits.user_max_opn' ")


def test_a_key_inside_a_multi_line_string_is_not_taken_for_a_key(tmp_path: pathlib.Path) -> None:
    # log.level's text holds "port = ..." lines; the real http.port below is the one at fault.
    text = '[log]\nlevel = """\n[http]\nport = 1\n"""\n\n[http]\nport = "x"\n'
    path = write(tmp_path, text)
    assert load_error(path) == f"{path}:8: http.port: expected integer, got string"


def test_unknown_section(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "[http]\nport = 1\n\n[htpp]\nport = 2\n")
    assert load_error(path) == (
        f"{path}:4: unknown section 'htpp' "
        "(known sections: dashboard, database, discord, http, limits, log, transcripts, webhooks)"
        "; did you mean 'http'?"
    )


def test_unknown_top_level_key(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, f'token = "{TOKEN}"\n')
    assert load_error(path).startswith(f"{path}:1: unknown top-level key 'token' ")


def test_section_must_be_a_table(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "http = 8080\n")
    assert load_error(path) == f"{path}:1: http: expected table, got integer"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[discord]\n\nintents = 5\n",
            "3: discord.intents: expected a list of strings, got integer",
        ),
        (
            "[discord]\nintents = ['GUILDS', 1]\n",
            "2: discord.intents: expected a list of strings, got array containing integer",
        ),
        ("[discord]\ntoken = 123\n", "2: discord.token: expected string, got integer"),
        ("[discord]\nrest_url = 1.5\n", "2: discord.rest_url: expected string, got float"),
        ("[http]\nhost = ['a']\n", "2: http.host: expected string, got array"),
        ("[http]\nport = '8080'\n", "2: http.port: expected integer, got string"),
        ("[database]\npath = {}\n", "2: database.path: expected string, got table"),
        ("[limits]\nuser_max_open = 2.0\n", "2: limits.user_max_open: expected integer, got float"),
        ("[log]\nlevel = 1979-05-27\n", "2: log.level: expected string, got date"),
        ('[http]\n"port" = "x"\n', "2: http.port: expected integer, got string"),
        ("http.port = 'x'\n", "1: http.port: expected integer, got string"),
        ("[http]\nport = true\n", "2: http.port: expected integer, got boolean"),
        (
            "[limits]\nuser_cooldown_seconds = false\n",
            "2: limits.user_cooldown_seconds: expected integer, got boolean",
        ),
    ],
)
def test_wrong_type_names_key_and_line(tmp_path: pathlib.Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    assert load_error(path) == f"{path}:{expected}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[http]\nport = 65536\n", "2: http.port: must be between 0 and 65535, got 65536"),
        ("[http]\nport = -1\n", "2: http.port: must be between 0 and 65535, got -1"),
        ("http = { port = 70000 }\n", "1: http.port: must be between 0 and 65535, got 70000"),
        ("[http]\nhost = ''\n", "2: http.host: must not be empty"),
        ("[database]\npath = ''\n", "2: database.path: must not be empty"),
        (
            "[limits]\nserver_tickets_per_minute = 0\n",
            "2: limits.server_tickets_per_minute: must be at least 1, got 0",
        ),
        (
            "[limits]\nuser_cooldown_seconds = -5\n",
            "2: limits.user_cooldown_seconds: must be at least 0, got -5",
        ),
        ("[limits]\nuser_max_open = 0\n", "2: limits.user_max_open: must be at least 1, got 0"),
        (
            "[log]\nlevel = 'verbose'\n",
            "2: log.level: expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'verbose'",
        ),
        (
            "[discord]\nrest_url = 'discord.com/api'\n",
            "2: discord.rest_url: expected an http:// or https:// URL, got 'discord.com/api'",
        ),
        (
            "[database]\nurl = 'mysql://db/rimpllee'\n",
            '2: database.url: expected a postgresql:// URL (or "" for SQLite), '
            "got 'mysql://db/rimpllee'",
        ),
    ],
)
def test_out_of_range_names_key_and_line(tmp_path: pathlib.Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    assert load_error(path) == f"{path}:{expected}"


def test_unknown_intent_names_it_and_the_key(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "[discord]\nintents = [\n  'GUILDS',\n  'GUILD_MEMBER',\n]\n")
    assert load_error(path).startswith(
        f"{path}:2: discord.intents: unknown intent 'GUILD_MEMBER' (valid: GUILDS, GUILD_MEMBERS,"
    )


def test_intents_without_guilds_are_refused(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "[discord]\nintents = ['GUILD_MEMBERS']\n")
    assert load_error(path) == (
        f"{path}:2: discord.intents: GUILDS is required: without it the bot never learns "
        "its servers"
    )


@pytest.mark.parametrize("text", ["", "[discord]\ntoken = ''\n", "[discord]\ntoken = '  '\n"])
def test_missing_token(tmp_path: pathlib.Path, text: str) -> None:
    path = write(tmp_path, text)
    assert load_error(path, env={}) == (
        f"{path}: no bot token: set discord.token or the RIMPLLEE_TOKEN environment variable"
    )


BAD_TOKENS = [
    ("not-a-token", "expected 3 dot-separated parts, got 1"),
    (f"{TOKEN}.extra", "expected 3 dot-separated parts, got 4"),
    (TOKEN.replace(".Gx.", ".."), "a part is empty"),
    ("MTIz!.Gx.yy", "the first part is not base64"),
    (
        base64.b64encode(b"hello world").decode() + ".Gx.yy",
        "the first part does not encode a bot user id",
    ),
    (base64.b64encode(b"0").decode() + ".Gx.yy", "the first part does not encode a bot user id"),
]


@pytest.mark.parametrize(("token", "problem"), BAD_TOKENS)
def test_malformed_token_in_file(tmp_path: pathlib.Path, token: str, problem: str) -> None:
    path = write(tmp_path, f'[discord]\nrest_url = "https://x"\ntoken = "{token}"\n')
    message = load_error(path, env={})
    assert message == f"{path}:3: discord.token does not look like a bot token ({problem})"
    assert token not in message


@pytest.mark.parametrize(("token", "problem"), BAD_TOKENS)
def test_malformed_token_in_env(tmp_path: pathlib.Path, token: str, problem: str) -> None:
    path = write(tmp_path, f'[discord]\ntoken = "{TOKEN}"\n')
    message = load_error(path, env={"RIMPLLEE_TOKEN": token})
    assert message == f"{path}: RIMPLLEE_TOKEN does not look like a bot token ({problem})"
    assert token not in message


def test_malformed_token_checked_even_when_not_required(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ConfigError, match="does not look like a bot token"):
        load_config(write(tmp_path, ""), {"RIMPLLEE_TOKEN": "x"}, require_token=False)


def test_errors_never_show_the_token_from_the_file(tmp_path: pathlib.Path) -> None:
    path = write(
        tmp_path, f'[discord]\ntoken = "{TOKEN}"\nintents = ["NOPE"]\n[http]\nport = true\n'
    )
    assert load_error(path, env={}).startswith(f"{path}:3: discord.intents: unknown intent 'NOPE' ")


def test_mapping_without_text_has_no_line_numbers(tmp_path: pathlib.Path) -> None:
    source = tmp_path / "config.toml"
    with pytest.raises(ConfigError) as info:
        config_from_mapping({"http": {"port": True}}, source=source, env=ENV)
    assert str(info.value) == f"{source}: http.port: expected integer, got boolean"


def test_trusted_proxies_are_ip_addresses(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "[http]\ntrusted_proxies = ['127.0.0.1', '::1']\n")
    config = load_config(path, env={"RIMPLLEE_TOKEN": TOKEN})
    assert config.http.trusted_proxies == ("127.0.0.1", "::1")
    bad = write(tmp_path, "[http]\ntrusted_proxies = ['nginx.local']\n")
    assert load_error(bad) == (f"{bad}:2: http.trusted_proxies: 'nginx.local' is not an IP address")


def test_the_dashboard_secret_comes_from_the_environment_too(tmp_path: pathlib.Path) -> None:
    path = write(
        tmp_path,
        f'[discord]\ntoken = "{TOKEN}"\n[dashboard]\nclient_secret = "from-file"\n'
        'public_url = "https://tickets.example.com/"\n',
    )
    from_file = load_config(path, env={})
    assert from_file.dashboard.client_secret == "from-file"
    assert from_file.dashboard.public_url == "https://tickets.example.com"
    from_env = load_config(path, env={"RIMPLLEE_CLIENT_SECRET": "from-env"})
    assert from_env.dashboard.client_secret == "from-env"
    bad = write(tmp_path, f'[discord]\ntoken = "{TOKEN}"\n[dashboard]\npublic_url = "x"\n')
    assert load_error(bad) == (
        f"{bad}:4: dashboard.public_url: expected an http:// or https:// URL, got 'x'"
    )
