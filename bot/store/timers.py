"""Ticket timers written inside other writes (the open that starts a ticket's inactivity timer)."""

from __future__ import annotations

from bot.store.database import Connection

# The ticket's inactivity warning, due `base + warn hours`, where the hours are the button's
# override or else the server's; nothing for an exempt ticket, a closed one, or hours off
# (NULL or 0). Any earlier warning or close stage of the ticket is replaced.
_SCHEDULE_WARNING = """
INSERT INTO ticket_timers (ticket_id, kind, due_at, created_at)
SELECT t.ticket_id, 'inactivity_warn',
       :base + 3600.0 * coalesce(b.inactivity_warn_hours, s.inactivity_warn_hours), :now
FROM tickets t
JOIN servers s ON s.guild_id = t.guild_id
LEFT JOIN buttons b ON b.button_id = t.button_id
WHERE t.ticket_id = :ticket AND t.state = 'open' AND t.auto_close_exempt = 0
  AND coalesce(b.inactivity_warn_hours, s.inactivity_warn_hours) > 0
ON CONFLICT (ticket_id, kind) DO UPDATE SET
  due_at = excluded.due_at, attempts = 0, last_error = NULL
"""


async def schedule_inactivity(
    conn: Connection, ticket_id: int, now: float, base: float | None = None
) -> None:
    """(Re)start the ticket's inactivity countdown from `base` (default: now), in the caller's
    transaction; drops a pending close stage (the opener spoke, or the settings changed)."""
    await conn.execute(
        "DELETE FROM ticket_timers WHERE ticket_id = ? "
        "AND kind IN ('inactivity_warn', 'inactivity_close')",
        (ticket_id,),
    )
    params = {"ticket": ticket_id, "now": now, "base": now if base is None else base}
    await conn.execute(_SCHEDULE_WARNING, params)
