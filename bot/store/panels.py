"""Panels with their buttons, support roles and intake questions."""

from __future__ import annotations

import json
from typing import Any

from bot.core.errors import AdminError
from bot.core.models import Button, Panel, Question
from bot.store.database import Connection, Database, Row

# The whole panel in one statement (one trip to the database thread): buttons, their roles and
# questions come back as JSON, in order.
_LOAD_PANEL = """
SELECT p.panel_id, p.guild_id, p.title, p.description, p.colour, p.channel_id, p.message_id,
  (SELECT json_group_array(json(b.j)) FROM (
     SELECT json_object(
       'button_id', bt.button_id, 'position', bt.position, 'label', bt.label,
       'emoji', bt.emoji, 'style', bt.style, 'category_id', bt.category_id,
       'name_pattern', bt.name_pattern, 'max_open', bt.max_open,
       'welcome_text', bt.welcome_text,
       'overflow', json(bt.overflow_category_ids),
       'warn_hours', bt.inactivity_warn_hours, 'close_hours', bt.inactivity_close_hours,
       'thread_channel_id', bt.thread_channel_id,
       'roles', (SELECT json_group_array(r.role_id) FROM
                   (SELECT role_id FROM button_support_roles
                    WHERE button_id = bt.button_id ORDER BY role_id) r),
       'questions', (SELECT json_group_array(json(q.j)) FROM
                   (SELECT json_object(
                      'question_id', question_id, 'label', label, 'placeholder', placeholder,
                      'style', style, 'required', required, 'min_length', min_length,
                      'max_length', max_length) AS j
                    FROM questions WHERE button_id = bt.button_id ORDER BY position) q)
     ) AS j
     FROM buttons bt WHERE bt.panel_id = p.panel_id ORDER BY bt.position) b) AS buttons
FROM panels p"""
_BY_ID = _LOAD_PANEL + " WHERE p.panel_id = ? AND p.guild_id = ?"
# The panel holding a button, still in one statement: a click needs nothing else.
_BY_BUTTON = (
    _LOAD_PANEL
    + " WHERE p.panel_id = (SELECT panel_id FROM buttons WHERE button_id = ?) AND p.guild_id = ?"
)


def _question(q: dict[str, Any]) -> Question:
    return Question(
        question_id=q["question_id"],
        label=q["label"],
        placeholder=q["placeholder"],
        style=q["style"],
        required=bool(q["required"]),
        min_length=q["min_length"],
        max_length=q["max_length"],
    )


def _button(panel_id: str, b: dict[str, Any]) -> Button:
    return Button(
        button_id=b["button_id"],
        panel_id=panel_id,
        label=b["label"],
        position=b["position"],
        emoji=b["emoji"],
        style=b["style"],
        category_id=b["category_id"],
        name_pattern=b["name_pattern"],
        max_open=b["max_open"],
        welcome_text=b["welcome_text"],
        support_role_ids=tuple(b["roles"]),
        questions=tuple(_question(q) for q in b["questions"]),
        overflow_category_ids=tuple(b["overflow"]),
        inactivity_warn_hours=b["warn_hours"],
        inactivity_close_hours=b["close_hours"],
        thread_channel_id=b["thread_channel_id"],
    )


async def load_panel(db: Database, guild_id: int, panel_id: str) -> Panel | None:
    """The panel if it belongs to `guild_id`: another server's panel is simply not found."""
    return _panel(await db.fetchone(_BY_ID, (panel_id, guild_id)))


async def load_panel_for_button(db: Database, guild_id: int, button_id: str) -> Panel | None:
    """The panel holding the button, if it belongs to `guild_id`."""
    return _panel(await db.fetchone(_BY_BUTTON, (button_id, guild_id)))


def _panel(row: Row | None) -> Panel | None:
    if row is None:
        return None
    panel_id = row["panel_id"]
    return Panel(
        panel_id=row["panel_id"],
        guild_id=row["guild_id"],
        title=row["title"],
        description=row["description"],
        colour=row["colour"],
        channel_id=row["channel_id"],
        message_id=row["message_id"],
        buttons=tuple(_button(panel_id, b) for b in json.loads(row["buttons"])),
    )


async def save_panel(db: Database, panel: Panel, now: float) -> None:
    """Write the panel exactly as given, replacing its buttons and questions, in one step."""
    # IDs are global (checked before they are written): one panel write at a time.
    async with db.write("panels") as conn:
        await _write_panel(conn, panel, now)


async def _owner(conn: Connection, sql: str, key: str) -> object | None:
    async with conn.execute(sql, (key,)) as cursor:
        row = await cursor.fetchone()
    return None if row is None else row[0]


async def _check_ids_free(conn: Connection, panel: Panel) -> None:
    """IDs are global: refuse to overwrite another server's panel, button or question."""
    owner = await _owner(conn, "SELECT guild_id FROM panels WHERE panel_id = ?", panel.panel_id)
    if owner not in (None, panel.guild_id):
        raise AdminError(f"panel id {panel.panel_id!r} is already used by another server")
    for button in panel.buttons:
        owner = await _owner(
            conn, "SELECT panel_id FROM buttons WHERE button_id = ?", button.button_id
        )
        if owner not in (None, panel.panel_id):
            raise AdminError(f"button id {button.button_id!r} is already used by panel {owner!r}")
        for question in button.questions:
            owner = await _owner(
                conn, "SELECT button_id FROM questions WHERE question_id = ?", question.question_id
            )
            if owner not in (None, button.button_id):
                raise AdminError(
                    f"question id {question.question_id!r} is already used by button {owner!r}"
                )


def _not_in(column: str, keep: list[str]) -> str:
    """``AND column NOT IN (?, …)``, nothing when `keep` is empty (PostgreSQL refuses ``()``)."""
    return f" AND {column} NOT IN ({','.join('?' * len(keep))})" if keep else ""


async def _write_panel(conn: Connection, panel: Panel, now: float) -> None:
    await _check_ids_free(conn, panel)
    await conn.execute(
        "INSERT OR IGNORE INTO servers (guild_id, created_at) VALUES (?, ?)",
        (panel.guild_id, now),
    )
    await conn.execute(
        "INSERT INTO panels (panel_id, guild_id, title, description, colour, channel_id, "
        "message_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (panel_id) DO UPDATE SET title = excluded.title, "
        "description = excluded.description, colour = excluded.colour, "
        "channel_id = excluded.channel_id, message_id = excluded.message_id",
        (
            panel.panel_id,
            panel.guild_id,
            panel.title,
            panel.description,
            panel.colour,
            panel.channel_id,
            panel.message_id,
            now,
        ),
    )
    keep = [b.button_id for b in panel.buttons]
    await conn.execute(
        f"DELETE FROM buttons WHERE panel_id = ?{_not_in('button_id', keep)}",
        (panel.panel_id, *keep),
    )
    # Positions are unique per panel: park the survivors out of the way before reordering.
    await conn.execute(
        "UPDATE buttons SET position = position + 1000000 WHERE panel_id = ?", (panel.panel_id,)
    )
    for button in panel.buttons:
        await _save_button(conn, button)


async def _save_button(conn: Connection, button: Button) -> None:
    await conn.execute(
        "INSERT INTO buttons (button_id, panel_id, position, label, emoji, style, category_id, "
        "name_pattern, max_open, welcome_text, overflow_category_ids, inactivity_warn_hours, "
        "inactivity_close_hours, thread_channel_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (button_id) DO UPDATE SET position = excluded.position, "
        "label = excluded.label, emoji = excluded.emoji, style = excluded.style, "
        "category_id = excluded.category_id, name_pattern = excluded.name_pattern, "
        "max_open = excluded.max_open, welcome_text = excluded.welcome_text, "
        "overflow_category_ids = excluded.overflow_category_ids, "
        "inactivity_warn_hours = excluded.inactivity_warn_hours, "
        "inactivity_close_hours = excluded.inactivity_close_hours, "
        "thread_channel_id = excluded.thread_channel_id",
        (
            button.button_id,
            button.panel_id,
            button.position,
            button.label,
            button.emoji,
            button.style,
            button.category_id,
            button.name_pattern,
            button.max_open,
            button.welcome_text,
            json.dumps(list(button.overflow_category_ids)),
            button.inactivity_warn_hours,
            button.inactivity_close_hours,
            button.thread_channel_id,
        ),
    )
    await conn.execute("DELETE FROM button_support_roles WHERE button_id = ?", (button.button_id,))
    await conn.executemany(
        "INSERT INTO button_support_roles (button_id, role_id) VALUES (?, ?)",
        [(button.button_id, r) for r in button.support_role_ids],
    )
    await conn.execute("DELETE FROM questions WHERE button_id = ?", (button.button_id,))
    await conn.executemany(
        "INSERT INTO questions (question_id, button_id, position, label, placeholder, style, "
        "required, min_length, max_length) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                q.question_id,
                button.button_id,
                i,
                q.label,
                q.placeholder,
                q.style,
                int(q.required),
                q.min_length,
                q.max_length,
            )
            for i, q in enumerate(button.questions)
        ],
    )


class SqlitePanelStore:
    """Panels for the admin commands, the button router and panel files."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get_panel(self, guild_id: int, panel_id: str) -> Panel | None:
        return await load_panel(self._db, guild_id, panel_id)

    async def list_panels(self, guild_id: int) -> list[Panel]:
        rows = await self._db.fetchall(
            "SELECT panel_id FROM panels WHERE guild_id = ? ORDER BY created_at, panel_id",
            (guild_id,),
        )
        panels = [await load_panel(self._db, guild_id, r["panel_id"]) for r in rows]
        return [p for p in panels if p is not None]

    async def panel_for_button(self, guild_id: int, button_id: str) -> Panel | None:
        return await load_panel_for_button(self._db, guild_id, button_id)

    async def panel_for_question(self, guild_id: int, question_id: str) -> Panel | None:
        row = await self._db.fetchone(
            "SELECT b.panel_id FROM questions q JOIN buttons b USING (button_id) "
            "JOIN panels p USING (panel_id) WHERE q.question_id = ? AND p.guild_id = ?",
            (question_id, guild_id),
        )
        return None if row is None else await load_panel(self._db, guild_id, row["panel_id"])

    async def save(self, panel: Panel, now: float) -> None:
        await save_panel(self._db, panel, now)

    async def delete(self, guild_id: int, panel_id: str) -> bool:
        async with self._db.write() as conn:
            cursor = await conn.execute(
                "DELETE FROM panels WHERE panel_id = ? AND guild_id = ?", (panel_id, guild_id)
            )
            return cursor.rowcount == 1

    async def replace_all(self, guild_id: int, panels: list[Panel], now: float) -> None:
        """Make the server's panels exactly `panels`, in one transaction: all or nothing."""
        async with self._db.write("panels") as conn:
            keep = [p.panel_id for p in panels]
            await conn.execute(
                f"DELETE FROM panels WHERE guild_id = ?{_not_in('panel_id', keep)}",
                (guild_id, *keep),
            )
            for i, panel in enumerate(panels):
                await _write_panel(conn, panel, now + i * 1e-6)  # keeps the file's order


class SqliteButtonLabels:
    """The label of a ticket's button, for transcripts (none once the button is deleted)."""

    def __init__(self, panels: SqlitePanelStore) -> None:
        self._panels = panels

    async def button_label(self, guild_id: int, button_id: str | None) -> str | None:
        if button_id is None:
            return None
        panel = await self._panels.panel_for_button(guild_id, button_id)
        button = panel.button(button_id) if panel else None
        return button.label if button else None
