-- What the API answers from memory (keys, panels, the limit facts of opens and refusals) is kept
-- until this counter moves. Triggers bump it on every change to the tables those answers read, so
-- commits elsewhere (the request log, the outboxes, sessions) no longer empty the memos.
CREATE TABLE memo_version (
    id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
) STRICT;
INSERT INTO memo_version (id, n) VALUES (1, 0);

CREATE TRIGGER memo_servers_insert AFTER INSERT ON servers
BEGIN UPDATE memo_version SET n = n + 1; END;
CREATE TRIGGER memo_servers_update AFTER UPDATE ON servers
BEGIN UPDATE memo_version SET n = n + 1; END;
CREATE TRIGGER memo_servers_delete AFTER DELETE ON servers
BEGIN UPDATE memo_version SET n = n + 1; END;
CREATE TRIGGER memo_panels_insert AFTER INSERT ON panels
BEGIN UPDATE memo_version SET n = n + 1; END;
CREATE TRIGGER memo_panels_update AFTER UPDATE ON panels
BEGIN UPDATE memo_version SET n = n + 1; END;
CREATE TRIGGER memo_panels_delete AFTER DELETE ON panels
BEGIN UPDATE memo_version SET n = n + 1; END;
CREATE TRIGGER memo_buttons_insert AFTER INSERT ON buttons
BEGIN UPDATE memo_version SET n = n + 1; END;
CREATE TRIGGER memo_buttons_update AFTER UPDATE ON buttons
BEGIN UPDATE memo_version SET n = n + 1; END;
CREATE TRIGGER memo_buttons_delete AFTER DELETE ON buttons
BEGIN UPDATE memo_version SET n = n + 1; END;
CREATE TRIGGER memo_button_support_roles_insert AFTER INSERT ON button_support_roles
BEGIN UPDATE memo_version SET n = n + 1; END;
CREATE TRIGGER memo_button_support_roles_update AFTER UPDATE ON button_support_roles
BEGIN UPDATE memo_version SET n = n + 1; END;
CREATE TRIGGER memo_button_support_roles_delete AFTER DELETE ON button_support_roles
BEGIN UPDATE memo_version SET n = n + 1; END;
CREATE TRIGGER memo_questions_insert AFTER INSERT ON questions
BEGIN UPDATE memo_version SET n = n + 1; END;
CREATE TRIGGER memo_questions_update AFTER UPDATE ON questions
BEGIN UPDATE memo_version SET n = n + 1; END;
CREATE TRIGGER memo_questions_delete AFTER DELETE ON questions
BEGIN UPDATE memo_version SET n = n + 1; END;
CREATE TRIGGER memo_tickets_insert AFTER INSERT ON tickets
BEGIN UPDATE memo_version SET n = n + 1; END;
CREATE TRIGGER memo_tickets_update AFTER UPDATE ON tickets
BEGIN UPDATE memo_version SET n = n + 1; END;
CREATE TRIGGER memo_tickets_delete AFTER DELETE ON tickets
BEGIN UPDATE memo_version SET n = n + 1; END;
CREATE TRIGGER memo_api_keys_insert AFTER INSERT ON api_keys
BEGIN UPDATE memo_version SET n = n + 1; END;
CREATE TRIGGER memo_api_keys_update AFTER UPDATE ON api_keys
BEGIN UPDATE memo_version SET n = n + 1; END;
CREATE TRIGGER memo_api_keys_delete AFTER DELETE ON api_keys
BEGIN UPDATE memo_version SET n = n + 1; END;
CREATE TRIGGER memo_blacklist_insert AFTER INSERT ON blacklist
BEGIN UPDATE memo_version SET n = n + 1; END;
CREATE TRIGGER memo_blacklist_update AFTER UPDATE ON blacklist
BEGIN UPDATE memo_version SET n = n + 1; END;
CREATE TRIGGER memo_blacklist_delete AFTER DELETE ON blacklist
BEGIN UPDATE memo_version SET n = n + 1; END;
