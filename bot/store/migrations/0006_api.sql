-- The API's memory: idempotency keys, outgoing webhooks and their outbox, and when a ticket was
-- claimed (the read endpoints and the webhook payloads report it).

ALTER TABLE tickets ADD COLUMN claimed_at REAL;

-- The first answer to a POST with an Idempotency-Key, replayed for 24 hours to a retry.
CREATE TABLE idempotency_keys (
    guild_id    INTEGER NOT NULL REFERENCES servers (guild_id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,  -- sha256 of the method, the path and the body
    status      INTEGER,        -- NULL while the first request is still in flight
    body        TEXT,
    headers     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(headers)),
    created_at  REAL NOT NULL,
    PRIMARY KEY (guild_id, key)
) STRICT;

CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Where a server's events go. The secret signs them (HMAC), so it is kept as given.
CREATE TABLE webhook_endpoints (
    endpoint_id TEXT NOT NULL PRIMARY KEY CHECK (endpoint_id GLOB 'whe_*'),
    guild_id    INTEGER NOT NULL REFERENCES servers (guild_id) ON DELETE CASCADE,
    url         TEXT NOT NULL,
    events      TEXT NOT NULL CHECK (json_valid(events)),  -- JSON array of event types
    secret      TEXT NOT NULL CHECK (secret GLOB 'whsec_*'),
    created_at  REAL NOT NULL
) STRICT;

CREATE INDEX webhook_endpoints_guild ON webhook_endpoints (guild_id);

-- The outbox: written in the same transaction as the change an event reports.
CREATE TABLE webhook_events (
    event_id   TEXT NOT NULL PRIMARY KEY CHECK (event_id GLOB 'evt_*'),
    guild_id   INTEGER NOT NULL REFERENCES servers (guild_id) ON DELETE CASCADE,
    ticket_id  INTEGER,
    type       TEXT NOT NULL,
    payload    TEXT NOT NULL CHECK (json_valid(payload)),
    created_at REAL NOT NULL
) STRICT;

CREATE INDEX webhook_events_guild ON webhook_events (guild_id, created_at);

-- One row per event and endpoint; deliveries of one ticket to one endpoint go in delivery_id
-- order, the next waiting until the one before it is delivered or given up.
CREATE TABLE webhook_deliveries (
    delivery_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT NOT NULL REFERENCES webhook_events (event_id) ON DELETE CASCADE,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints (endpoint_id) ON DELETE CASCADE,
    ticket_id       INTEGER,
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at REAL NOT NULL,
    last_status     INTEGER,
    last_error      TEXT,
    delivered_at    REAL,
    created_at      REAL NOT NULL
) STRICT;

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (endpoint_id, ticket_id, state);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
