-- Web Push. The server's VAPID key pair (one row: made by whichever server starts first, then
-- read by every server, so a cluster signs with one key) and the devices' push subscriptions:
-- each belongs to one session (a device) of one person; the browser's endpoint names it.
CREATE TABLE push_keys (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    private_key TEXT NOT NULL,
    public_key TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE push_subscriptions (
    endpoint TEXT PRIMARY KEY,
    person_id BIGINT NOT NULL,
    session_id BIGINT NOT NULL,
    p256dh TEXT NOT NULL,
    auth TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX push_subscriptions_person ON push_subscriptions (person_id);
CREATE INDEX push_subscriptions_session ON push_subscriptions (session_id);
