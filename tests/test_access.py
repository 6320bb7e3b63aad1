"""The one rule for who may do what, and where a login may return to."""

from __future__ import annotations

import pytest

from bot.core.access import ADMINISTRATOR, MANAGE_GUILD, MemberView, Right, may, rights
from bot.core.sessions import safe_next_path
from bot.discord.oauth import HikariLogin, authorize_base

SEND_MESSAGES = 1 << 11


def member(permissions: int = 0, *, owner: bool = False) -> MemberView:
    return MemberView(1, 2, is_owner=owner, permissions=permissions, role_ids=frozenset({3}))


@pytest.mark.parametrize(
    ("view", "allowed"),
    [
        (member(MANAGE_GUILD), True),
        (member(ADMINISTRATOR), True),
        (member(owner=True), True),
        (member(SEND_MESSAGES), False),
        (member(), False),
        (None, False),
    ],
)
def test_manage_server_is_the_admin_pages(view: MemberView | None, allowed: bool) -> None:
    assert may(view, Right.MANAGE_SERVER) is allowed
    assert (Right.MANAGE_SERVER in rights(view)) is allowed


@pytest.mark.parametrize(
    ("asked", "followed"),
    [
        ("/servers/1/integrations?x=1", "/servers/1/integrations?x=1"),
        ("/", "/"),
        (None, "/"),
        ("", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("/ok\r\nSet-Cookie: x", "/"),
    ],
)
def test_a_login_returns_only_to_a_local_path(asked: str | None, followed: str) -> None:
    assert safe_next_path(asked) == followed


@pytest.mark.parametrize(
    ("rest_url", "site"),
    [
        ("https://discord.com/api/v10", "https://discord.com"),
        ("http://127.0.0.1:8081/api/v10", "http://127.0.0.1:8081"),
        ("https://proxy.example/discord/api", "https://proxy.example/discord"),
    ],
)
def test_the_authorize_page_is_on_the_rest_urls_site(rest_url: str, site: str) -> None:
    login = HikariLogin(rest_url, "secret")
    url = login.authorize_url(42, "http://127.0.0.1:8080/login/callback", "s")
    assert url.startswith(f"{site}/oauth2/authorize?response_type=code&client_id=42&scope=identify")
    assert authorize_base(rest_url) == site
