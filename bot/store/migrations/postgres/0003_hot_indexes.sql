-- Indexes that keep every hot statement's cost independent of a server's ticket history
-- (tests/test_store.py checks each statement's query plan; `make bench` times opens and
-- refusals with 1k, 100k and 1M tickets).

-- The limit facts of every open and refusal: a user's open tickets in order and their last open,
-- without visiting the server's other tickets. Replaces tickets_guild_user_state, whose leading
-- columns it shares.
CREATE INDEX tickets_guild_user_opened ON tickets (guild_id, user_id, opened_at);
DROP INDEX tickets_guild_user_state;
-- The user's open tickets without their closed ones (a regular's history grows too).
CREATE INDEX tickets_user_active ON tickets (guild_id, user_id, opened_at)
    WHERE state IN ('opening', 'open');

-- The sweep when a server arrives: only the tickets whose channel should exist.
CREATE INDEX tickets_guild_kept ON tickets (guild_id) WHERE state = 'open' OR archived = 1;

-- Start-up reconciliation: only the opens a crash interrupted (usually none).
CREATE INDEX tickets_opening ON tickets (ticket_id) WHERE state = 'opening';
DROP INDEX tickets_state;

-- A dashboard's page of a server's tickets by status, newest first.
CREATE INDEX tickets_guild_state_opened ON tickets (guild_id, state, opened_at);
