"""The Discord layer's import rules, read from the source: command files stand alone, and the
door reaches the database only through `core/`."""

from __future__ import annotations

import ast
from pathlib import Path

DISCORD = Path(__file__).resolve().parent.parent / "bot" / "discord"
COMMAND_FILES = {"admin", "panel_commands", "settings_commands", "ticket_commands"}


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, as dotted names (`from bot.discord import x` gives
    `bot.discord.x`)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_every_command_file_has_a_loader() -> None:
    for name in COMMAND_FILES:
        assert "loader = lightbulb.Loader()" in (DISCORD / f"{name}.py").read_text()
    others = {p.stem for p in DISCORD.glob("*.py")} - COMMAND_FILES
    for name in others:
        assert "lightbulb.Loader()" not in (DISCORD / f"{name}.py").read_text(), name


def test_no_file_under_discord_imports_a_command_file() -> None:
    commands = {f"bot.discord.{name}" for name in COMMAND_FILES}
    for path in DISCORD.glob("*.py"):
        if path.stem == "gateway":
            continue  # it installs their loaders
        assert not _imports(path) & commands, path.name


def test_discord_imports_nothing_from_the_store() -> None:
    for path in DISCORD.glob("*.py"):
        assert not any(m.startswith("bot.store") for m in _imports(path)), path.name
