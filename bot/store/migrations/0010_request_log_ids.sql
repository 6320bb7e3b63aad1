-- The dashboard's request log shows each request's X-Request-Id, so a developer can find the
-- request an integrator reports (and its line in the bot's log). NULL on rows logged before.
ALTER TABLE api_requests ADD COLUMN http_request_id TEXT;
