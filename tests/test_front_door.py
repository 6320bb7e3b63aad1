"""`rimpllee --version`, `rimpllee invite-url` and the LICENSE, as an admin meets them."""

from __future__ import annotations

import base64
import re
import tomllib
import urllib.parse
from pathlib import Path

import hikari
import pytest

from bot.core.tickets import BOT_PERMS
from tests.conftest import FAKE_TOKEN, run_cli

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
README = (ROOT / "README.md").read_text("utf-8")
# The README's names where they differ from Discord's (hikari's) flag names.
README_NAMES = {"View Channels": "VIEW_CHANNEL"}


def readme_permissions() -> hikari.Permissions:
    """The permissions the README tells an admin to invite the bot with, as Discord's bits."""
    sentence = re.search(r"these permissions: ([^.]+)\.", README)
    assert sentence is not None, "the README no longer lists the invite permissions"
    total = hikari.Permissions.NONE
    for name in " ".join(sentence[1].split()).split(", "):
        total |= hikari.Permissions[README_NAMES.get(name, name.upper().replace(" ", "_"))]
    return total


def link_parts(url: str) -> dict[str, list[str]]:
    parts = urllib.parse.urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "discord.com", "/oauth2/authorize")
    return urllib.parse.parse_qs(parts.query)


@pytest.mark.asyncio
async def test_version_is_the_package_version(tmp_path: Path) -> None:
    code, out, err = await run_cli("--version", cwd=tmp_path)
    assert (code, err) == (0, "")
    assert out == f"rimpllee {PYPROJECT['project']['version']}\n"


def test_the_license_file_is_the_license_pyproject_names() -> None:
    assert PYPROJECT["project"]["license"] == {"text": "MIT"}
    text = (ROOT / "LICENSE").read_text("utf-8")
    assert text.startswith("MIT License\n\nCopyright (c) ")
    assert "the Rimpllee authors" in text.splitlines()[2]
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in text


@pytest.mark.asyncio
async def test_invite_url_names_the_tokens_application_with_the_readmes_permissions(
    tmp_path: Path,
) -> None:
    (tmp_path / "config.toml").write_text(f'[discord]\ntoken = "{FAKE_TOKEN}"\n')
    code, out, err = await run_cli("invite-url", cwd=tmp_path)
    assert (code, err) == (0, "")
    query = link_parts(out.strip())
    assert query["client_id"] == [base64.b64decode(FAKE_TOKEN.split(".")[0]).decode()]
    assert query["scope"] == ["bot applications.commands"]
    permissions = hikari.Permissions(int(query["permissions"][0]))
    assert permissions == readme_permissions()
    # Everything the bot checks it holds in a ticket category, and nothing it does not use.
    assert permissions & int(BOT_PERMS) == int(BOT_PERMS)
    assert permissions & ~int(BOT_PERMS) == hikari.Permissions.MANAGE_ROLES


@pytest.mark.asyncio
async def test_invite_url_takes_the_environments_token_over_the_configs(tmp_path: Path) -> None:
    other = base64.b64encode(b"223456789012345678").decode() + ".Gx.yy"
    (tmp_path / "config.toml").write_text(f'[discord]\ntoken = "{FAKE_TOKEN}"\n')
    code, out, _ = await run_cli("invite-url", cwd=tmp_path, env={"RIMPLLEE_TOKEN": other})
    assert code == 0
    assert link_parts(out.strip())["client_id"] == ["223456789012345678"]


@pytest.mark.asyncio
async def test_invite_url_with_an_application_id_needs_no_config(tmp_path: Path) -> None:
    code, out, err = await run_cli(
        "invite-url", "--application-id", "987654321098765432", cwd=tmp_path
    )
    assert (code, err) == (0, "")
    assert link_parts(out.strip())["client_id"] == ["987654321098765432"]


@pytest.mark.asyncio
async def test_invite_url_without_a_token_says_what_to_give(tmp_path: Path) -> None:
    code, out, err = await run_cli("invite-url", cwd=tmp_path)
    assert (code, out) == (1, "")
    assert err == (
        "rimpllee: no application ID: pass --application-id, or set discord.token in "
        "config.toml or the RIMPLLEE_TOKEN environment variable\n"
    )


@pytest.mark.asyncio
async def test_invite_url_refuses_a_bad_application_id(tmp_path: Path) -> None:
    code, out, err = await run_cli("invite-url", "--application-id", "<@1>", cwd=tmp_path)
    assert (code, out) == (2, "")
    assert "argument --application-id:" in err
