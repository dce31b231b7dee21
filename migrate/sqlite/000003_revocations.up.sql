-- Provider-reported revocations (lane9b): an installation uninstalled or
-- its tokens revoked (conversation ''), or one conversation of it where the
-- bot was blocked or removed. The installation itself is also marked
-- revoked (installations.revoked_at); this row keeps the provider's reason
-- for the dead letters of tasks still queued and for the console.
CREATE TABLE revocations (
    installation_id TEXT NOT NULL REFERENCES installations(id),
    conversation    TEXT NOT NULL DEFAULT '',
    reason          TEXT NOT NULL,
    event_id        TEXT NOT NULL DEFAULT '',
    revoked_at      TEXT NOT NULL,
    PRIMARY KEY (installation_id, conversation)
);
