"""Panels with their buttons, support roles and intake questions."""

from __future__ import annotations

import aiosqlite

from bot.core.models import Button, Panel, Question
from bot.store.database import Database


async def load_panel(db: Database, guild_id: int, panel_id: str) -> Panel | None:
    """The panel if it belongs to `guild_id`: another server's panel is simply not found."""
    row = await db.fetchone(
        "SELECT panel_id, guild_id, title, description, colour, channel_id, message_id "
        "FROM panels WHERE panel_id = ? AND guild_id = ?",
        (panel_id, guild_id),
    )
    if row is None:
        return None
    button_rows = await db.fetchall(
        "SELECT * FROM buttons WHERE panel_id = ? ORDER BY position", (panel_id,)
    )
    role_rows = await db.fetchall(
        "SELECT r.button_id, r.role_id FROM button_support_roles r "
        "JOIN buttons b USING (button_id) WHERE b.panel_id = ? ORDER BY r.role_id",
        (panel_id,),
    )
    question_rows = await db.fetchall(
        "SELECT q.* FROM questions q JOIN buttons b USING (button_id) "
        "WHERE b.panel_id = ? ORDER BY q.position",
        (panel_id,),
    )
    buttons = tuple(
        Button(
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
            support_role_ids=tuple(
                r["role_id"] for r in role_rows if r["button_id"] == b["button_id"]
            ),
            questions=tuple(
                Question(
                    question_id=q["question_id"],
                    label=q["label"],
                    placeholder=q["placeholder"],
                    style=q["style"],
                    required=bool(q["required"]),
                    min_length=q["min_length"],
                    max_length=q["max_length"],
                )
                for q in question_rows
                if q["button_id"] == b["button_id"]
            ),
        )
        for b in button_rows
    )
    return Panel(
        panel_id=row["panel_id"],
        guild_id=row["guild_id"],
        title=row["title"],
        description=row["description"],
        colour=row["colour"],
        channel_id=row["channel_id"],
        message_id=row["message_id"],
        buttons=buttons,
    )


async def save_panel(db: Database, panel: Panel, now: float) -> None:
    """Write the panel exactly as given, replacing its buttons and questions, in one step."""
    async with db.write() as conn:
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
        marks = ",".join("?" * len(keep)) or "NULL"
        await conn.execute(
            f"DELETE FROM buttons WHERE panel_id = ? AND button_id NOT IN ({marks})",
            (panel.panel_id, *keep),
        )
        for button in panel.buttons:
            await _save_button(conn, button)


async def _save_button(conn: aiosqlite.Connection, button: Button) -> None:
    # Positions are unique per panel: park this one out of the way before the upsert.
    await conn.execute(
        "UPDATE buttons SET position = -position - 1000 WHERE button_id = ?", (button.button_id,)
    )
    await conn.execute(
        "INSERT INTO buttons (button_id, panel_id, position, label, emoji, style, category_id, "
        "name_pattern, max_open, welcome_text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (button_id) DO UPDATE SET position = excluded.position, "
        "label = excluded.label, emoji = excluded.emoji, style = excluded.style, "
        "category_id = excluded.category_id, name_pattern = excluded.name_pattern, "
        "max_open = excluded.max_open, welcome_text = excluded.welcome_text",
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
