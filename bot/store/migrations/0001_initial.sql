-- Initial schema. Conventions for every migration:
--   * Discord snowflakes are INTEGER (they fit SQLite's signed 64 bits).
--   * Timestamps are REAL unix seconds, written from the injected clock.
--   * Everything about a guild hangs off `servers`: deleting a server row purges the guild.
--   * No BEGIN/COMMIT here: the runner wraps each file in one transaction with its
--     schema_migrations record, and runs it with foreign_keys off (then foreign_key_check).

CREATE TABLE servers (
    guild_id       INTEGER NOT NULL PRIMARY KEY,
    log_channel_id INTEGER,
    user_max_open  INTEGER CHECK (user_max_open >= 1),  -- NULL: the config default applies
    ticket_counter INTEGER NOT NULL DEFAULT 0 CHECK (ticket_counter >= 0),
    created_at     REAL NOT NULL
) STRICT;

CREATE TABLE panels (
    panel_id    TEXT NOT NULL PRIMARY KEY CHECK (panel_id GLOB 'pnl_*'),
    guild_id    INTEGER NOT NULL REFERENCES servers (guild_id) ON DELETE CASCADE,
    title       TEXT NOT NULL,
    description TEXT,
    colour      INTEGER CHECK (colour BETWEEN 0 AND 0xFFFFFF),
    channel_id  INTEGER,  -- where the panel message was posted; NULL until posted
    message_id  INTEGER,
    created_at  REAL NOT NULL
) STRICT;

CREATE INDEX panels_guild ON panels (guild_id);

CREATE TABLE buttons (
    button_id    TEXT NOT NULL PRIMARY KEY CHECK (button_id GLOB 'btn_*'),
    panel_id     TEXT NOT NULL REFERENCES panels (panel_id) ON DELETE CASCADE,
    position     INTEGER NOT NULL CHECK (position >= 0),
    label        TEXT NOT NULL,
    emoji        TEXT,
    style        TEXT NOT NULL DEFAULT 'primary'
                 CHECK (style IN ('primary', 'secondary', 'success', 'danger')),
    category_id  INTEGER,  -- NULL: tickets are created outside any category
    name_pattern TEXT NOT NULL DEFAULT 'ticket-{number}',
    max_open     INTEGER NOT NULL DEFAULT 1 CHECK (max_open >= 1),
    welcome_text TEXT,
    UNIQUE (panel_id, position)
) STRICT;

CREATE TABLE button_support_roles (
    button_id TEXT NOT NULL REFERENCES buttons (button_id) ON DELETE CASCADE,
    role_id   INTEGER NOT NULL,
    PRIMARY KEY (button_id, role_id)
) STRICT;

CREATE TABLE questions (
    question_id TEXT NOT NULL PRIMARY KEY,
    button_id   TEXT NOT NULL REFERENCES buttons (button_id) ON DELETE CASCADE,
    position    INTEGER NOT NULL CHECK (position >= 0),
    label       TEXT NOT NULL,
    placeholder TEXT,
    style       TEXT NOT NULL DEFAULT 'short' CHECK (style IN ('short', 'paragraph')),
    required    INTEGER NOT NULL DEFAULT 1 CHECK (required IN (0, 1)),
    min_length  INTEGER CHECK (min_length BETWEEN 0 AND 4000),  -- Discord's text input limits
    max_length  INTEGER CHECK (max_length BETWEEN 1 AND 4000),
    CHECK (min_length <= max_length),
    UNIQUE (button_id, position)
) STRICT;

-- Tickets outlive the panel and button they were opened from (SET NULL), not their server.
CREATE TABLE tickets (
    ticket_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id        INTEGER NOT NULL REFERENCES servers (guild_id) ON DELETE CASCADE,
    number          INTEGER NOT NULL CHECK (number >= 1),  -- from servers.ticket_counter
    user_id         INTEGER NOT NULL,
    panel_id        TEXT REFERENCES panels (panel_id) ON DELETE SET NULL,
    button_id       TEXT REFERENCES buttons (button_id) ON DELETE SET NULL,
    channel_id      INTEGER UNIQUE,  -- NULL while 'opening', before Discord made the channel
    state           TEXT NOT NULL CHECK (state IN ('opening', 'open', 'closed')),
    source          TEXT NOT NULL CHECK (source IN ('button', 'api')),
    answers         TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(answers)),  -- JSON, copied
    opened_at       REAL NOT NULL,
    closed_at       REAL,
    closed_by       INTEGER,
    close_reason    TEXT,
    claimed_by      INTEGER,
    transcript_path TEXT,
    UNIQUE (guild_id, number)
) STRICT;

CREATE INDEX tickets_guild_user_state ON tickets (guild_id, user_id, state);
CREATE INDEX tickets_guild_opened ON tickets (guild_id, opened_at);
CREATE INDEX tickets_state ON tickets (state);
-- Child-key indexes so deleting a panel or button does not scan every ticket.
CREATE INDEX tickets_panel ON tickets (panel_id);
CREATE INDEX tickets_button ON tickets (button_id);

-- One active key per server; only its hash is stored, never the key itself.
CREATE TABLE api_keys (
    guild_id       INTEGER NOT NULL PRIMARY KEY
                   REFERENCES servers (guild_id) ON DELETE CASCADE,
    key_hash       TEXT NOT NULL UNIQUE CHECK (length(key_hash) = 64),  -- sha256 hex
    display_prefix TEXT NOT NULL,  -- the key's first characters, to recognise it in the UI
    created_at     REAL NOT NULL,
    created_by     INTEGER
) STRICT;

CREATE TABLE blacklist (
    guild_id INTEGER NOT NULL REFERENCES servers (guild_id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL,
    added_by INTEGER,
    reason   TEXT,
    added_at REAL NOT NULL,
    PRIMARY KEY (guild_id, user_id)
) STRICT;
