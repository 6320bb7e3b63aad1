-- PostgreSQL's form of migrations/0011_stats_days.sql: the same tables, indexes and counts, the
-- counts kept by one trigger function per table instead of SQLite's trigger bodies. A day is
-- stats_day(t): whole UTC days since the epoch (floor, as SQLite's CAST for these positive times).

CREATE FUNCTION stats_day(t DOUBLE PRECISION) RETURNS BIGINT
LANGUAGE sql IMMUTABLE AS $$ SELECT floor(t / 86400)::bigint $$;

CREATE TABLE stats_buckets (
    bucket BIGINT PRIMARY KEY,
    lower  DOUBLE PRECISION NOT NULL UNIQUE  -- seconds; bucket 0 also takes anything below 1 s
);
INSERT INTO stats_buckets (bucket, lower) VALUES
(0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 8), (7, 11),
(8, 15), (9, 21), (10, 29), (11, 40), (12, 57), (13, 79), (14, 111), (15, 156),
(16, 218), (17, 305), (18, 427), (19, 598), (20, 837), (21, 1171), (22, 1640), (23, 2296),
(24, 3214), (25, 4500), (26, 6300), (27, 8820), (28, 12348), (29, 17287), (30, 24201), (31, 33882),
(32, 47435), (33, 66409), (34, 92972), (35, 130161), (36, 182226), (37, 255116), (38, 357162), (39, 500027),
(40, 700038), (41, 980053), (42, 1372074), (43, 1920903), (44, 2689265), (45, 3764971), (46, 5270959), (47, 7379343),
(48, 10331080), (49, 14463512), (50, 20248916), (51, 28348483), (52, 39687876);

CREATE FUNCTION stats_bucket(seconds DOUBLE PRECISION) RETURNS BIGINT
LANGUAGE sql STABLE AS $$
    SELECT coalesce(max(bucket), 0) FROM stats_buckets WHERE lower <= seconds
$$;

CREATE TABLE stats_opened (
    guild_id  BIGINT NOT NULL REFERENCES servers (guild_id) ON DELETE CASCADE,
    button_id TEXT NOT NULL,
    day       BIGINT NOT NULL,
    source    TEXT NOT NULL,
    tickets   BIGINT NOT NULL,
    PRIMARY KEY (guild_id, button_id, day, source)
);

CREATE TABLE stats_durations (
    guild_id  BIGINT NOT NULL REFERENCES servers (guild_id) ON DELETE CASCADE,
    button_id TEXT NOT NULL,
    span      BIGINT NOT NULL CHECK (span IN (1, 32)),
    day       BIGINT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('reply', 'close')),
    bucket    BIGINT NOT NULL,
    tickets   BIGINT NOT NULL,
    PRIMARY KEY (guild_id, button_id, span, day, kind, bucket)
);

CREATE TABLE stats_handled (
    guild_id  BIGINT NOT NULL REFERENCES servers (guild_id) ON DELETE CASCADE,
    button_id TEXT NOT NULL,
    day       BIGINT NOT NULL,
    user_id   BIGINT NOT NULL,
    claims    BIGINT NOT NULL,
    closes    BIGINT NOT NULL,
    PRIMARY KEY (guild_id, button_id, day, user_id)
);

CREATE INDEX tickets_guild_reply_time ON tickets
    (guild_id, (first_staff_reply_at - opened_at), opened_at, button_id, first_staff_reply_at)
    WHERE first_staff_reply_at IS NOT NULL;
CREATE INDEX tickets_guild_close_time ON tickets
    (guild_id, (closed_at - opened_at), opened_at, button_id, closed_at)
    WHERE closed_at IS NOT NULL;

DROP INDEX tickets_guild_opened_stats;
DROP INDEX tickets_guild_closed;

-- The counts a ticket adds (sign 1) or takes away (sign -1), for its button and for ''. Taking
-- away only updates rows that are there, as SQLite's triggers do: a server's deletion cascades
-- to its counts before (or after) its tickets, and must not bring them back.
CREATE FUNCTION stats_add(
    what TEXT, sign BIGINT, g BIGINT, b TEXT, d BIGINT, s BIGINT, k TEXT, u BIGINT
) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF what = 'opened' THEN
        IF sign > 0 THEN
            INSERT INTO stats_opened (guild_id, button_id, day, source, tickets)
            VALUES (g, b, d, k, 1)
            ON CONFLICT (guild_id, button_id, day, source)
            DO UPDATE SET tickets = stats_opened.tickets + 1;
        ELSE
            UPDATE stats_opened SET tickets = tickets - 1
            WHERE guild_id = g AND button_id = b AND day = d AND source = k;
        END IF;
    ELSIF what = 'duration' THEN
        IF sign > 0 THEN
            INSERT INTO stats_durations (guild_id, button_id, span, day, kind, bucket, tickets)
            VALUES (g, b, s, d, k, u, 1)
            ON CONFLICT (guild_id, button_id, span, day, kind, bucket)
            DO UPDATE SET tickets = stats_durations.tickets + 1;
        ELSE
            UPDATE stats_durations SET tickets = tickets - 1
            WHERE guild_id = g AND button_id = b AND span = s AND day = d
              AND stats_durations.kind = k AND bucket = u;
        END IF;
    ELSIF what = 'closes' THEN
        IF sign > 0 THEN
            INSERT INTO stats_handled (guild_id, button_id, day, user_id, claims, closes)
            VALUES (g, b, d, u, 0, 1)
            ON CONFLICT (guild_id, button_id, day, user_id)
            DO UPDATE SET closes = stats_handled.closes + 1;
        ELSE
            UPDATE stats_handled SET closes = closes - 1
            WHERE guild_id = g AND button_id = b AND day = d AND user_id = u;
        END IF;
    ELSE  -- claims
        IF sign > 0 THEN
            INSERT INTO stats_handled (guild_id, button_id, day, user_id, claims, closes)
            VALUES (g, b, d, u, 1, 0)
            ON CONFLICT (guild_id, button_id, day, user_id)
            DO UPDATE SET claims = stats_handled.claims + 1;
        ELSE
            UPDATE stats_handled SET claims = claims - 1
            WHERE guild_id = g AND button_id = b AND day = d AND user_id = u;
        END IF;
    END IF;
END $$;

CREATE FUNCTION stats_ticket_count(t tickets, sign BIGINT) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    b TEXT;
    s BIGINT;
BEGIN
    IF t.state = 'opening' THEN
        RETURN;
    END IF;
    FOREACH b IN ARRAY CASE WHEN t.button_id IS NULL THEN ARRAY[''] ELSE ARRAY[t.button_id, ''] END
    LOOP
        PERFORM stats_add('opened', sign, t.guild_id, b, stats_day(t.opened_at), NULL, t.source, NULL);
        FOREACH s IN ARRAY ARRAY[1, 32]::bigint[] LOOP
            IF t.first_staff_reply_at IS NOT NULL THEN
                PERFORM stats_add('duration', sign, t.guild_id, b, stats_day(t.opened_at) / s * s,
                                  s, 'reply', stats_bucket(t.first_staff_reply_at - t.opened_at));
            END IF;
            IF t.closed_at IS NOT NULL THEN
                PERFORM stats_add('duration', sign, t.guild_id, b, stats_day(t.opened_at) / s * s,
                                  s, 'close', stats_bucket(t.closed_at - t.opened_at));
            END IF;
        END LOOP;
        IF t.closed_at IS NOT NULL AND t.closed_by IS NOT NULL AND t.closed_by <> t.user_id THEN
            PERFORM stats_add('closes', sign, t.guild_id, b, stats_day(t.closed_at), NULL, NULL,
                              t.closed_by);
        END IF;
    END LOOP;
END $$;

CREATE FUNCTION stats_tickets_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM stats_ticket_count(OLD, -1);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        PERFORM stats_ticket_count(NEW, 1);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION stats_claims_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    c ticket_claims;
    sign BIGINT;
    b TEXT;
BEGIN
    IF TG_OP = 'INSERT' THEN
        c := NEW;
        sign := 1;
    ELSE
        c := OLD;
        sign := -1;
    END IF;
    FOREACH b IN ARRAY CASE WHEN c.button_id IS NULL THEN ARRAY[''] ELSE ARRAY[c.button_id, ''] END
    LOOP
        PERFORM stats_add('claims', sign, c.guild_id, b, stats_day(c.at), NULL, NULL, c.user_id);
    END LOOP;
    RETURN NULL;
END $$;

-- The counts of the tickets and claims already there.
SELECT stats_ticket_count(t, 1) FROM tickets t;
INSERT INTO stats_handled (guild_id, button_id, day, user_id, claims, closes)
SELECT c.guild_id, b, stats_day(c.at), c.user_id, count(*), 0 FROM ticket_claims c
CROSS JOIN LATERAL unnest(CASE WHEN c.button_id IS NULL THEN ARRAY[''] ELSE ARRAY[c.button_id, ''] END) AS b
GROUP BY c.guild_id, b, stats_day(c.at), c.user_id
ON CONFLICT (guild_id, button_id, day, user_id) DO UPDATE SET claims = stats_handled.claims + excluded.claims;

CREATE TRIGGER stats_tickets_insert AFTER INSERT ON tickets
FOR EACH ROW EXECUTE FUNCTION stats_tickets_change();
CREATE TRIGGER stats_tickets_delete AFTER DELETE ON tickets
FOR EACH ROW EXECUTE FUNCTION stats_tickets_change();
CREATE TRIGGER stats_tickets_update
AFTER UPDATE OF user_id, button_id, source, state, opened_at, first_staff_reply_at, closed_at, closed_by
ON tickets FOR EACH ROW
WHEN (OLD.guild_id IS DISTINCT FROM NEW.guild_id OR OLD.user_id IS DISTINCT FROM NEW.user_id
      OR OLD.button_id IS DISTINCT FROM NEW.button_id OR OLD.source IS DISTINCT FROM NEW.source
      OR OLD.state IS DISTINCT FROM NEW.state OR OLD.opened_at IS DISTINCT FROM NEW.opened_at
      OR OLD.first_staff_reply_at IS DISTINCT FROM NEW.first_staff_reply_at
      OR OLD.closed_at IS DISTINCT FROM NEW.closed_at OR OLD.closed_by IS DISTINCT FROM NEW.closed_by)
EXECUTE FUNCTION stats_tickets_change();
CREATE TRIGGER stats_claims_insert AFTER INSERT ON ticket_claims
FOR EACH ROW EXECUTE FUNCTION stats_claims_change();
CREATE TRIGGER stats_claims_delete AFTER DELETE ON ticket_claims
FOR EACH ROW EXECUTE FUNCTION stats_claims_change();
