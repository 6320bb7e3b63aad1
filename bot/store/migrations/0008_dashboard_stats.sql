-- Staff stats for the dashboard, recorded when things happen (never recomputed from transcripts).

-- When a member of the ticket's staff first wrote in it (NULL: nobody has yet).
ALTER TABLE tickets ADD COLUMN first_staff_reply_at REAL;

-- Every claim, kept after the ticket closes (tickets.claimed_by is cleared on close and unclaim):
-- "tickets handled per staff member" counts these and the closes.
CREATE TABLE ticket_claims (
    claim_id  INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id  INTEGER NOT NULL REFERENCES servers (guild_id) ON DELETE CASCADE,
    ticket_id INTEGER NOT NULL REFERENCES tickets (ticket_id) ON DELETE CASCADE,
    button_id TEXT,  -- the ticket's, copied: per-button stats without a join
    user_id   INTEGER NOT NULL,
    at        REAL NOT NULL
) STRICT;

CREATE INDEX ticket_claims_guild_at ON ticket_claims (guild_id, at, user_id, button_id);
CREATE INDEX ticket_claims_ticket ON ticket_claims (ticket_id);

-- Closes in a period and who made them, per server (the stats page), from the index alone.
CREATE INDEX tickets_guild_closed ON tickets (guild_id, closed_at, closed_by, user_id, button_id)
    WHERE closed_at IS NOT NULL;

-- The stats page reads a period's tickets from this index alone (no visit to the table rows).
CREATE INDEX tickets_guild_opened_stats ON tickets
    (guild_id, opened_at, source, button_id, state, first_staff_reply_at, closed_at);
