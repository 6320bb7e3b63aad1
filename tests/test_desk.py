"""Tickets and transcripts in the dashboard over real HTTP: who sees which ticket (one rule, the
same in the list and on each page), the staff's actions through the lifecycle, the transcript
served with its policy, and a 404 that never confirms a ticket one may not see exists."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.app import Rimpllee
from bot.core.access import MemberView, TicketScope, may_see_ticket, ticket_scope
from bot.core.desk import TicketFilter
from bot.core.models import Answer, Button, Panel, Ticket
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import SandboxWorld, offer_logins
from bot.store import Database
from bot.store.panels import save_panel
from bot.store.settings import SqliteSettingsStore
from bot.store.ticket_list import SqliteTicketList
from bot.store.tickets import SqliteTicketStore
from tests.conftest import FakeClock
from tests.dashboard_client import Browserless
from tests.helpers import open_numbered, tickets_url

pytestmark = pytest.mark.asyncio

ROW_RE = re.compile(r'href="/servers/\d+/tickets/(\d+)">#\d{4}<')


@pytest_asyncio.fixture
async def visitors(
    app: Rimpllee, emulator: DiscordEmulator, world: SandboxWorld
) -> AsyncIterator[dict[str, Browserless]]:
    """Logged in: the admin, a support member, the opener (members[1]) and another member."""
    offer_logins(emulator, world, app.public_url)
    people = {
        "admin": world.admin.id,
        "support": world.support_member.id,
        "opener": world.members[1].id,
        "other": world.members[2].id,
    }
    logged = {}
    for name, user_id in people.items():
        logged[name] = Browserless(app, emulator)
        assert (await logged[name].login(user_id)).status == 303
    yield logged
    for person in logged.values():
        await person.close()


def link(text: str, rel: str) -> str:
    found = re.search(rf'<a href="([^"]*)" rel="{rel}">', text)
    assert found is not None, rel
    return html.unescape(found.group(1))


def listed(text: str) -> list[int]:
    return [int(n) for n in ROW_RE.findall(text)]


async def test_each_person_sees_the_tickets_the_rule_allows(
    app: Rimpllee, world: SandboxWorld, clock: FakeClock, visitors: dict[str, Browserless]
) -> None:
    first = await open_numbered(app, clock, world.members[1].id, "btn_help")
    second = await open_numbered(app, clock, world.members[2].id, "btn_report")
    admin = await visitors["admin"].get(tickets_url(world))
    assert admin.status == 200
    assert listed(admin.text) == [second, first]
    assert "member02" in admin.text  # openers by name, from the bot's view of the server
    support = await visitors["support"].get(tickets_url(world))
    assert listed(support.text) == [second, first]  # both buttons have the Support role
    opener = await visitors["opener"].get(tickets_url(world))
    assert listed(opener.text) == [first]
    assert "Integrations" not in opener.text  # no admin tabs for a member
    other = await visitors["other"].get(tickets_url(world))
    assert listed(other.text) == [second]

    # The ticket page: staff and the opener see it; another member gets the page of a ticket
    # that does not exist, byte for byte the same.
    page = await visitors["opener"].get(tickets_url(world, f"/{first}"))
    assert page.status == 200
    assert "a refund &lt;b&gt;" in page.text  # the answer, escaped
    assert "Staff actions" not in page.text
    hidden = await visitors["other"].get(tickets_url(world, f"/{first}"))
    missing = await visitors["other"].get(tickets_url(world, "/9999"))
    assert hidden.status == missing.status == 404
    assert hidden.text.replace(csrf_of(hidden.text), "") == missing.text.replace(
        csrf_of(missing.text), ""
    )
    assert (await visitors["support"].get(tickets_url(world, f"/{first}"))).status == 200

    # "My tickets": one's own, on every server one is in.
    mine = await visitors["opener"].get("/tickets")
    assert f'/servers/{world.guild.id}/tickets/{first}"' in mine.text
    assert f'/tickets/{second}"' not in mine.text
    desks = await visitors["support"].get("/tickets")
    assert "your support roles' tickets" in desks.text


def csrf_of(text: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', text)
    return found.group(1) if found else ""


async def test_filters_search_and_pages(
    app: Rimpllee, world: SandboxWorld, clock: FakeClock, visitors: dict[str, Browserless]
) -> None:
    help_ticket = await open_numbered(app, clock, world.members[1].id, "btn_help")
    reports = [await open_numbered(app, clock, world.members[3].id, "btn_report") for _ in range(3)]
    admin = visitors["admin"]
    assert listed((await admin.get(tickets_url(world, "?button=btn_help"))).text) == [help_ticket]
    assert listed((await admin.get(tickets_url(world, f"?q=%23{reports[1]:04d}"))).text) == [
        reports[1]
    ]
    by_name = await admin.get(tickets_url(world, "?q=MEMBER04"))
    assert listed(by_name.text) == reports[::-1]
    assert listed((await admin.get(tickets_url(world, "?q=nobody-by-that-name"))).text) == []
    by_opener = await admin.get(tickets_url(world, f"?opener={world.members[1].id}"))
    assert listed(by_opener.text) == [help_ticket]
    assert listed((await admin.get(tickets_url(world, "?source=button"))).text) == []
    assert listed((await admin.get(tickets_url(world, "?state=closed"))).text) == []
    assert len(listed((await admin.get(tickets_url(world, "?claimed=nobody"))).text)) == 4
    day = "2027-01-15"  # the fake clock's day: every ticket was opened that day
    assert len(listed((await admin.get(tickets_url(world, f"?from={day}&to={day}"))).text)) == 4
    assert listed((await admin.get(tickets_url(world, "?to=2027-01-14"))).text) == []

    # 60 more tickets straight into the database: pages of 50, newest first.
    assert app.db is not None
    store = SqliteTicketStore(app.db)
    for i in range(60):
        async with store.reserve(world.guild.id) as reservation:
            ticket = await reservation.insert_opening(
                user_id=world.members[4].id,
                panel_id="pnl_demo",
                button_id="btn_report",
                source="button",
                answers=(),
                support_role_ids=(world.support_role_id,),
                now=clock() + i,
            )
        await store.mark_open(ticket.ticket_id, welcome_message_id=ticket.ticket_id)
    first = await admin.get(tickets_url(world))
    newest = listed(first.text)
    assert len(newest) == 50
    assert 'rel="prev"' not in first.text
    # Pages are found by number (keyset): the link names the last number shown.
    older = link(first.text, "next")
    assert older == tickets_url(world, f"?before={newest[-1]}")
    second = await admin.get(older)
    rest = listed(second.text)
    assert len(rest) == 14
    assert rest[-1] == help_ticket
    assert 'rel="next"' not in second.text
    assert link(second.text, "first") == tickets_url(world)
    # Back to newer tickets: the same first page; the URL is the page (shareable, repeatable).
    assert listed((await admin.get(link(second.text, "prev"))).text) == newest
    assert listed((await admin.get(older)).text) == rest
    # Filters stay with the cursor: 60 of the 64 are from the report button, by members[4].
    mine = await admin.get(tickets_url(world, f"?button=btn_report&opener={world.members[4].id}"))
    assert len(listed(mine.text)) == 50
    narrowed = link(mine.text, "next")
    assert "button=btn_report" in narrowed
    assert len(listed((await admin.get(narrowed)).text)) == 10
    # A ticket opened since the first page was read does not shift the older pages.
    async with store.reserve(world.guild.id) as reservation:
        ticket = await reservation.insert_opening(
            user_id=world.members[5].id,
            panel_id="pnl_demo",
            button_id="btn_help",
            source="api",
            answers=(),
            support_role_ids=(world.support_role_id,),
            now=clock() + 100,
        )
    await store.mark_open(ticket.ticket_id, welcome_message_id=ticket.ticket_id)
    assert listed((await admin.get(older)).text) == rest
    assert listed((await admin.get(tickets_url(world))).text)[0] == ticket.number


async def test_staff_claim_close_and_the_opener_reads_the_transcript(
    app: Rimpllee,
    world: SandboxWorld,
    clock: FakeClock,
    emulator: DiscordEmulator,
    visitors: dict[str, Browserless],
) -> None:
    number = await open_numbered(app, clock, world.members[1].id, "btn_help")
    page_url = tickets_url(world, f"/{number}")
    support = visitors["support"]
    page = await support.get(page_url)
    assert "Staff actions" in page.text

    # Without the session's CSRF token nothing happens.
    refused = await support.post(page_url + "/claim", {"csrf": "forged"})
    assert refused.status == 403
    claimed = await support.post(page_url + "/claim", {"csrf": page.csrf})
    assert claimed.status == 303
    page = await support.get(claimed.headers["Location"])
    assert "You handle this ticket now." in page.text
    assert "support01" in page.text
    assert listed((await support.get(tickets_url(world, "?claimed=me"))).text) == [number]
    assert listed((await support.get(tickets_url(world, "?claimed=nobody"))).text) == []
    assert listed((await visitors["admin"].get(tickets_url(world, "?claimed=me"))).text) == []
    again = await support.post(page_url + "/claim", {"csrf": page.csrf})
    assert again.status == 409  # the lifecycle's own refusal, shown on the page
    assert "you already handle this ticket" in again.text

    # A member who is not staff can't act, even on a ticket they may see: the lifecycle says so.
    opener_page = await visitors["opener"].get(page_url)
    not_staff = await visitors["opener"].post(page_url + "/claim", {"csrf": opener_page.csrf})
    assert not_staff.status == 409
    assert "only this ticket&#39;s support team" in not_staff.text
    other_page = await visitors["other"].get("/tickets")
    hidden = await visitors["other"].post(page_url + "/close", {"csrf": other_page.csrf})
    assert hidden.status == 404

    closed = await support.post(page_url + "/close", {"csrf": page.csrf, "reason": "sorted"})
    assert closed.status == 303
    page = await support.get(closed.headers["Location"])
    assert "Ticket closed." in page.text
    assert "sorted" in page.text
    assert re.search(r"<dt>Claims</dt><dd>support01, 2027-01-15 \d\d:\d\d:\d\d UTC</dd>", page.text)
    assert 'id="transcript"' in page.text
    assert "frame-src 'self'" in page.headers["Content-Security-Policy"]
    ticket_channel = emulator.state.channels  # the channel is gone (delete mode)
    assert all(not c.name.startswith("ticket-") for c in ticket_channel.values())

    # The opener reads the stored transcript as it was written, its policy intact.
    transcript = await visitors["opener"].get(page_url + "/transcript/")
    assert transcript.status == 200
    assert transcript.headers["Content-Type"].startswith("text/html")
    policy = transcript.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'self'" in policy
    assert transcript.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert '<meta http-equiv="Content-Security-Policy"' in transcript.text
    assert "a refund &lt;b&gt;" in transcript.text
    assert app.db is not None
    row = await app.db.fetchone(
        "SELECT transcript_path FROM tickets WHERE guild_id = ? AND number = ?",
        (world.guild.id, number),
    )
    assert row is not None
    assert transcript.text == Path(row[0]).read_text("utf-8")

    # Files saved beside it: images inline, anything else a download, never a page of ours.
    assets = Path(row[0]).parent / "assets"
    (assets / "files").mkdir(parents=True, exist_ok=True)
    (assets / "avatars").mkdir(exist_ok=True)
    (assets / "files" / "page.html").write_text("<script>alert(1)</script>")
    (assets / "avatars" / "a.png").write_bytes(b"an image, by its name")
    page_file = await visitors["opener"].get(page_url + "/transcript/assets/files/page.html")
    assert page_file.status == 200
    assert page_file.headers["Content-Type"] == "application/octet-stream"
    assert page_file.headers["Content-Disposition"] == "attachment"
    assert "sandbox" in page_file.headers["Content-Security-Policy"]
    avatar = await visitors["opener"].get(page_url + "/transcript/assets/avatars/a.png")
    assert avatar.headers["Content-Type"] == "image/png"
    assert "Content-Disposition" not in avatar.headers

    # Another member: 404 for the transcript and anything beside it.
    for path in ("/transcript/", "/transcript/assets/avatars/a.png", "/transcript/assets/../../x"):
        assert (await visitors["other"].get(page_url + path)).status == 404
    assert (await visitors["opener"].get(page_url + "/transcript/assets/../x")).status == 404


async def test_archived_tickets_reopen_and_delete_from_the_dashboard(
    app: Rimpllee,
    world: SandboxWorld,
    clock: FakeClock,
    emulator: DiscordEmulator,
    visitors: dict[str, Browserless],
) -> None:
    assert app.db is not None
    await SqliteSettingsStore(app.db).update(world.guild.id, clock(), close_mode="archive")
    number = await open_numbered(app, clock, world.members[1].id, "btn_report")
    url = tickets_url(world, f"/{number}")
    admin = visitors["admin"]
    page = await admin.get(url)
    assert (await admin.post(url + "/close", {"csrf": page.csrf})).status == 303
    assert listed((await admin.get(tickets_url(world, "?state=archived"))).text) == [number]
    page = await admin.get(url)
    assert "Reopen" in page.text
    assert (await admin.post(url + "/reopen", {"csrf": page.csrf})).status == 303
    assert listed((await admin.get(tickets_url(world, "?state=open"))).text) == [number]
    page = await admin.get(url)
    assert (await admin.post(url + "/close", {"csrf": page.csrf})).status == 303
    channels_before = len(emulator.state.channels)
    assert (await admin.post(url + "/delete", {"csrf": page.csrf})).status == 303
    assert len(emulator.state.channels) == channels_before - 1
    page = await admin.get(url)
    assert "its channel is gone" in page.text


# -- the one rule, and the list query that must say the same ----------------------------------


def view(user_id: int, *, roles: frozenset[int] = frozenset(), perms: int = 0) -> MemberView:
    return MemberView(1, user_id, is_owner=False, permissions=perms, role_ids=roles)


def ticket(number: int, opener: int, roles: tuple[int, ...], guild: int = 1) -> Ticket:
    return Ticket(
        ticket_id=number,
        guild_id=guild,
        number=number,
        user_id=opener,
        state="open",
        source="api",
        opened_at=float(number),
        answers=(Answer("q", "a"),),
        support_role_ids=roles,
    )


@pytest.mark.parametrize(
    ("member", "visible"),
    [
        (view(10, perms=1 << 5), {1, 2, 3, 4}),  # Manage Server: everything
        (view(10, perms=1 << 3), {1, 2, 3, 4}),  # Administrator
        (view(10, roles=frozenset({100})), {1, 2}),  # the support role of tickets 1 and 2
        (view(10, roles=frozenset({200})), {2, 3}),
        (view(11), {1}),  # the opener of ticket 1 only
        (view(12, roles=frozenset({999}), perms=1 << 4), {2, 4}),  # Manage Channels: own only
        (None, set()),
    ],
)
async def test_the_list_query_says_what_the_rule_says(
    tmp_path: Path, member: MemberView | None, visible: set[int]
) -> None:
    tickets = [
        ticket(1, 11, (100,)),
        ticket(2, 12, (100, 200)),
        ticket(3, 13, (200,)),
        ticket(4, 12, ()),
    ]
    assert {t.number for t in tickets if may_see_ticket(member, t)} == visible
    assert not may_see_ticket(member, ticket(5, 11, (100,), guild=2))  # another server's
    scope = ticket_scope(member)
    if scope is None:
        return
    db = await Database.open(tmp_path / "rule.db")
    try:
        await _insert(db, tickets)
        found = await SqliteTicketList(db).list_tickets(scope, TicketFilter(), limit=10)
        assert {t.number for t in found} == visible
        other = TicketScope(2, scope.user_id, scope.everything, scope.role_ids)
        assert await SqliteTicketList(db).list_tickets(other, TicketFilter(), limit=9) == []
    finally:
        await db.close()


async def _insert(db: Database, tickets: list[Ticket]) -> None:
    for guild in {t.guild_id for t in tickets}:
        button = Button("btn_x", "pnl_x", "X")
        await save_panel(db, Panel("pnl_x", guild, "X", buttons=(button,)), 0.0)
    store = SqliteTicketStore(db)
    for t in tickets:
        async with store.reserve(t.guild_id) as reservation:
            made = await reservation.insert_opening(
                user_id=t.user_id,
                panel_id="pnl_x",
                button_id="btn_x",
                source=t.source,
                answers=t.answers,
                support_role_ids=t.support_role_ids,
                now=t.opened_at,
            )
        await store.mark_open(made.ticket_id, welcome_message_id=made.ticket_id)
