-- The dashboard: logins in progress, sessions, and the log of requests made with a server's key.

-- One row per login sent to Discord's authorize page; taken (deleted) by the callback, so a
-- state is good for one callback only.
CREATE TABLE login_states (
    state_hash TEXT NOT NULL PRIMARY KEY,  -- SHA-256 of the state sent to Discord
    next_path  TEXT NOT NULL,              -- a local path (checked before it is stored)
    created_at REAL NOT NULL
) STRICT;

-- Dashboard sessions: the cookie holds a random ID, the table only its SHA-256.
CREATE TABLE web_sessions (
    session_hash TEXT NOT NULL PRIMARY KEY,
    user_id      INTEGER NOT NULL,
    username     TEXT NOT NULL,
    csrf_token   TEXT NOT NULL,
    created_at   REAL NOT NULL,
    expires_at   REAL NOT NULL
) STRICT;

CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);

-- Requests made with a server's API key (the last 200 per server are kept): what a developer
-- needs to debug an integration, and never a key or an answer's text.
CREATE TABLE api_requests (
    request_id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    guild_id   INTEGER NOT NULL REFERENCES servers (guild_id) ON DELETE CASCADE,
    at         REAL NOT NULL,
    status     INTEGER NOT NULL,
    error_code TEXT,     -- NULL on success
    user_id    TEXT,     -- as sent (the API takes it as a string); NULL when absent
    panel_id   TEXT,
    button_id  TEXT
) STRICT;

CREATE INDEX api_requests_guild ON api_requests (guild_id, request_id);
