"""The house's layer rules, read from the source with `ast`: who may import whom.

- The emulator stands for Discord: its modules import nothing from the bot (the runner, which
  seeds the sandbox database and starts the bot, may).
- `bot/core/` imports neither hikari nor aiohttp nor sqlite.
- Nothing under `bot/discord/` imports `bot.store`, and no file there imports a command file
  (each has its own `lightbulb.Loader`; the gateway installs them).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parent.parent / "bot"

EMULATOR_MAY_IMPORT_THE_BOT = {"runner.py"}
COMMAND_FILES = {"admin", "panel_commands", "settings_commands", "ticket_commands"}


def imports(path: Path) -> set[str]:
    """Every module `path` imports, at any depth (imports inside functions count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            assert node.level == 0, f"{path}: relative import"
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def offending(path: Path, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        name
        for name in imports(path)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    )


def modules(folder: str) -> list[Path]:
    return sorted((BOT / folder).glob("*.py"))


@pytest.mark.parametrize("path", modules("sandbox"), ids=lambda p: p.name)
def test_the_emulator_imports_nothing_from_the_bot(path: Path) -> None:
    if path.name in EMULATOR_MAY_IMPORT_THE_BOT:
        pytest.skip("the runner seeds the sandbox database and starts the bot")
    bot_imports = [
        name
        for name in imports(path)
        if name.startswith("bot.") and not name.startswith("bot.sandbox")
    ]
    assert bot_imports == []


@pytest.mark.parametrize("path", modules("core"), ids=lambda p: p.name)
def test_core_imports_no_transport_and_no_database(path: Path) -> None:
    assert offending(path, ("hikari", "aiohttp", "sqlite3", "aiosqlite", "bot.store")) == []


@pytest.mark.parametrize("path", modules("discord"), ids=lambda p: p.name)
def test_the_discord_door_imports_nothing_from_the_store(path: Path) -> None:
    assert offending(path, ("bot.store",)) == []


@pytest.mark.parametrize("path", modules("discord"), ids=lambda p: p.name)
def test_no_discord_file_imports_a_command_file(path: Path) -> None:
    if path.stem == "gateway":
        pytest.skip("the gateway installs the command files' loaders")
    commands = tuple(f"bot.discord.{name}" for name in COMMAND_FILES)
    assert offending(path, commands) == []


def test_each_command_file_and_only_those_has_a_loader() -> None:
    for path in modules("discord"):
        has_loader = "lightbulb.Loader()" in path.read_text()
        assert has_loader == (path.stem in COMMAND_FILES), path.name


def test_the_rules_see_imports() -> None:
    """The checks above would pass on files they cannot read: show they find a real import."""
    assert "bot.sandbox.state" in imports(BOT / "sandbox" / "rest.py")
    assert offending(BOT / "sandbox" / "runner.py", ("bot.store",))
    assert offending(BOT / "discord" / "port.py", ("hikari",))


def test_the_cli_and_the_sandbox_runner_do_not_import_each_other_at_the_top() -> None:
    """They share bot/process.py instead (the runner is imported lazily by `rimpllee sandbox`)."""
    assert "bot.cli" not in imports(BOT / "sandbox" / "runner.py")
    assert "bot.process" in imports(BOT / "sandbox" / "runner.py")
    assert "bot.process" in imports(BOT / "cli.py")


@pytest.mark.parametrize("path", sorted(Path(__file__).parent.glob("*.py")), ids=lambda p: p.name)
def test_no_test_module_imports_another(path: Path) -> None:
    """Shared helpers live in tests/helpers.py (and fixtures in conftest.py)."""
    assert [name for name in imports(path) if name.startswith("tests.test_")] == []
