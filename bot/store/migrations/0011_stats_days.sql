-- Staff stats from per-day counts kept by triggers in the transaction of each change, so the stats
-- page reads a few hundred small rows per period instead of every ticket in it (issue 11).
--
-- Every table keys a server's numbers by button; button_id '' holds all of the server's tickets
-- (those whose button was deleted included), so "all buttons" is one key as well. A day is
-- CAST(t / 86400 AS INTEGER): whole UTC days since the epoch (floor(t / 86400) elsewhere).

-- Durations are counted in buckets whose lower bounds grow by about 1.4x: a period's counts per
-- bucket tell which bucket holds the median (or p90) and its rank there; the exact value is then
-- read from the tickets of that bucket alone (tickets_*_time below), so medians stay exact.
CREATE TABLE stats_buckets (
    bucket INTEGER PRIMARY KEY,
    lower  REAL NOT NULL UNIQUE  -- seconds; bucket 0 also takes anything below 1 s
) STRICT;
INSERT INTO stats_buckets (bucket, lower) VALUES
(0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 8), (7, 11),
(8, 15), (9, 21), (10, 29), (11, 40), (12, 57), (13, 79), (14, 111), (15, 156),
(16, 218), (17, 305), (18, 427), (19, 598), (20, 837), (21, 1171), (22, 1640), (23, 2296),
(24, 3214), (25, 4500), (26, 6300), (27, 8820), (28, 12348), (29, 17287), (30, 24201), (31, 33882),
(32, 47435), (33, 66409), (34, 92972), (35, 130161), (36, 182226), (37, 255116), (38, 357162), (39, 500027),
(40, 700038), (41, 980053), (42, 1372074), (43, 1920903), (44, 2689265), (45, 3764971), (46, 5270959), (47, 7379343),
(48, 10331080), (49, 14463512), (50, 20248916), (51, 28348483), (52, 39687876);

-- Tickets opened per day and source (a ticket still 'opening' is not counted yet).
CREATE TABLE stats_opened (
    guild_id  INTEGER NOT NULL REFERENCES servers (guild_id) ON DELETE CASCADE,
    button_id TEXT NOT NULL,
    day       INTEGER NOT NULL,
    source    TEXT NOT NULL,
    tickets   INTEGER NOT NULL,
    PRIMARY KEY (guild_id, button_id, day, source)
) STRICT, WITHOUT ROWID;

-- Time to first staff reply ('reply') and to close ('close') of the tickets opened in the `span`
-- days from `day`: each ticket counts in its day (span 1) and in its block of 32 days (span 32,
-- `day` a multiple of 32), so a long period reads whole blocks and only its edges by day.
CREATE TABLE stats_durations (
    guild_id  INTEGER NOT NULL REFERENCES servers (guild_id) ON DELETE CASCADE,
    button_id TEXT NOT NULL,
    span      INTEGER NOT NULL CHECK (span IN (1, 32)),
    day       INTEGER NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('reply', 'close')),
    bucket    INTEGER NOT NULL,
    tickets   INTEGER NOT NULL,
    PRIMARY KEY (guild_id, button_id, span, day, kind, bucket)
) STRICT, WITHOUT ROWID;

-- Claims (ticket_claims.at) and closes by someone other than the opener (tickets.closed_at) per
-- staff member and day.
CREATE TABLE stats_handled (
    guild_id  INTEGER NOT NULL REFERENCES servers (guild_id) ON DELETE CASCADE,
    button_id TEXT NOT NULL,
    day       INTEGER NOT NULL,
    user_id   INTEGER NOT NULL,
    claims    INTEGER NOT NULL,
    closes    INTEGER NOT NULL,
    PRIMARY KEY (guild_id, button_id, day, user_id)
) STRICT, WITHOUT ROWID;

-- The exact median: the durations of one bucket, in order, from the index alone (the last column
-- lets the duration be computed without visiting the table row).
CREATE INDEX tickets_guild_reply_time ON tickets
    (guild_id, (first_staff_reply_at - opened_at), opened_at, button_id, first_staff_reply_at)
    WHERE first_staff_reply_at IS NOT NULL;
CREATE INDEX tickets_guild_close_time ON tickets
    (guild_id, (closed_at - opened_at), opened_at, button_id, closed_at)
    WHERE closed_at IS NOT NULL;

-- What the stats page read before (every ticket of the period) is no longer read.
DROP INDEX tickets_guild_opened_stats;
DROP INDEX tickets_guild_closed;

-- The counts of the tickets already there.
INSERT INTO stats_opened (guild_id, button_id, day, source, tickets)
SELECT guild_id, b, day, source, count(*) FROM (
    SELECT guild_id, button_id AS b, CAST(opened_at / 86400 AS INTEGER) AS day, source
    FROM tickets WHERE state <> 'opening' AND button_id IS NOT NULL
    UNION ALL
    SELECT guild_id, '', CAST(opened_at / 86400 AS INTEGER), source
    FROM tickets WHERE state <> 'opening'
) AS t GROUP BY guild_id, b, day, source;

INSERT INTO stats_durations (guild_id, button_id, span, day, kind, bucket, tickets)
SELECT guild_id, b, span, day, kind, bucket, count(*) FROM (
    SELECT guild_id, b, s.span, day / s.span * s.span AS day, kind, (SELECT coalesce(max(bucket), 0) FROM stats_buckets WHERE lower <= d) AS bucket FROM (
    SELECT guild_id, button_id AS b, 'reply' AS kind, CAST(opened_at / 86400 AS INTEGER) AS day, first_staff_reply_at - opened_at AS d FROM tickets WHERE state <> 'opening' AND first_staff_reply_at IS NOT NULL AND button_id IS NOT NULL
    UNION ALL
    SELECT guild_id, '' AS b, 'reply' AS kind, CAST(opened_at / 86400 AS INTEGER) AS day, first_staff_reply_at - opened_at AS d FROM tickets WHERE state <> 'opening' AND first_staff_reply_at IS NOT NULL
    UNION ALL
    SELECT guild_id, button_id, 'close', CAST(opened_at / 86400 AS INTEGER), closed_at - opened_at FROM tickets WHERE state <> 'opening' AND closed_at IS NOT NULL AND button_id IS NOT NULL
    UNION ALL
    SELECT guild_id, '', 'close', CAST(opened_at / 86400 AS INTEGER), closed_at - opened_at FROM tickets WHERE state <> 'opening' AND closed_at IS NOT NULL
    ) AS d CROSS JOIN (SELECT 1 AS span UNION ALL SELECT 32) AS s
) AS t GROUP BY guild_id, b, span, day, kind, bucket;

INSERT INTO stats_handled (guild_id, button_id, day, user_id, claims, closes)
SELECT guild_id, b, day, user_id, sum(claims), sum(closes) FROM (
    SELECT guild_id, button_id AS b, CAST(closed_at / 86400 AS INTEGER) AS day, closed_by AS user_id, 0 AS claims, 1 AS closes FROM tickets WHERE state <> 'opening' AND closed_at IS NOT NULL AND closed_by IS NOT NULL AND closed_by <> user_id AND button_id IS NOT NULL
    UNION ALL
    SELECT guild_id, '' AS b, CAST(closed_at / 86400 AS INTEGER) AS day, closed_by AS user_id, 0 AS claims, 1 AS closes FROM tickets WHERE state <> 'opening' AND closed_at IS NOT NULL AND closed_by IS NOT NULL AND closed_by <> user_id
    UNION ALL
    SELECT guild_id, button_id, CAST(at / 86400 AS INTEGER), user_id, 1, 0 FROM ticket_claims WHERE 1 = 1 AND button_id IS NOT NULL
    UNION ALL
    SELECT guild_id, '', CAST(at / 86400 AS INTEGER), user_id, 1, 0 FROM ticket_claims WHERE 1 = 1
) AS t GROUP BY guild_id, b, day, user_id;

CREATE TRIGGER stats_tickets_insert AFTER INSERT ON tickets
BEGIN
INSERT INTO stats_opened (guild_id, button_id, day, source, tickets)
SELECT NEW.guild_id, k.b, CAST(NEW.opened_at / 86400 AS INTEGER), NEW.source, 1 FROM (SELECT NEW.button_id AS b WHERE NEW.button_id IS NOT NULL UNION ALL SELECT '') AS k
WHERE NEW.state <> 'opening'
ON CONFLICT (guild_id, button_id, day, source) DO UPDATE SET tickets = tickets + 1;
INSERT INTO stats_durations (guild_id, button_id, span, day, kind, bucket, tickets)
SELECT NEW.guild_id, k.b, s.span, CAST(NEW.opened_at / 86400 AS INTEGER) / s.span * s.span, 'reply',
(SELECT coalesce(max(bucket), 0) FROM stats_buckets WHERE lower <= NEW.first_staff_reply_at - NEW.opened_at), 1
FROM (SELECT NEW.button_id AS b WHERE NEW.button_id IS NOT NULL UNION ALL SELECT '') AS k CROSS JOIN (SELECT 1 AS span UNION ALL SELECT 32) AS s
WHERE NEW.state <> 'opening' AND NEW.first_staff_reply_at IS NOT NULL
ON CONFLICT (guild_id, button_id, span, day, kind, bucket) DO UPDATE SET tickets = tickets + 1;
INSERT INTO stats_durations (guild_id, button_id, span, day, kind, bucket, tickets)
SELECT NEW.guild_id, k.b, s.span, CAST(NEW.opened_at / 86400 AS INTEGER) / s.span * s.span, 'close',
(SELECT coalesce(max(bucket), 0) FROM stats_buckets WHERE lower <= NEW.closed_at - NEW.opened_at), 1
FROM (SELECT NEW.button_id AS b WHERE NEW.button_id IS NOT NULL UNION ALL SELECT '') AS k CROSS JOIN (SELECT 1 AS span UNION ALL SELECT 32) AS s
WHERE NEW.state <> 'opening' AND NEW.closed_at IS NOT NULL
ON CONFLICT (guild_id, button_id, span, day, kind, bucket) DO UPDATE SET tickets = tickets + 1;
INSERT INTO stats_handled (guild_id, button_id, day, user_id, claims, closes)
SELECT NEW.guild_id, k.b, CAST(NEW.closed_at / 86400 AS INTEGER), NEW.closed_by, 0, 1
FROM (SELECT NEW.button_id AS b WHERE NEW.button_id IS NOT NULL UNION ALL SELECT '') AS k
WHERE NEW.state <> 'opening' AND NEW.closed_at IS NOT NULL AND NEW.closed_by IS NOT NULL
AND NEW.closed_by <> NEW.user_id
ON CONFLICT (guild_id, button_id, day, user_id) DO UPDATE SET closes = closes + 1;
END;

CREATE TRIGGER stats_tickets_delete AFTER DELETE ON tickets
BEGIN
UPDATE stats_opened SET tickets = tickets - 1
WHERE OLD.state <> 'opening' AND guild_id = OLD.guild_id AND button_id IN (OLD.button_id, '')
AND day = CAST(OLD.opened_at / 86400 AS INTEGER) AND source = OLD.source;
UPDATE stats_durations SET tickets = tickets - 1
WHERE OLD.state <> 'opening' AND OLD.first_staff_reply_at IS NOT NULL AND guild_id = OLD.guild_id AND button_id IN (OLD.button_id, '')
AND kind = 'reply' AND ((span = 1 AND day = CAST(OLD.opened_at / 86400 AS INTEGER)) OR (span = 32 AND day = CAST(OLD.opened_at / 86400 AS INTEGER) / 32 * 32))
AND bucket = (SELECT coalesce(max(bucket), 0) FROM stats_buckets WHERE lower <= OLD.first_staff_reply_at - OLD.opened_at);
UPDATE stats_durations SET tickets = tickets - 1
WHERE OLD.state <> 'opening' AND OLD.closed_at IS NOT NULL AND guild_id = OLD.guild_id AND button_id IN (OLD.button_id, '')
AND kind = 'close' AND ((span = 1 AND day = CAST(OLD.opened_at / 86400 AS INTEGER)) OR (span = 32 AND day = CAST(OLD.opened_at / 86400 AS INTEGER) / 32 * 32))
AND bucket = (SELECT coalesce(max(bucket), 0) FROM stats_buckets WHERE lower <= OLD.closed_at - OLD.opened_at);
UPDATE stats_handled SET closes = closes - 1
WHERE OLD.state <> 'opening' AND OLD.closed_at IS NOT NULL AND OLD.closed_by IS NOT NULL
AND OLD.closed_by <> OLD.user_id AND guild_id = OLD.guild_id AND button_id IN (OLD.button_id, '')
AND day = CAST(OLD.closed_at / 86400 AS INTEGER) AND user_id = OLD.closed_by;
END;

CREATE TRIGGER stats_tickets_update AFTER UPDATE OF user_id, button_id, source, state, opened_at, first_staff_reply_at, closed_at, closed_by ON tickets
WHEN OLD.guild_id IS NOT NEW.guild_id OR OLD.user_id IS NOT NEW.user_id OR OLD.button_id IS NOT NEW.button_id OR OLD.source IS NOT NEW.source OR OLD.state IS NOT NEW.state OR OLD.opened_at IS NOT NEW.opened_at OR OLD.first_staff_reply_at IS NOT NEW.first_staff_reply_at OR OLD.closed_at IS NOT NEW.closed_at OR OLD.closed_by IS NOT NEW.closed_by
BEGIN
UPDATE stats_opened SET tickets = tickets - 1
WHERE OLD.state <> 'opening' AND guild_id = OLD.guild_id AND button_id IN (OLD.button_id, '')
AND day = CAST(OLD.opened_at / 86400 AS INTEGER) AND source = OLD.source;
UPDATE stats_durations SET tickets = tickets - 1
WHERE OLD.state <> 'opening' AND OLD.first_staff_reply_at IS NOT NULL AND guild_id = OLD.guild_id AND button_id IN (OLD.button_id, '')
AND kind = 'reply' AND ((span = 1 AND day = CAST(OLD.opened_at / 86400 AS INTEGER)) OR (span = 32 AND day = CAST(OLD.opened_at / 86400 AS INTEGER) / 32 * 32))
AND bucket = (SELECT coalesce(max(bucket), 0) FROM stats_buckets WHERE lower <= OLD.first_staff_reply_at - OLD.opened_at);
UPDATE stats_durations SET tickets = tickets - 1
WHERE OLD.state <> 'opening' AND OLD.closed_at IS NOT NULL AND guild_id = OLD.guild_id AND button_id IN (OLD.button_id, '')
AND kind = 'close' AND ((span = 1 AND day = CAST(OLD.opened_at / 86400 AS INTEGER)) OR (span = 32 AND day = CAST(OLD.opened_at / 86400 AS INTEGER) / 32 * 32))
AND bucket = (SELECT coalesce(max(bucket), 0) FROM stats_buckets WHERE lower <= OLD.closed_at - OLD.opened_at);
UPDATE stats_handled SET closes = closes - 1
WHERE OLD.state <> 'opening' AND OLD.closed_at IS NOT NULL AND OLD.closed_by IS NOT NULL
AND OLD.closed_by <> OLD.user_id AND guild_id = OLD.guild_id AND button_id IN (OLD.button_id, '')
AND day = CAST(OLD.closed_at / 86400 AS INTEGER) AND user_id = OLD.closed_by;
INSERT INTO stats_opened (guild_id, button_id, day, source, tickets)
SELECT NEW.guild_id, k.b, CAST(NEW.opened_at / 86400 AS INTEGER), NEW.source, 1 FROM (SELECT NEW.button_id AS b WHERE NEW.button_id IS NOT NULL UNION ALL SELECT '') AS k
WHERE NEW.state <> 'opening'
ON CONFLICT (guild_id, button_id, day, source) DO UPDATE SET tickets = tickets + 1;
INSERT INTO stats_durations (guild_id, button_id, span, day, kind, bucket, tickets)
SELECT NEW.guild_id, k.b, s.span, CAST(NEW.opened_at / 86400 AS INTEGER) / s.span * s.span, 'reply',
(SELECT coalesce(max(bucket), 0) FROM stats_buckets WHERE lower <= NEW.first_staff_reply_at - NEW.opened_at), 1
FROM (SELECT NEW.button_id AS b WHERE NEW.button_id IS NOT NULL UNION ALL SELECT '') AS k CROSS JOIN (SELECT 1 AS span UNION ALL SELECT 32) AS s
WHERE NEW.state <> 'opening' AND NEW.first_staff_reply_at IS NOT NULL
ON CONFLICT (guild_id, button_id, span, day, kind, bucket) DO UPDATE SET tickets = tickets + 1;
INSERT INTO stats_durations (guild_id, button_id, span, day, kind, bucket, tickets)
SELECT NEW.guild_id, k.b, s.span, CAST(NEW.opened_at / 86400 AS INTEGER) / s.span * s.span, 'close',
(SELECT coalesce(max(bucket), 0) FROM stats_buckets WHERE lower <= NEW.closed_at - NEW.opened_at), 1
FROM (SELECT NEW.button_id AS b WHERE NEW.button_id IS NOT NULL UNION ALL SELECT '') AS k CROSS JOIN (SELECT 1 AS span UNION ALL SELECT 32) AS s
WHERE NEW.state <> 'opening' AND NEW.closed_at IS NOT NULL
ON CONFLICT (guild_id, button_id, span, day, kind, bucket) DO UPDATE SET tickets = tickets + 1;
INSERT INTO stats_handled (guild_id, button_id, day, user_id, claims, closes)
SELECT NEW.guild_id, k.b, CAST(NEW.closed_at / 86400 AS INTEGER), NEW.closed_by, 0, 1
FROM (SELECT NEW.button_id AS b WHERE NEW.button_id IS NOT NULL UNION ALL SELECT '') AS k
WHERE NEW.state <> 'opening' AND NEW.closed_at IS NOT NULL AND NEW.closed_by IS NOT NULL
AND NEW.closed_by <> NEW.user_id
ON CONFLICT (guild_id, button_id, day, user_id) DO UPDATE SET closes = closes + 1;
END;

CREATE TRIGGER stats_claims_insert AFTER INSERT ON ticket_claims
BEGIN
INSERT INTO stats_handled (guild_id, button_id, day, user_id, claims, closes)
SELECT NEW.guild_id, k.b, CAST(NEW.at / 86400 AS INTEGER), NEW.user_id, 1, 0 FROM (SELECT NEW.button_id AS b WHERE NEW.button_id IS NOT NULL UNION ALL SELECT '') AS k
WHERE 1 = 1
ON CONFLICT (guild_id, button_id, day, user_id) DO UPDATE SET claims = claims + 1;
END;

CREATE TRIGGER stats_claims_delete AFTER DELETE ON ticket_claims
BEGIN
UPDATE stats_handled SET claims = claims - 1
WHERE guild_id = OLD.guild_id AND button_id IN (OLD.button_id, '')
AND day = CAST(OLD.at / 86400 AS INTEGER) AND user_id = OLD.user_id;
END;
