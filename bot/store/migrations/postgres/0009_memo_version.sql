-- What the API answers from memory (keys, panels, the limit facts of opens and refusals) is kept
-- until this counter moves. Triggers bump it on every change to the tables those answers read, so
-- commits elsewhere (the request log, the outboxes, sessions) no longer empty the memos.
CREATE TABLE memo_version (
    id BIGINT NOT NULL PRIMARY KEY CHECK (id = 1),
    n  BIGINT NOT NULL
);
INSERT INTO memo_version (id, n) VALUES (1, 0);

-- SQLite's triggers (one per table and event) as one PostgreSQL function, fired per row like
-- them. ChangeWatch reads the counter on each lookup (bot/store/changes.py).
CREATE FUNCTION memo_bump() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE memo_version SET n = n + 1;
    RETURN NULL;
END $$;

CREATE TRIGGER memo_servers AFTER INSERT OR UPDATE OR DELETE ON servers
FOR EACH ROW EXECUTE FUNCTION memo_bump();
CREATE TRIGGER memo_panels AFTER INSERT OR UPDATE OR DELETE ON panels
FOR EACH ROW EXECUTE FUNCTION memo_bump();
CREATE TRIGGER memo_buttons AFTER INSERT OR UPDATE OR DELETE ON buttons
FOR EACH ROW EXECUTE FUNCTION memo_bump();
CREATE TRIGGER memo_button_support_roles AFTER INSERT OR UPDATE OR DELETE ON button_support_roles
FOR EACH ROW EXECUTE FUNCTION memo_bump();
CREATE TRIGGER memo_questions AFTER INSERT OR UPDATE OR DELETE ON questions
FOR EACH ROW EXECUTE FUNCTION memo_bump();
CREATE TRIGGER memo_tickets AFTER INSERT OR UPDATE OR DELETE ON tickets
FOR EACH ROW EXECUTE FUNCTION memo_bump();
CREATE TRIGGER memo_api_keys AFTER INSERT OR UPDATE OR DELETE ON api_keys
FOR EACH ROW EXECUTE FUNCTION memo_bump();
CREATE TRIGGER memo_blacklist AFTER INSERT OR UPDATE OR DELETE ON blacklist
FOR EACH ROW EXECUTE FUNCTION memo_bump();
