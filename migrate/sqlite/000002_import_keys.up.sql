-- Import keys (switchboard import): every object an import created, by the
-- key of the source row it came from, so a rerun finds it (unchanged) instead
-- of creating it twice. digest covers the row's non-secret content.
CREATE TABLE import_keys (
    org_id     TEXT NOT NULL REFERENCES orgs(id),
    import_key TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('profile', 'installation', 'agent', 'binding')),
    object_id  TEXT NOT NULL,
    digest     TEXT NOT NULL,
    run_id     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (org_id, import_key)
);
CREATE INDEX import_keys_run ON import_keys(run_id);
