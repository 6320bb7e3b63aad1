-- Tickets that look after themselves: timers (close requests, inactivity), the opener leaving,
-- and overflow categories.

-- Inactivity auto-close, per server (NULL: off) with a per-button override (NULL: the server's;
-- 0: never for this button). Hours without a message from the opener before the warning, and
-- hours after the warning before the close.
ALTER TABLE servers ADD COLUMN inactivity_warn_hours REAL
    CHECK (inactivity_warn_hours > 0);
ALTER TABLE servers ADD COLUMN inactivity_close_hours REAL NOT NULL DEFAULT 24
    CHECK (inactivity_close_hours > 0);
-- What happens to a ticket when its opener leaves the server.
ALTER TABLE servers ADD COLUMN opener_left TEXT NOT NULL DEFAULT 'keep'
    CHECK (opener_left IN ('keep', 'close'));

ALTER TABLE buttons ADD COLUMN inactivity_warn_hours REAL
    CHECK (inactivity_warn_hours >= 0);
ALTER TABLE buttons ADD COLUMN inactivity_close_hours REAL
    CHECK (inactivity_close_hours > 0);
-- Categories to use, in order, when the button's own category is full: a JSON array of IDs.
ALTER TABLE buttons ADD COLUMN overflow_category_ids TEXT NOT NULL DEFAULT '[]'
    CHECK (json_valid(overflow_category_ids));

-- Staff exempted the ticket from inactivity auto-close.
ALTER TABLE tickets ADD COLUMN auto_close_exempt INTEGER NOT NULL DEFAULT 0
    CHECK (auto_close_exempt IN (0, 1));
-- When the bot noticed the opener had left (said once, whatever the setting).
ALTER TABLE tickets ADD COLUMN opener_left_at REAL;

-- Timers: rows worked by the one background runner. A row is claimed by moving `due_at` past
-- a lease in one statement (so two runners never fire it twice), deleted when done, and
-- rescheduled with backoff when Discord fails. A crash loses none: the lease runs out.
CREATE TABLE ticket_timers (
    timer_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id  INTEGER NOT NULL REFERENCES tickets (ticket_id) ON DELETE CASCADE,
    kind       TEXT NOT NULL
               CHECK (kind IN ('close_request', 'inactivity_warn', 'inactivity_close')),
    due_at     REAL NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error TEXT,
    created_at REAL NOT NULL,
    UNIQUE (ticket_id, kind)
) STRICT;

CREATE INDEX ticket_timers_due ON ticket_timers (due_at);

-- A close request waiting for the opener's answer (at most one per ticket).
CREATE TABLE close_requests (
    ticket_id    INTEGER NOT NULL PRIMARY KEY REFERENCES tickets (ticket_id) ON DELETE CASCADE,
    requested_by INTEGER NOT NULL,
    reason       TEXT,
    close_at     REAL,  -- NULL: only the opener's answer closes it
    created_at   REAL NOT NULL
) STRICT;

-- Feedback after close: the opener is asked by DM to rate the support 1-5 (once per ticket).
ALTER TABLE servers ADD COLUMN feedback INTEGER NOT NULL DEFAULT 0 CHECK (feedback IN (0, 1));
ALTER TABLE tickets ADD COLUMN rating INTEGER CHECK (rating BETWEEN 1 AND 5);
ALTER TABLE tickets ADD COLUMN rating_comment TEXT;
ALTER TABLE tickets ADD COLUMN rated_at REAL;
